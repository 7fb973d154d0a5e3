package engine

import (
	"context"
	"errors"
	"time"
)

// Info is the part of GET /info that dlr reads.
type Info struct {
	ID                 string `json:"ID"`
	Name               string `json:"Name"` // the host name
	ServerVersion      string `json:"ServerVersion"`
	LiveRestoreEnabled bool   `json:"LiveRestoreEnabled"`
	DockerRootDir      string `json:"DockerRootDir"`
	Driver             string `json:"Driver"`        // storage driver, e.g. "overlay2"
	LoggingDriver      string `json:"LoggingDriver"` // default log driver, e.g. "json-file"
	CgroupDriver       string `json:"CgroupDriver"`  // "cgroupfs", "systemd" or "none"
	CgroupVersion      string `json:"CgroupVersion"` // "1" or "2"; empty before API 1.41
	Containers         int    `json:"Containers"`
	ContainersRunning  int    `json:"ContainersRunning"`
	Swarm              Swarm  `json:"Swarm"`
	// Settings a reload can change, read back to verify `dlr set`.
	Debug          bool           `json:"Debug"`
	Labels         []string       `json:"Labels"`
	DefaultRuntime string         `json:"DefaultRuntime"`
	RegistryConfig RegistryConfig `json:"RegistryConfig"`
	// SecurityOptions are e.g. "name=seccomp,profile=builtin",
	// "name=rootless" (a rootless dockerd).
	SecurityOptions []string `json:"SecurityOptions"`
	// FirewallBackend is nil before API 1.49 (Docker 28.1).
	FirewallBackend *FirewallInfo `json:"FirewallBackend"`
}

// FirewallInfo is the firewall part of GET /info (API 1.49 and later).
type FirewallInfo struct {
	// Driver is "iptables" or "nftables", with "+firewalld" when dockerd
	// works through firewalld.
	Driver string `json:"Driver"`
}

// RegistryConfig is the registry part of GET /info.
type RegistryConfig struct {
	Mirrors []string `json:"Mirrors"` // as dockerd normalised them, e.g. with a trailing "/"
}

// Swarm is the daemon's swarm membership, from GET /info.
type Swarm struct {
	NodeID string `json:"NodeID"`
	// LocalNodeState is "", "inactive", "pending", "active", "error" or
	// "locked".
	LocalNodeState   string `json:"LocalNodeState"`
	ControlAvailable bool   `json:"ControlAvailable"` // this node is a manager
	Error            string `json:"Error"`
}

// Container is one entry of GET /containers/json.
type Container struct {
	ID     string   `json:"Id"`
	Names  []string `json:"Names"` // with a leading "/", e.g. "/web"
	Image  string   `json:"Image"`
	State  string   `json:"State"`  // "running", "paused", ...
	Status string   `json:"Status"` // human-readable, e.g. "Up 3 hours"
	Ports  []Port   `json:"Ports"`
}

// Port is one port mapping of a container; PublicPort is 0 when the port is
// not published on the host.
type Port struct {
	PrivatePort int    `json:"PrivatePort"`
	PublicPort  int    `json:"PublicPort"`
	Type        string `json:"Type"`
}

// ContainerDetail is the part of GET /containers/{id}/json that dlr reads.
type ContainerDetail struct {
	ID         string         `json:"Id"`
	Name       string         `json:"Name"` // with a leading "/"
	State      ContainerState `json:"State"`
	HostConfig HostConfig     `json:"HostConfig"`
	Mounts     []MountPoint   `json:"Mounts"`
	// RestartCount is how many times dockerd restarted the container
	// (its restart policy); a restore keeps it.
	RestartCount    int             `json:"RestartCount"`
	LogPath         string          `json:"LogPath"` // the json-file log; "" for other drivers
	Config          ContainerConfig `json:"Config"`
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
}

// ContainerConfig is the part of a container's configuration dlr reads.
type ContainerConfig struct {
	Healthcheck *HealthConfig `json:"Healthcheck"` // nil: the image's, or none
}

// HealthConfig is a container's health check; durations in nanoseconds,
// 0 meaning Docker's default (30 s interval and timeout).
type HealthConfig struct {
	Test        []string `json:"Test"` // ["NONE"] disables the image's check
	Interval    int64    `json:"Interval"`
	Timeout     int64    `json:"Timeout"`
	StartPeriod int64    `json:"StartPeriod"`
}

