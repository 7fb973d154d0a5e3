// Package plan carries out a change to the host as a list of steps, each of
// which can describe itself, apply itself and undo itself. `--dry-run`
// prints the very plan that the apply would run ([Describe]); [Exec.Run]
// applies the steps in order and, when one fails, undoes every step that
// ran, newest first, then puts dlr's state back as it was.
//
// The steps dlr's commands are made of live here: the sysctl drop-in and
// fs.pipe-max-size ([Sysctl], [SysctlRemove]), the docker.service drop-in
// ([DropIn], [RemoveDropIn]), daemon.json ([WriteConfig]), the reload of
// dockerd with its verification ([Reload], one reload-and-verify for every
// command: [Exec.ReloadVerify] waits until a predicate on dockerd's /info
// holds), the log buffers and the watcher ([GrowBuffers], [StartWatcher],
// [StopWatcher]).
//
// # Nothing lost, nothing half-done
//
// Every step that changes a file records in dlr's state what it is about to
// do (a pending mark naming the operation and the step) before it does it:
// a run killed at any point leaves a state from which the next run finishes
// or undoes the job (see state.Pending). [Exec.Commit] clears the mark.
package plan
