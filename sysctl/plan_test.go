package sysctl

import (
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	const (
		M      = 1 << 20
		want   = 16 * M
		dropIn = "/etc/sysctl.d/60-docker-liverestore.conf"
		vendor = "/usr/lib/sysctl.d/50-vendor.conf"
		admin  = "/etc/sysctl.d/99-admin.conf"
		legacy = "/etc/sysctl.conf"
	)
	mine := Setting{File: dropIn, Line: 2, Key: Key, Value: "16777216"}
	tests := []struct {
		name       string
		running    uint64
		configured []Setting
		dropIn     DropInAction
		apply      uint64 // ApplyValue; 0 means Apply is false
		boot       uint64
		winner     Setting
		conflict   bool
		reason     []string // substrings of Reason
	}{
		{
			name:    "nothing configured, kernel default running",
			running: 1 * M,
			dropIn:  DropInWrite, apply: want, boot: want, winner: mine,
			reason: []string{"dlr's drop-in " + dropIn + " sets fs.pipe-max-size = 16777216 (16 MiB)", "running value 1048576 (1 MiB) is raised to 16777216 (16 MiB) now"},
		},
		{
			name:    "running value higher is kept",
			running: 64 * M,
			dropIn:  DropInWrite, boot: want, winner: mine,
			reason: []string{"running value 67108864 (64 MiB) is higher and is kept until the next boot"},
		},
		{
			name:    "running value equal: nothing to apply",
			running: want,
			dropIn:  DropInWrite, boot: want, winner: mine,
		},
		{
			name:       "own drop-in with an older value is rewritten",
			running:    8 * M,
			configured: []Setting{set(dropIn, 2, Key, "8388608")},
			dropIn:     DropInWrite, apply: want, boot: want, winner: mine,
		},
		{
			name:       "own drop-in already right",
			running:    want,
			configured: []Setting{set(dropIn, 2, Key, "16777216")},
			dropIn:     DropInWrite, boot: want, winner: mine,
		},
		{
			name:       "earlier file lower: the drop-in overrides it",
			running:    8 * M,
			configured: []Setting{set(vendor, 3, Key, "8388608")},
			dropIn:     DropInWrite, apply: want, boot: want, winner: mine,
		},
		{
			name:       "earlier file higher: the drop-in would lower it",
			running:    1 * M,
			configured: []Setting{set(vendor, 3, Key, "33554432")},
			dropIn:     DropInLeave, apply: 32 * M, boot: 32 * M, winner: set(vendor, 3, Key, "33554432"),
			reason: []string{vendor + " line 3 already sets fs.pipe-max-size = 33554432, more than 16777216 (16 MiB)", "would lower it", "raised to 33554432 (32 MiB) now"},
		},
		{
			name:       "earlier file higher and own drop-in present: remove it",
			running:    32 * M,
			configured: []Setting{set(vendor, 3, Key, "33554432"), set(dropIn, 2, Key, "16777216")},
			dropIn:     DropInRemove, boot: 32 * M, winner: set(vendor, 3, Key, "33554432"),
		},
		{
			name:       "earlier file with the same value decides (systemd keeps the first)",
			running:    want,
			configured: []Setting{set(vendor, 3, Key, "16777216")},
			dropIn:     DropInLeave, boot: want, winner: set(vendor, 3, Key, "16777216"),
			reason: []string{vendor + " line 3 sets fs.pipe-max-size = 16777216, at least 16777216 (16 MiB), and decides the value at boot"},
		},
		{
			name:       "later file higher wins",
			running:    1 * M,
			configured: []Setting{set(admin, 7, Key, "67108864")},
			dropIn:     DropInLeave, apply: 64 * M, boot: 64 * M, winner: set(admin, 7, Key, "67108864"),
			reason: []string{admin + " line 7 sets fs.pipe-max-size = 67108864", "is not needed"},
		},
		{
			name:       "later file higher and own drop-in present: remove it",
			running:    64 * M,
			configured: []Setting{set(dropIn, 2, Key, "16777216"), set(admin, 7, Key, "67108864")},
			dropIn:     DropInRemove, boot: 64 * M, winner: set(admin, 7, Key, "67108864"),
		},
		{
			name:       "later file with the same value: the drop-in decides",
			running:    want,
			configured: []Setting{set(admin, 7, Key, "16777216")},
			dropIn:     DropInWrite, boot: want, winner: mine,
		},
		{
			name:       "later value is rounded up as the kernel does",
			running:    64 * M,
			configured: []Setting{set(admin, 7, Key, "20000000")},
			dropIn:     DropInLeave, boot: 32 * M, winner: set(admin, 7, Key, "20000000"),
			reason: []string{"running value 67108864 (64 MiB) is higher and is kept"},
		},
		{
			name:       "later value in hex",
			running:    want,
			configured: []Setting{set(admin, 7, Key, "0x4000000")},
			dropIn:     DropInLeave, boot: 64 * M, winner: set(admin, 7, Key, "0x4000000"),
		},
		{
			name:       "later file lower: conflict",
			running:    1 * M,
			configured: []Setting{set(dropIn, 2, Key, "16777216"), set(admin, 7, Key, "1048576")},
			dropIn:     DropInLeave, boot: 1 * M, winner: set(admin, 7, Key, "1048576"), conflict: true,
			reason: []string{admin + " line 7 sets fs.pipe-max-size = 1048576, which is applied after dlr's drop-in " + dropIn, "raise it to at least 16777216 or remove it"},
		},
		{
			name:       "/etc/sysctl.conf lower: conflict (read after every sysctl.d file)",
			running:    1 * M,
			configured: []Setting{set(legacy, 1, "fs/pipe-max-size", "1048576")},
			dropIn:     DropInLeave, boot: 1 * M, winner: set(legacy, 1, "fs/pipe-max-size", "1048576"), conflict: true,
			reason: []string{legacy + " line 1"},
		},
		{
			name:       "later exclusion: conflict",
			running:    1 * M,
			configured: []Setting{set(admin, 4, Key, "-")},
			dropIn:     DropInLeave, winner: set(admin, 4, Key, "-"), conflict: true,
			reason: []string{admin + ` line 4 excludes fs.pipe-max-size ("-fs.pipe-max-size")`, "remove that line"},
		},
		{
			name:       "earlier exclusion is overridden",
			running:    1 * M,
			configured: []Setting{set(vendor, 4, Key, "-")},
			dropIn:     DropInWrite, apply: want, boot: want, winner: mine,
		},
		{
			name:       "later value the kernel refuses: conflict",
			running:    1 * M,
			configured: []Setting{set(admin, 7, Key, "lots")},
			dropIn:     DropInLeave, winner: set(admin, 7, Key, "lots"), conflict: true,
			reason: []string{`= "lots", which the kernel refuses`},
		},
		{
			name:       "later value above 2^31: conflict",
			running:    1 * M,
			configured: []Setting{set(admin, 7, Key, "4294967296")},
			dropIn:     DropInLeave, winner: set(admin, 7, Key, "4294967296"), conflict: true,
		},
		{
			name:       "later lower glob is blocked by the drop-in's explicit key",
			running:    1 * M,
			configured: []Setting{set(admin, 1, "fs.*", "1048576")},
			dropIn:     DropInWrite, apply: want, boot: want, winner: mine,
		},
		{
			name:       "higher glob would be blocked by the drop-in: leave it",
			running:    64 * M,
			configured: []Setting{set(admin, 1, "fs.*", "67108864")},
			dropIn:     DropInLeave, boot: 64 * M, winner: set(admin, 1, "fs.*", "67108864"),
			reason: []string{"would lower it"},
		},
		{
			name:       "same-named lower-priority file that the drop-in shadows, lower",
			running:    1 * M,
			configured: []Setting{set("/usr/lib/sysctl.d/60-docker-liverestore.conf", 1, Key, "1048576")},
			dropIn:     DropInWrite, apply: want, boot: want, winner: mine,
		},
		{
			name:       "same-named lower-priority file that the drop-in would shadow, higher",
			running:    1 * M,
			configured: []Setting{set("/usr/lib/sysctl.d/60-docker-liverestore.conf", 1, Key, "67108864")},
			dropIn:     DropInLeave, apply: 64 * M, boot: 64 * M, winner: set("/usr/lib/sysctl.d/60-docker-liverestore.conf", 1, Key, "67108864"),
		},
		{
			name:    "earlier lower, own, later higher, then sysctl.conf lower: conflict on the last",
			running: 64 * M,
			configured: []Setting{
				set(vendor, 1, Key, "1048576"),
				set(dropIn, 2, Key, "16777216"),
				set(admin, 1, Key, "67108864"),
				set(legacy, 9, Key, "8388608"),
			},
			dropIn: DropInLeave, boot: 8 * M, winner: set(legacy, 9, Key, "8388608"), conflict: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := plan(want, tt.running, tt.configured, dropIn, 4096)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if d.Want != want || d.DropIn != tt.dropIn || d.Apply != (tt.apply != 0) || d.ApplyValue != tt.apply ||
				d.Boot != tt.boot || d.Winner != tt.winner || d.Conflict != tt.conflict {
				t.Errorf("plan =\n  %+v\nwant DropIn=%v Apply=%v ApplyValue=%d Boot=%d Conflict=%v Winner=%+v",
					d, tt.dropIn, tt.apply != 0, tt.apply, tt.boot, tt.conflict, tt.winner)
			}
			for _, r := range tt.reason {
				if !strings.Contains(d.Reason, r) {
					t.Errorf("Reason %q does not contain %q", d.Reason, r)
				}
			}
			if d.Reason == "" {
				t.Error("empty Reason")
			}
		})
	}
}

