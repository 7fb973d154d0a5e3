package sysctl

import (
	"fmt"
	"os"
	"path/filepath"
)

// DropInAction says what to do with dlr's drop-in file.
type DropInAction int

const (
	// DropInLeave: leave the drop-in as it is; if it is absent, it stays
	// absent.
	DropInLeave DropInAction = iota
	// DropInWrite: write Render(Decision.Want) to the drop-in path (the
	// caller's writer may skip the write when the file already holds exactly
	// those bytes).
	DropInWrite
	// DropInRemove: the drop-in exists but is not wanted, because another
	// file decides the value and it is at least Decision.Want, or because
	// the drop-in would override a higher value. Removing it leaves
	// Decision.Winner in charge.
	DropInRemove
)

// String returns "leave", "write" or "remove".
func (a DropInAction) String() string {
	switch a {
	case DropInLeave:
		return "leave"
	case DropInWrite:
		return "write"
	case DropInRemove:
		return "remove"
	}
	return fmt.Sprintf("DropInAction(%d)", int(a))
}

// Decision is the outcome of [Plan].
type Decision struct {
	// Want is the value dlr asked for.
	Want uint64
	// DropIn says what to do with the drop-in file.
	DropIn DropInAction
	// Apply is set when ApplyValue should be written to /proc/sys now
	// (with [Apply]): the running value is below Want and nothing
	// conflicts.
	Apply bool
	// ApplyValue is the value to write when Apply is set: the value the
	// configuration gives at boot once the decision is carried out, which is
	// at least Want. It is 0 when Apply is not set.
	ApplyValue uint64
	// Boot is the value fs.pipe-max-size gets at boot once the decision is
	// carried out, as the kernel stores it (rounded up to a power of two).
	// It is 0 when no file sets the key (the kernel default stays) or when
	// the winning value is one the kernel refuses.
	Boot uint64
	// Winner is the setting that decides the value at boot once the
	// decision is carried out: dlr's drop-in when DropIn is DropInWrite,
	// another file's line otherwise. It is the zero Setting when no line
	// sets the key. On a conflict it is the line at fault, which may be an
	// exclusion.
	Winner Setting
	// Conflict is set when a line applied after dlr's drop-in would
	// override it at boot with a lower value, with a value the kernel
	// refuses, or by excluding the key. Nothing is to be changed then:
	// DropIn is DropInLeave and Apply is false; Reason says which line to
	// fix.
	Conflict bool
	// Reason explains the decision in one sentence, naming files and lines.
	Reason string
}

// Plan decides how to get fs.pipe-max-size to at least want, without ever
// lowering it, now or at boot. running is the current value ([Running]);
// configured is every line that concerns the key, in application order, as
// [Configured] returns it (it may include lines of dlr's own drop-in at
// dropInPath, which Plan disregards since the drop-in is rewritten). want
// must pass [ValidatePipeMaxSize]; otherwise Plan returns that error.
//
// Plan places a drop-in holding want among the configured files by file
// name, as systemd-sysctl would read it (a same-named file in a lower
// directory is shadowed by it), and finds the winner:
//
//   - The drop-in wins, and no other line gives a higher value: write it.
//   - The drop-in wins, but without it another line gives a higher value
//     (an earlier file, or a glob the drop-in's explicit key would block):
//     writing it would lower the value, so do not; remove an existing one.
//   - Another line wins with a value of at least want (a later file, or an
//     earlier one with the very same value, which systemd-sysctl keeps): the
//     drop-in is not needed; remove an existing one. Winner names that line.
//   - A later line wins with a lower or unusable value, or excludes the key:
//     Conflict; change nothing.
//
// Apply is set when running is below want and there is no conflict; a
// running value at or above want is always kept, even when it is higher than
// the value at boot.
//
// "Never lower" protects what other files and the running kernel hold. dlr's
// own drop-in is rewritten with want even when it held more (a user asking
// dlr for less gets less at the next boot); the running value is still kept.
func Plan(want uint64, running uint64, configured []Setting, dropInPath string) (Decision, error) {
	return plan(want, running, configured, dropInPath, uint64(os.Getpagesize()))
}

