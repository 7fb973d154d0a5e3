package rig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// cepkgFiles are the unit, maintainer scripts and control template of the
// docker-ce-like package (cepkg/README.md says where each comes from).
//
//go:embed cepkg
var cepkgFiles embed.FS

// CEDistro is the Docker CE-style distribution part of the package
// versions [CEPackage] builds ("5:29.7.1-1~debian.14~forky").
const CEDistro = "debian.14~forky"

// CEDebVersion is the package version [CEPackage] gives release version:
// Docker CE's form, epoch 5 and revision "1~debian.14~forky".
func CEDebVersion(version string) string { return "5:" + version + "-1~" + CEDistro }

// ForkyDockerRelease is the release of forky's docker.io, whose dockerd
// [CEPackage] also wraps as a docker-ce package: the starting point of a
// Docker CE upgrade day measured from a Debian-built 28.5.2.
const ForkyDockerRelease = "28.5.2"

// CEReleases are the releases [CEPackage] can build: forky's own and every
// pinned upstream one.
func CEReleases() []string {
	out := []string{ForkyDockerRelease}
	for _, r := range UpstreamReleases {
		out = append(out, r.Version)
	}
	return out
}

// CEPackage returns the path of a docker-ce-like .deb of Docker release
// version (one of [CEReleases]), building it first if the cache has none
// with a valid stamp. The package is named docker-ce, versioned as
// [CEDebVersion] says, and ships /usr/bin/dockerd and /usr/bin/docker-proxy
// (upstream's, built by [Upstream]; for [ForkyDockerRelease], the ones of
// forky's docker.io .deb, from [Debs]), moby's docker.service and
// docker.socket in /usr/lib/systemd/system, and maintainer scripts that do
// what debhelper generates for Docker CE's .deb: on configure, restart
// docker.service and docker.socket after an upgrade or a reinstall ($2 set),
// start them after a fresh install; stop them in prerm only on remove.
//
// The .deb is built with the host's `dpkg-deb --root-owner-group -Zgzip -z1
// --build` into <cache>/cepkg (<cache> as for [Rootfs]) and reused while
// its stamp (the embedded files, the binaries' checksums) is unchanged.
func CEPackage(ctx context.Context, version string) (string, error) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return "", fmt.Errorf("rig: docker-ce package: no dpkg-deb on $PATH: %w", err)
	}
	bins, upstream, err := ceBinaries(ctx, version)
	if err != nil {
		return "", err
	}
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "cepkg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	debVer := CEDebVersion(version)
	out := filepath.Join(dir, "docker-ce_"+strings.TrimPrefix(debVer, "5:")+"_"+debArch()+".deb")

	stamp, err := ceStamp(version, bins)
	if err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, version+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock, syscall.LOCK_EX); err != nil {
		return "", err
	}
	stampPath := out + ".stamp"
	if got, err := os.ReadFile(stampPath); err == nil && bytes.Equal(got, stamp) {
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}
	os.Remove(stampPath)

	tree, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	defer os.RemoveAll(tree)
	if err := os.Chmod(tree, 0o755); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	var size int64
	put := func(rel string, data []byte, mode os.FileMode) error {
		p := filepath.Join(tree, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		size += int64(len(data))
		return os.WriteFile(p, data, mode)
	}
	for name, src := range bins {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("rig: docker-ce package: %w", err)
		}
		if err := put("usr/bin/"+name, data, 0o755); err != nil {
			return "", fmt.Errorf("rig: docker-ce package: %w", err)
		}
	}
	for _, f := range []struct {
		src, dst string
		mode     os.FileMode
	}{
		{"docker.service", "usr/lib/systemd/system/docker.service", 0o644},
		{"docker.socket", "usr/lib/systemd/system/docker.socket", 0o644},
		{"postinst", "DEBIAN/postinst", 0o755},
		{"prerm", "DEBIAN/prerm", 0o755},
		{"postrm", "DEBIAN/postrm", 0o755},
	} {
		data, err := cepkgFiles.ReadFile("cepkg/" + f.src)
		if err != nil {
			return "", fmt.Errorf("rig: docker-ce package: %w", err)
		}
		if err := put(f.dst, data, f.mode); err != nil {
			return "", fmt.Errorf("rig: docker-ce package: %w", err)
		}
	}
	tmpl, err := cepkgFiles.ReadFile("cepkg/control.in")
	if err != nil {
		return "", fmt.Errorf("rig: docker-ce package: %w", err)
	}
	control := strings.NewReplacer("@VERSION@", debVer, "@ARCH@", debArch(),
		"@SIZE@", fmt.Sprint((size+1023)/1024), "@UPSTREAM@", upstream).Replace(string(tmpl))
	if err := put("DEBIAN/control", []byte(control), 0o644); err != nil {
		return "", fmt.Errorf("rig: docker-ce package: %w", err)
	}

	tmp := out + ".building"
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", tree, tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("rig: dpkg-deb --build (docker-ce %s): %w\n%s", debVer, err, tail(string(b), 10))
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	return out, writeFileAtomic(stampPath, stamp, 0o644)
}

