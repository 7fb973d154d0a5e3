package unit

import "strings"

// MergeEnvironment returns the variables systemd sets for a service's
// commands from its configuration: the Environment= assignments
// ("KEY=VALUE", as in [Unit].Environment, later ones winning), then each
// parsed EnvironmentFile= in order, each overriding what came before
// (systemd.exec(5)). Assignments without "=" or with an invalid name are
// skipped, as systemd skips them.
//
// Variables the service manager adds itself ($MAINPID, $USER, $HOME, ...)
// and PassEnvironment= are not included.
func MergeEnvironment(assignments []string, files ...map[string]string) map[string]string {
	env := map[string]string{}
	for _, a := range assignments {
		k, v, ok := strings.Cut(a, "=")
		if ok && validEnvName(k) {
			env[k] = v
		}
	}
	for _, f := range files {
		for k, v := range f {
			if validEnvName(k) {
				env[k] = v
			}
		}
	}
	return env
}