// Health is a container's health state: its status and its last probes
// (Docker keeps five).
type Health struct {
	Status        string      `json:"Status"` // "starting", "healthy", "unhealthy"
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthLog is one probe.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
}

// NetworkSettings are a container's published ports and networks.
type NetworkSettings struct {
	// Ports maps "8080/tcp" to its host bindings (nil when not published).
	Ports    map[string][]PortBinding   `json:"Ports"`
	Networks map[string]EndpointSetting `json:"Networks"` // by network name
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"` // "0.0.0.0", "::", "127.0.0.1", or ""
	HostPort string `json:"HostPort"`
}

// EndpointSetting is a container's place on one network.
type EndpointSetting struct {
	NetworkID string `json:"NetworkID"`
	IPAddress string `json:"IPAddress"`
}

// LogDriver returns the container's log driver, e.g. "json-file".
func (d ContainerDetail) LogDriver() string { return d.HostConfig.LogConfig.Type }

// ContainerState is a container's process state.
type ContainerState struct {
	Status  string `json:"Status"` // "running", "exited", ...
	Running bool   `json:"Running"`
	Paused  bool   `json:"Paused"`
	Pid     int    `json:"Pid"` // 0 when not running
	// StartedAt is when the container's process started.
	StartedAt time.Time `json:"StartedAt"`
	Health    *Health   `json:"Health"` // nil without a health check
}

// HostConfig is the part of a container's host configuration dlr reads.
type HostConfig struct {
	RestartPolicy RestartPolicy `json:"RestartPolicy"`
	LogConfig     LogConfig     `json:"LogConfig"`
	// Runtime is the OCI runtime, e.g. "runc" or "nvidia".
	Runtime string `json:"Runtime"`
	// Devices are the host devices passed with --device.
	Devices []DeviceMapping `json:"Devices"`
	// DeviceRequests are --gpus requests (driver "nvidia", or capability
	// "gpu").
	DeviceRequests []DeviceRequest `json:"DeviceRequests"`
	// AutoRemove: started with --rm (removed when it exits).
	AutoRemove bool `json:"AutoRemove"`
	// ExtraHosts are the --add-host entries as stored ("name:ip", with
	// any whitespace the daemon that created it kept).
	ExtraHosts []string `json:"ExtraHosts"`
	// NetworkMode is "default", "bridge", "host", "none",
	// "container:ID" or a network's name.
	NetworkMode string `json:"NetworkMode"`
	// Mounts are the --mount specifications (not -v), with their volume
	// options.
	Mounts []MountSpec `json:"Mounts"`
}

// MountSpec is one --mount of a container's host configuration.
type MountSpec struct {
	Type          string         `json:"Type"`
	Source        string         `json:"Source"`
	Target        string         `json:"Target"`
	VolumeOptions *VolumeOptions `json:"VolumeOptions"`
}

// VolumeOptions are a --mount volume's options; DriverConfig.Options are
// the volume driver's (the local driver's type, device, o).
type VolumeOptions struct {
	DriverConfig *struct {
		Name    string            `json:"Name"`
		Options map[string]string `json:"Options"`
	} `json:"DriverConfig"`
}

// DeviceMapping is one --device of a container.
type DeviceMapping struct {
	PathOnHost      string `json:"PathOnHost"`
	PathInContainer string `json:"PathInContainer"`
}

// DeviceRequest is one --gpus (device request) of a container.
type DeviceRequest struct {
	Driver       string     `json:"Driver"`
	Count        int        `json:"Count"`
	DeviceIDs    []string   `json:"DeviceIDs"`
	Capabilities [][]string `json:"Capabilities"`
}

// MountPoint is one mount of a container (GET /containers/{id}/json).
type MountPoint struct {
	Type        string `json:"Type"`
	Name        string `json:"Name"`   // a volume's name
	Driver      string `json:"Driver"` // a volume's driver ("local")
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
}

