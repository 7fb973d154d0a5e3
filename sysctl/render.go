package sysctl

import "fmt"

// Key is the sysctl dlr manages.
const Key = "fs.pipe-max-size"

// DropInName is the file name of dlr's drop-in in /etc/sysctl.d.
//
// sysctl.d files are applied in file-name order across all directories, and
// the last assignment wins. 60 sorts after the 50-*.conf files that systemd
// and distributions ship as defaults, so a vendor default below dlr's value
// does not undo it, and before the 90-*/99-*.conf files administrators
// conventionally use (Debian's 99-sysctl.conf is /etc/sysctl.conf), so an
// administrator's own setting overrides dlr's. [Plan] makes both orders safe:
// it does not write the drop-in when an earlier file already sets a higher
// value, and it reports a later file that would override the drop-in with a
// lower one.
const DropInName = "60-docker-liverestore.conf"

// Render returns the content of dlr's drop-in for fs.pipe-max-size = n: a
// comment naming dlr and how to remove the file, then the assignment. The
// output depends only on n. Render does not validate n; see
// [ValidatePipeMaxSize].
func Render(n uint64) []byte {
	return fmt.Appendf(nil, "# Managed by docker-liverestore/dlr. Remove it with `dlr disable`; edits here are overwritten.\n%s = %d\n", Key, n)
}
