package host

import (
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/engine"
)

func TestGPUReason(t *testing.T) {
	hc := func(f func(*engine.ContainerDetail)) engine.ContainerDetail {
		var d engine.ContainerDetail
		f(&d)
		return d
	}
	tests := []struct {
		name string
		d    engine.ContainerDetail
		want string
	}{
		{"plain", hc(func(d *engine.ContainerDetail) { d.HostConfig.Runtime = "runc" }), ""},
		{"--gpus all", hc(func(d *engine.ContainerDetail) {
			d.HostConfig.DeviceRequests = []engine.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}}
		}), "--gpus gpu"},
		{"--gpus with driver", hc(func(d *engine.ContainerDetail) {
			d.HostConfig.DeviceRequests = []engine.DeviceRequest{{Driver: "nvidia"}}
		}), "--gpus nvidia"},
		{"nvidia runtime", hc(func(d *engine.ContainerDetail) { d.HostConfig.Runtime = "nvidia" }), "runtime nvidia"},
		{"--device", hc(func(d *engine.ContainerDetail) {
			d.HostConfig.Devices = []engine.DeviceMapping{{PathOnHost: "/dev/fuse"}, {PathOnHost: "/dev/nvidia0", PathInContainer: "/dev/nvidia0"}}
		}), "device /dev/nvidia0"},
		{"bind mount", hc(func(d *engine.ContainerDetail) {
			d.Mounts = []engine.MountPoint{{Type: "bind", Source: "/dev/nvidiactl", Destination: "/dev/nvidiactl"}}
		}), "mount /dev/nvidiactl"},
		{"not a device", hc(func(d *engine.ContainerDetail) {
			d.Mounts = []engine.MountPoint{{Type: "bind", Source: "/srv/nvidia0", Destination: "/x"}}
		}), ""},
	}
	for _, tt := range tests {
		if got := GPUReason(tt.d); got != tt.want {
			t.Errorf("%s: GPUReason = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestGPUReportReason(t *testing.T) {
	r := GPUReport{CgroupDriver: "cgroupfs", Containers: []GPUUse{{"a", "runtime nvidia"}}}
	if r.AtRisk() || r.Reason() != "" {
		t.Errorf("cgroupfs is not at risk: %q", r.Reason())
	}
	r.CgroupDriver = "systemd"
	for i := 0; i < 7; i++ {
		r.Containers = append(r.Containers, GPUUse{"c", "device /dev/nvidia0"})
	}
	if got := r.Reason(); !r.AtRisk() || !strings.Contains(got, "8 running container(s)") || !strings.Contains(got, "and 3 more") {
		t.Errorf("Reason = %q", got)
	}
}