// RestartPolicy is a container's restart policy.
type RestartPolicy struct {
	// Name is "", "no", "always", "unless-stopped" or "on-failure".
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// LogConfig is a container's log driver and its options.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// Network is the part of GET /networks/{name} that dlr reads.
type Network struct {
	ID      string            `json:"Id"`
	Name    string            `json:"Name"`
	Driver  string            `json:"Driver"`
	IPAM    IPAM              `json:"IPAM"`
	Options map[string]string `json:"Options"` // e.g. "com.docker.network.bridge.name": "docker0"
}

// IPAM is a network's address management.
type IPAM struct {
	Driver string       `json:"Driver"`
	Config []IPAMConfig `json:"Config"`
}

// IPAMConfig is one address pool of a network.
type IPAMConfig struct {
	Subnet  string `json:"Subnet"`  // e.g. "172.17.0.0/16"
	IPRange string `json:"IPRange"` // empty when the whole subnet is used
	Gateway string `json:"Gateway"` // e.g. "172.17.0.1"
}

// Ping checks that the daemon answers GET /_ping, and learns its API
// version for later calls. See the package documentation about socket
// activation before calling it.
func (c *Client) Ping(ctx context.Context) error {
	cl, cancel := c.begin(ctx)
	defer cancel()
	return c.ping(cl)
}

// Info returns the daemon's GET /info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	cl, cancel := c.begin(ctx)
	defer cancel()
	var info Info
	err := c.get(cl, "/info", true, &info)
	return info, err
}

// Version is GET /version: the daemon's version and its components'
// (containerd, runc, docker-init), as dockerd reports them.
type Version struct {
	Version    string      `json:"Version"`
	Components []Component `json:"Components"`
}

// Component is one part of the engine in GET /version.
type Component struct {
	Name    string `json:"Name"`
	Version string `json:"Version"`
}

// Component returns the version of the named component ("" if absent).
func (v Version) Component(name string) string {
	for _, c := range v.Components {
		if c.Name == name {
			return c.Version
		}
	}
	return ""
}

// Version returns the daemon's GET /version.
func (c *Client) Version(ctx context.Context) (Version, error) {
	cl, cancel := c.begin(ctx)
	defer cancel()
	var v Version
	err := c.get(cl, "/version", true, &v)
	return v, err
}

// Containers returns the running containers (GET /containers/json, which
// lists running ones only), in the daemon's order (newest first).
func (c *Client) Containers(ctx context.Context) ([]Container, error) {
	cl, cancel := c.begin(ctx)
	defer cancel()
	var list []Container
	if err := c.get(cl, "/containers/json", true, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// Inspect returns GET /containers/{id}/json for a container ID or name. An
// unknown container is a *StatusError with StatusCode 404.
func (c *Client) Inspect(ctx context.Context, id string) (ContainerDetail, error) {
	if id == "" {
		return ContainerDetail{}, errors.New("inspecting a container: empty container ID")
	}
	cl, cancel := c.begin(ctx)
	defer cancel()
	var d ContainerDetail
	err := c.get(cl, "/containers/"+pathEscape(id)+"/json", true, &d)
	return d, err
}

// Network returns GET /networks/{name} for a network name or ID, such as
// "bridge". An unknown network is a *StatusError with StatusCode 404.
func (c *Client) Network(ctx context.Context, name string) (Network, error) {
	if name == "" {
		return Network{}, errors.New("inspecting a network: empty network name")
	}
	cl, cancel := c.begin(ctx)
	defer cancel()
	var n Network
	err := c.get(cl, "/networks/"+pathEscape(name), true, &n)
	return n, err
}

// Pause freezes a container's processes (POST /containers/{id}/pause);
// Unpause thaws them. dlr uses the pair to re-arm the health monitor of a
// restored container on Docker before 23.0 (moby/moby#41871): the process
// is frozen for the time between the two calls and keeps its PID.
func (c *Client) Pause(ctx context.Context, id string) error {
	return c.post(ctx, id, "pause")
}

// Unpause thaws a paused container (POST /containers/{id}/unpause).
func (c *Client) Unpause(ctx context.Context, id string) error {
	return c.post(ctx, id, "unpause")
}

// post sends POST /containers/{id}/{verb} without a body and wants 2xx.
func (c *Client) post(ctx context.Context, id, verb string) error {
	if id == "" {
		return errors.New(verb + " a container: empty container ID")
	}
	cl, cancel := c.begin(ctx)
	defer cancel()
	v, err := c.apiVersion(cl)
	if err != nil {
		return err
	}
	path := "/containers/" + pathEscape(id) + "/" + verb
	if v != "" {
		path = "/v" + v + path
	}
	resp, _, err := c.sendMethod(cl, "POST", path)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
