package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"io/fs"
	"path/filepath"

	"github.com/docker-liverestore/dlr/state"
)

// The files in dlr's state directory.
const (
	// ViewFile is the last view of the running containers (the watcher
	// rewrites it on every container start, stop or removal).
	ViewFile = "restore-view.json"
	// RecordsFile holds the last [KeepRecords] restores, oldest first.
	RecordsFile = "restores.json"
	KeepRecords = 10
)

// Store reads and writes the view and the records in dlr's state
// directory, each with one atomic replace.
type Store struct{ Dir string }

// SaveView writes the view (without fsync: a lost view after a power cut
// costs one restore check, and the boot that follows is no restore).
func (s Store) SaveView(v View) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return state.Store{Dir: s.Dir}.SaveFile(ViewFile, b)
}

// LoadView returns the last view, nil when there is none.
func (s Store) LoadView() (*View, error) {
	var v View
	ok, err := s.load(ViewFile, &v)
	if !ok {
		return nil, err
	}
	return &v, nil
}

// Records returns the kept restores, oldest first.
func (s Store) Records() ([]Record, error) {
	var rs []Record
	_, err := s.load(RecordsFile, &rs)
	return rs, err
}

// Last returns the newest restore, nil when there is none.
func (s Store) Last() (*Record, error) {
	rs, err := s.Records()
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[len(rs)-1], nil
}

// Add appends a record, keeping the newest KeepRecords. A file that does
// not parse is replaced (it is a history, not a configuration).
func (s Store) Add(r Record) error {
	rs, _ := s.Records()
	rs = append(rs, r)
	if len(rs) > KeepRecords {
		rs = rs[len(rs)-KeepRecords:]
	}
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return state.Store{Dir: s.Dir}.SaveFile(RecordsFile, append(b, '\n'))
}

func (s Store) load(name string, v any) (bool, error) {
	path := filepath.Join(s.Dir, name)
	b, err := atomicfile.ReadFile(path, atomicfile.MaxRead)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("reading %s: %w (remove it: it is rewritten at the next restore)", path, err)
	}
	return true, nil
}
