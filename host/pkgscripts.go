package host

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/docker-liverestore/dlr/guard"
)

// AptArchives is where apt keeps the .debs it downloaded (and has
// downloaded before DPkg::Pre-Install-Pkgs runs).
const AptArchives = "/var/cache/apt/archives"

// DpkgInfo is where dpkg keeps the installed packages' maintainer scripts.
const DpkgInfo = "/var/lib/dpkg/info"

// maxScript caps one maintainer script read (Debian's are a few KB).
const maxScript = 1 << 20

// debScriptNames are the maintainer scripts guard.ScriptRole reads.
var debScriptNames = []string{"preinst", "postinst", "prerm", "postrm"}

// PackageScripts reads what installing the package file runs, for
// guard.ScriptRole: the file's own postinst (.deb; `dpkg-deb
// --ctrl-tarfile`) or scriptlets (.rpm; `rpm -qp --scripts`). When the
// package is installed (installed true) an upgrade runs the installed
// package's prerm (%preun, %postun), not the file's: those are read from
// dpkg's database (DpkgInfo/NAME.prerm) or `rpm -q --scripts NAME`.
func (e *Env) PackageScripts(ctx context.Context, file, pkg string, installed bool) (guard.PkgScripts, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Version)
	defer cancel()
	switch filepath.Ext(file) {
	case ".deb":
		out, err := e.output(ctx, "dpkg-deb", "--ctrl-tarfile", file)
		if err != nil {
			return guard.PkgScripts{}, err
		}
		s, err := ParseControlTar(bytes.NewReader(out))
		if err != nil {
			return guard.PkgScripts{}, fmt.Errorf("%s: %w", file, err)
		}
		if installed {
			for _, n := range []string{"prerm", "postrm"} {
				delete(s.Scripts, n)
				if text, ok := e.installedDebScript(pkg, n); ok {
					s.Scripts[n] = text
				}
			}
		}
		return s, nil
	case ".rpm":
		out, err := e.output(ctx, "rpm", "-qp", "--nosignature", "--scripts", file)
		if err != nil {
			return guard.PkgScripts{}, err
		}
		s := guard.ParseRPMScripts(string(out))
		if installed {
			old, err := e.output(ctx, "rpm", "-q", "--scripts", pkg)
			if err != nil {
				return guard.PkgScripts{}, err
			}
			o := guard.ParseRPMScripts(string(old))
			for _, n := range []string{"preuninstall", "postuninstall"} {
				delete(s.Scripts, n)
				if text, ok := o.Scripts[n]; ok {
					s.Scripts[n] = text
				}
			}
		}
		return s, nil
	}
	return guard.PkgScripts{}, fmt.Errorf("%s: not a .deb or .rpm file", file)
}

// installedDebScript reads an installed package's maintainer script from
// dpkg's database (NAME.SCRIPT, or NAME:ARCH.SCRIPT for a multi-arch one).
func (e *Env) installedDebScript(pkg, script string) (string, bool) {
	names := []string{pkg + "." + script}
	if m, _ := filepath.Glob(e.Path(filepath.Join(DpkgInfo, pkg+":*."+script))); len(m) > 0 {
		names = append(names, filepath.Base(m[0]))
	}
	for _, n := range names {
		if b, err := ReadFile(e.Path(filepath.Join(DpkgInfo, n))); err == nil {
			return string(b), true
		}
	}
	return "", false
}

// AptArchive is the .deb apt downloaded for pkg at version
// (AptArchives/NAME_VERSION_ARCH.deb, an epoch's ":" written "%3a"), ""
// when apt has not downloaded it.
func (e *Env) AptArchive(pkg, version string) string {
	v := strings.ReplaceAll(version, ":", "%3a")
	m, _ := filepath.Glob(e.Path(filepath.Join(AptArchives, globQuote(pkg)+"_"+globQuote(v)+"_*.deb")))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

func globQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// ParseControlTar reads a .deb's control.tar (what `dpkg-deb
// --ctrl-tarfile` writes) and returns its maintainer scripts.
func ParseControlTar(r io.Reader) (guard.PkgScripts, error) {
	s := guard.PkgScripts{Format: "deb", Scripts: map[string]string{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return s, fmt.Errorf("reading its control.tar: %w", err)
		}
		name := path.Base(path.Clean(h.Name))
		if h.Typeflag != tar.TypeReg || !isDebScript(name) {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxScript+1))
		if err != nil {
			return s, fmt.Errorf("reading its %s: %w", name, err)
		}
		if len(b) > maxScript {
			return s, fmt.Errorf("its %s is over %d bytes", name, maxScript)
		}
		s.Scripts[name] = string(b)
	}
}

func isDebScript(name string) bool {
	for _, n := range debScriptNames {
		if n == name {
			return true
		}
	}
	return false
}

// output runs a package tool and returns its standard output.
func (e *Env) output(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := Output(ctx, maxToolOutput, name, args...)
	if err != nil {
		msg := stderrOf(err)
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return out, nil
}