func plan(want, running uint64, configured []Setting, dropInPath string, page uint64) (Decision, error) {
	if err := validatePipeMaxSize(want, page); err != nil {
		return Decision{}, err
	}
	d := Decision{Want: want}
	key := normalizeKey(Key)
	mine := parseConf(dropInPath, Render(want))[0]
	name := filepath.Base(dropInPath)

	var others, simulated []Setting
	placed := false
	hadDropIn := false
	for _, s := range configured {
		if s.File == dropInPath {
			hadDropIn = true
			continue
		}
		others = append(others, s)
		base := filepath.Base(s.File)
		if base == name {
			continue // shadowed by the drop-in once it is written
		}
		if !placed && base > name {
			simulated = append(simulated, mine)
			placed = true
		}
		simulated = append(simulated, s)
	}
	if !placed {
		simulated = append(simulated, mine)
	}
	without, withoutOK := effective(others, key)
	withoutValue, withoutUsable := bootValue(without, withoutOK, page)
	with, withOK := effective(simulated, key)

	removeOrLeave := DropInLeave
	if hadDropIn {
		removeOrLeave = DropInRemove
	}
	switch withValue, withUsable := bootValue(with, withOK, page); {
	case withOK && with == mine && withoutUsable && withoutValue > want:
		d.DropIn = removeOrLeave
		d.Winner, d.Boot = without, withoutValue
		d.Reason = fmt.Sprintf("%s already sets %s = %s, more than %s; dlr's drop-in %s is not needed and would lower it",
			where(without), Key, without.Value, describe(want), dropInPath)
	case withOK && with == mine:
		d.DropIn = DropInWrite
		d.Winner, d.Boot = mine, want
		d.Reason = fmt.Sprintf("dlr's drop-in %s sets %s = %s", dropInPath, Key, describe(want))
	case withUsable && withValue >= want:
		d.DropIn = removeOrLeave
		d.Winner, d.Boot = with, withValue
		d.Reason = fmt.Sprintf("%s sets %s = %s, at least %s, and decides the value at boot; dlr's drop-in %s is not needed",
			where(with), Key, with.Value, describe(want), dropInPath)
	default:
		d.Conflict = true
		d.Winner, d.Boot = with, withValue
		d.Reason = conflictReason(with, withOK, withUsable, want, dropInPath)
		return d, nil
	}

	switch {
	case running < want:
		d.Apply, d.ApplyValue = true, d.Boot
		d.Reason += fmt.Sprintf("; the running value %s is raised to %s now", describe(running), describe(d.Boot))
	case running > d.Boot:
		d.Reason += fmt.Sprintf("; the running value %s is higher and is kept until the next boot", describe(running))
	}
	return d, nil
}

// bootValue returns the value the kernel stores for the winning setting.
func bootValue(s Setting, ok bool, page uint64) (uint64, bool) {
	if !ok {
		return 0, false
	}
	v, ok := parseKernelValue(s.Value)
	if !ok {
		return 0, false
	}
	return kernelRound(v, page)
}

// conflictReason says which line keeps dlr's drop-in from deciding the
// value at boot, and what to do about it.
func conflictReason(with Setting, withOK, withUsable bool, want uint64, dropInPath string) string {
	fix := fmt.Sprintf("raise it to at least %d or remove it", want)
	switch {
	case withOK && withUsable:
		return fmt.Sprintf("%s sets %s = %s, which is applied after dlr's drop-in %s and would lower the value to below %s at boot; %s",
			where(with), Key, with.Value, dropInPath, describe(want), fix)
	case withOK:
		return fmt.Sprintf("%s sets %s = %q, which the kernel refuses, after dlr's drop-in %s, so the kernel default would stay at boot; %s",
			where(with), Key, with.Value, dropInPath, fix)
	}
	if with.Exclude {
		return fmt.Sprintf("%s excludes %s (%q) after dlr's drop-in %s, so nothing would set it at boot; remove that line",
			where(with), Key, "-"+with.Key, dropInPath)
	}
	return fmt.Sprintf("nothing would set %s at boot despite dlr's drop-in %s", Key, dropInPath)
}

// where names a line for messages: "/etc/sysctl.d/99-x.conf line 3".
func where(s Setting) string {
	return fmt.Sprintf("%s line %d", s.File, s.Line)
}
