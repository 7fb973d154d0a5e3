package daemonjson

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpus runs every real-world daemon.json in the directory named by
// DLR_CORPUS_DIR (CI sets it to ../shared/corpus/daemon-json; the files
// belong to other projects and are never copied here). Each file must either
// be merged, with all of checkMerged's properties, or be refused with a line
// and column. MANIFEST.tsv says which: files noted "valid JSON" without a
// duplicate key must merge.
func TestCorpus(t *testing.T) {
	dir := os.Getenv("DLR_CORPUS_DIR")
	if dir == "" {
		t.Skip("DLR_CORPUS_DIR is not set; skipping the real-world daemon.json corpus")
	}
	notes := readManifest(t, filepath.Join(dir, "MANIFEST.tsv"))
	files, _ := filepath.Glob(filepath.Join(dir, "*.json*"))
	if len(files) == 0 {
		t.Fatalf("no corpus files in %s", dir)
	}
	merged, refused := 0, 0
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			note, ok := notes[name]
			if !ok {
				t.Fatalf("%s is not in MANIFEST.tsv", name)
			}
			wantMerge := strings.Contains(note, "valid JSON") && !strings.Contains(note, "invalid JSON") &&
				!strings.Contains(note, "duplicate key")
			d, err := Parse(in)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Line == 0 {
					t.Fatalf("refused without a position: %v", err)
				}
				if wantMerge {
					t.Fatalf("refused a valid file: %v", err)
				}
				refused++
				t.Logf("refused: %s: %v", name, err)
				return
			}
			if !wantMerge {
				t.Fatalf("accepted a file the manifest calls invalid (%s)", note)
			}
			out, _, err := d.Set(LiveRestoreKey, []byte("true"))
			if err != nil {
				t.Fatal(err)
			}
			checkMerged(t, in, out)
			merged++
		})
	}
	t.Logf("corpus: %d merged, %d refused", merged, refused)
}

func readManifest(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	notes := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) >= 2 {
			notes[cols[0]] = cols[len(cols)-1]
		}
	}
	return notes
}