// TestPlanNeverLowers checks properties over every combination of an
// earlier file, dlr's own drop-in and a later file: carrying out a decision
// never lowers the running value, never leaves the boot value below what the
// other files give without dlr, gives at least want at boot unless there is
// a conflict, and changes nothing on a conflict. Decision.Boot is checked
// against the configuration the decision leaves behind.
func TestPlanNeverLowers(t *testing.T) {
	const (
		dropIn = "/etc/sysctl.d/60-docker-liverestore.conf"
		page   = 4096
	)
	key := normalizeKey(Key)
	values := []string{"", "4096", "1048576", "16777216", "33554432", "lots", "-"}
	files := []string{"/usr/lib/sysctl.d/10-a.conf", dropIn, "/etc/sysctl.d/99-z.conf"}
	for _, want := range []uint64{1 << 20, 16 << 20} {
		for _, running := range []uint64{4096, 1 << 20, 16 << 20, 64 << 20} {
			for _, a := range values {
				for _, b := range values {
					for _, c := range values {
						var configured, others []Setting
						for i, v := range []string{a, b, c} {
							if v == "" {
								continue
							}
							configured = append(configured, set(files[i], 1, Key, v))
							if files[i] != dropIn {
								others = append(others, configured[len(configured)-1])
							}
						}
						d, err := plan(want, running, configured, dropIn, page)
						if err != nil {
							t.Fatal(err)
						}
						if d.Apply && (d.ApplyValue < running || d.ApplyValue < want) {
							t.Errorf("want %d, running %d, %v: applies %d", want, running, configured, d.ApplyValue)
						}
						if d.Conflict {
							if d.DropIn != DropInLeave || d.Apply {
								t.Errorf("%v: conflict but changes planned: %+v", configured, d)
							}
							continue
						}

						// The configuration the decision leaves behind.
						var after []Setting
						for _, s := range configured {
							if s.File != dropIn {
								after = append(after, s)
							}
						}
						if d.DropIn == DropInWrite {
							after = nil
							for i, v := range []string{a, b, c} {
								switch {
								case files[i] == dropIn:
									after = append(after, parseConf(dropIn, Render(want))...)
								case v != "":
									after = append(after, set(files[i], 1, Key, v))
								}
							}
						}
						w, ok := effective(after, key)
						boot, _ := bootValue(w, ok, page)
						o, ok := effective(others, key)
						without, _ := bootValue(o, ok, page)
						if boot != d.Boot {
							t.Errorf("want %d, %v: decision %v leaves boot value %d, but Boot = %d", want, configured, d.DropIn, boot, d.Boot)
						}
						if boot < want || boot < without {
							t.Errorf("want %d, %v: decision %v leaves boot value %d (without dlr: %d)", want, configured, d.DropIn, boot, without)
						}
					}
				}
			}
		}
	}
}

func TestPlanRejectsBadWant(t *testing.T) {
	if _, err := Plan(3<<20, 0, nil, "/etc/sysctl.d/"+DropInName); err == nil || !strings.Contains(err.Error(), "power of two") {
		t.Errorf("Plan(3 MiB) error = %v; want a power-of-two error", err)
	}
}

func TestDropInActionString(t *testing.T) {
	for a, want := range map[DropInAction]string{DropInLeave: "leave", DropInWrite: "write", DropInRemove: "remove", 7: "DropInAction(7)"} {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(a), got, want)
		}
	}
}
