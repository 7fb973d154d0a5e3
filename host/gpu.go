package host

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/docker-liverestore/dlr/engine"
)

// GPUWorkaround is what NVIDIA documents for containers that lose their
// GPUs on a daemon-reload under the systemd cgroup driver
// (NVIDIA/nvidia-container-toolkit#1227, NVIDIA/nvidia-docker#1730).
const GPUWorkaround = "NVIDIA's workaround: pass the /dev/nvidia* device nodes to the containers explicitly " +
	"(--device /dev/nvidiactl --device /dev/nvidia-uvm --device /dev/nvidia0 ...), or use " +
	`"exec-opts": ["native.cgroupdriver=cgroupfs"] in daemon.json; or stop the GPU containers first`

// GPUUse is a running container that holds GPU devices.
type GPUUse struct {
	Name string
	Why  string // "device request nvidia", "runtime nvidia", "device /dev/nvidia0"
}

// GPUReport is what a daemon-reload of systemd would put at risk: GPU
// containers under the systemd cgroup driver. systemd re-applies the
// device policy of each container's scope on a daemon-reload and drops
// the devices runc added behind its back, so the containers lose their
// GPUs ("Failed to initialize NVML").
type GPUReport struct {
	CgroupDriver string   // from /info: "systemd", "cgroupfs", "none"
	Containers   []GPUUse // only looked for under the systemd driver
}

// AtRisk reports whether a daemon-reload would cut containers off their
// GPUs.
func (r GPUReport) AtRisk() bool { return r.CgroupDriver == "systemd" && len(r.Containers) > 0 }

// Reason is a sentence naming the containers at risk ("" when none).
func (r GPUReport) Reason() string {
	if !r.AtRisk() {
		return ""
	}
	var names []string
	for i, c := range r.Containers {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(r.Containers)-5))
			break
		}
		names = append(names, c.Name+" ("+c.Why+")")
	}
	return fmt.Sprintf("%d running container(s) use GPU devices under the systemd cgroup driver: %s; "+
		"systemctl daemon-reload would cut them off their GPUs (NVIDIA/nvidia-container-toolkit#1227)",
		len(r.Containers), strings.Join(names, ", "))
}

// GPUReason says why a container counts as a GPU container, or "": a
// device request (--gpus), the nvidia runtime, or an NVIDIA device node
// (/dev/nvidia*) among its devices or mounts. Pure.
func GPUReason(d engine.ContainerDetail) string {
	if len(d.HostConfig.DeviceRequests) > 0 {
		r := d.HostConfig.DeviceRequests[0] // one is enough to count
		what := r.Driver
		for _, caps := range r.Capabilities {
			for _, c := range caps {
				if c == "gpu" && what == "" {
					what = "gpu"
				}
			}
		}
		if what == "" {
			what = "device request"
		}
		return "--gpus " + what
	}
	if rt := d.HostConfig.Runtime; rt == "nvidia" || strings.HasPrefix(rt, "nvidia-") {
		return "runtime " + rt
	}
	for _, dev := range d.HostConfig.Devices {
		if isNvidiaNode(dev.PathOnHost) {
			return "device " + dev.PathOnHost
		}
	}
	for _, m := range d.Mounts {
		if isNvidiaNode(m.Source) {
			return "mount " + m.Source
		}
	}
	return ""
}

func isNvidiaNode(p string) bool {
	return path.Dir(p) == "/dev" && strings.HasPrefix(path.Base(p), "nvidia")
}

// realGPUContainers asks dockerd for its cgroup driver and, under the
// systemd driver only, inspects every running container (a few at a time).
// Call only while dockerd runs.
func (e *Env) realGPUContainers(ctx context.Context, socket string) (GPUReport, error) {
	c := engineFor(socket)
	ctx, cancel := context.WithTimeout(ctx, e.T.List)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return GPUReport{}, err
	}
	rep := GPUReport{CgroupDriver: info.CgroupDriver}
	if info.CgroupDriver != "systemd" || info.ContainersRunning == 0 {
		return rep, nil
	}
	list, err := c.Containers(ctx)
	if err != nil {
		return rep, err
	}
	details, err := inspectAll(ctx, c, list)
	if err != nil {
		return rep, err
	}
	for _, d := range details {
		if d == nil || !d.State.Running {
			continue
		}
		if why := GPUReason(*d); why != "" {
			rep.Containers = append(rep.Containers, GPUUse{Name: strings.TrimPrefix(d.Name, "/"), Why: why})
		}
	}
	return rep, nil
}