// ceBinaries returns the host paths of dockerd and docker-proxy of release
// version, and a line saying where they come from.
func ceBinaries(ctx context.Context, version string) (map[string]string, string, error) {
	if version == ForkyDockerRelease {
		debs, err := Debs(ctx, "forky", "docker.io", "docker.io")
		if err != nil {
			return nil, "", err
		}
		cache, err := cacheDir()
		if err != nil {
			return nil, "", err
		}
		dir := filepath.Join(cache, "cepkg", "forky-docker.io")
		stamp := []byte(filepath.Base(debs[0]) + "\n")
		if got, err := os.ReadFile(dir + ".stamp"); err != nil || !bytes.Equal(got, stamp) {
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, "", fmt.Errorf("rig: %w", err)
			}
			if b, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], dir).CombinedOutput(); err != nil {
				return nil, "", fmt.Errorf("rig: dpkg-deb -x %s: %w\n%s", debs[0], err, b)
			}
			if err := writeFileAtomic(dir+".stamp", stamp, 0o644); err != nil {
				return nil, "", err
			}
		}
		return map[string]string{
			"dockerd":      filepath.Join(dir, "usr/sbin/dockerd"),
			"docker-proxy": filepath.Join(dir, "usr/sbin/docker-proxy"),
		}, "from Debian's " + filepath.Base(debs[0]), nil
	}
	rel, err := upstreamRelease(version)
	if err != nil {
		return nil, "", fmt.Errorf("rig: docker-ce package: %w (or %s, forky's)", err, ForkyDockerRelease)
	}
	dir, err := Upstream(ctx, version)
	if err != nil {
		return nil, "", err
	}
	return map[string]string{
		"dockerd":      filepath.Join(dir, "dockerd"),
		"docker-proxy": filepath.Join(dir, "docker-proxy"),
	}, version + " (" + UpstreamModule + "@" + rel.Module + ")", nil
}

// ceStamp is the content of a valid stamp of the package of version: the
// embedded files' and the binaries' checksums.
func ceStamp(version string, bins map[string]string) ([]byte, error) {
	h := sha256.New()
	err := fs.WalkDir(cepkgFiles, "cepkg", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := cepkgFiles.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	for _, name := range []string{"dockerd", "docker-proxy"} {
		f, err := os.Open(bins[name])
		if err != nil {
			return nil, fmt.Errorf("rig: docker-ce package: %w", err)
		}
		st, err := f.Stat()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("rig: %w", err)
		}
		// Size and mtime: the binaries are rebuilt only with a new stamp
		// of their own, and hashing 130 MB on every call costs a second.
		fmt.Fprintf(h, "%s %d %d\n", name, st.Size(), st.ModTime().UnixNano())
	}
	return fmt.Appendf(nil, "version=%s\ndeb=%s\nsha256=%s\n", version, CEDebVersion(version), hex.EncodeToString(h.Sum(nil))), nil
}

// debArch is the host's Debian architecture.
func debArch() string {
	if runtime.GOARCH == "arm" {
		return "armhf"
	}
	return runtime.GOARCH // amd64, arm64, ppc64le, s390x, riscv64 match
}
