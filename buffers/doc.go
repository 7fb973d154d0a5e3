// Package buffers grows the log FIFOs of running Docker containers, so that
// a container keeps running, not blocked in write(2), while dockerd is down.
//
// # Why
//
// A container's stdout and stderr reach dockerd through named pipes (FIFOs)
// under <exec-root>/containerd/<container ID>/. While dockerd is stopped or
// restarting nobody reads them: once a FIFO holds 64 KiB (the kernel's
// default pipe size) the application blocks in write(2) until dockerd is
// back. Nothing in Docker or containerd calls fcntl(F_SETPIPE_SZ), so
// raising fs.pipe-max-size alone changes nothing; this package makes the
// call. A full FIFO stalls the writer, it never loses a line.
//
// # What is opened
//
// [Scan] lists the directories under <exec-root>/containerd and, in each,
// the entries named "*-stdout" or "*-stderr": "init-stdout" (Docker 20.10),
// "<container ID>-stdout" (Docker 23 and later) and "<exec ID>-stdout" for
// the exec sessions of a container. Only FIFOs are opened: an entry is
// checked with fstatat(AT_SYMLINK_NOFOLLOW) before it is opened, opened with
// O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC (which never blocks and never
// follows a symbolic link), and checked again with fstat (same inode, still
// a FIFO) before anything else is done with it. A container directory that
// is a symbolic link is refused too. Nothing is ever read from a FIFO: the
// descriptor is used for F_GETPIPE_SZ and F_SETPIPE_SZ and closed. The
// containerd shim keeps a read end of each FIFO open for the container's
// lifetime, so opening and closing one more does not change what dockerd or
// the shim see.
//
// # Sizes and the budget
//
// Sizes are powers of two from [MinSize] (64 KiB, the kernel's default) up.
// A FIFO is never shrunk. A full pipe buffer is kernel memory that cannot be
// swapped out, so the sum of the sizes of all streams (grown or not, stdout
// and stderr alike: any of them may fill during an outage) is kept within a
// budget, by default [DefaultBudget] of MemTotal (1/64 of RAM). When the
// budget does not allow every stream the target size, [Plan] gives every
// stream the same size, the largest power of two that fits ("the level"),
// and leaves larger streams as they are. [Grow] plans across every stream it
// finds, even when it is asked to grow the streams of some containers only,
// so that the watcher, which grows one container at a time, keeps to the
// same budget.
//
// The kernel refuses sizes above fs.pipe-max-size to processes without
// CAP_SYS_RESOURCE; root has it, so callers must keep the target within
// fs.pipe-max-size themselves (dlr does: the sysctl is the configured size).
// The kernel also refuses to grow a pipe once its owner's pipes (the FIFOs
// are root's, all containers together) hold more than
// fs.pipe-user-pages-soft (16384 pages, 64 MiB) or -hard, unless the caller
// has CAP_SYS_RESOURCE or CAP_SYS_ADMIN: a process doing this needs
// CAP_SYS_RESOURCE (seen: EPERM from the fifth 16 MiB FIFO without it).
//
// A pipe's size lives as long as the pipe: when the container (or exec
// session) ends, its FIFOs go away with their size; a new container gets
// new 64 KiB FIFOs, which is why dlr's watcher grows each new one.
package buffers
