// Package sysctl manages the kernel setting fs.pipe-max-size for dlr.
//
// dlr needs the pipe size limit raised so that the log pipes (FIFOs) of
// running containers can be made large enough to ride out a dockerd restart.
// It does so with one drop-in file, /etc/sysctl.d/[DropInName], holding
//
//	fs.pipe-max-size = N
//
// (N defaults to [DefaultPipeMaxSize], 16 MiB), and by writing N to
// /proc/sys/fs/pipe-max-size so that it takes effect at once.
//
// dlr must never lower the value the host would otherwise have. The package
// is split accordingly:
//
//   - [Configured] reads every sysctl configuration file the way
//     systemd-sysctl(8) does at boot (see sysctl.d(5)) and reports which file
//     and line decides the key, and every line that touches it.
//   - [Running] reads the live value from /proc/sys.
//   - [Plan] is pure: given the wanted value, the running value and the
//     configured settings, it decides whether to write the drop-in, whether to
//     write /proc/sys now, and which file wins when another one already sets a
//     value at least as high. It never plans to lower anything.
//   - [Render] returns the drop-in's bytes. This package never writes the
//     drop-in itself: the caller writes Render's output with dlr's atomic
//     file writer.
//   - [Apply] writes a value to /proc/sys and reads it back.
//
// Every host path is overridable: [Dirs].Root re-roots all configuration
// paths and the procSys argument of [Running] and [Apply] replaces
// /proc/sys, so tests run against a temporary directory.
package sysctl
