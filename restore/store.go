package restore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	v.Version = state.ViewFormat
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return state.Store{Dir: s.Dir}.SaveFile(ViewFile, b)
}

// LoadView returns the last view, nil when there is none.
func (s Store) LoadView() (*View, error) {
	var v *View
	_, err := s.load(ViewFile, func(path string, b []byte) (err error) {
		v, err = decodeView(path, b)
		return err
	})
	return v, err
}

// Records returns the kept restores, oldest first.
func (s Store) Records() ([]Record, error) {
	var rs []Record
	_, err := s.load(RecordsFile, func(path string, b []byte) (err error) {
		rs, err = decodeRecords(path, b)
		return err
	})
	return rs, err
}

// decodeView decodes restore-view.json: any format up to
// state.ViewFormat (without a version: format 1).
func decodeView(path string, b []byte) (*View, error) {
	n, err := state.JSONVersion(path, b)
	if err == nil {
		err = state.CheckFormat(path, n, state.ViewFormat)
	}
	if err != nil {
		return nil, err
	}
	var v View
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	v.Version = n
	return &v, nil
}

// records is restores.json from format 2 on.
type records struct {
	Version  int      `json:"version"`
	Restores []Record `json:"restores"`
}

// decodeRecords decodes restores.json: format 1 (a bare array), or an
// object of any format up to state.RecordsFormat.
func decodeRecords(path string, b []byte) ([]Record, error) {
	var rs []Record
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		err := json.Unmarshal(b, &rs)
		return rs, err
	}
	n, err := state.JSONVersion(path, b)
	if err == nil {
		err = state.CheckFormat(path, n, state.RecordsFormat)
	}
	if err != nil {
		return nil, err
	}
	var f records
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return f.Restores, nil
}

// encodeRecords is restores.json's bytes, in state.RecordsFormat.
func encodeRecords(rs []Record) ([]byte, error) {
	if rs == nil {
		rs = []Record{}
	}
	b, err := json.MarshalIndent(records{Version: state.RecordsFormat, Restores: rs}, "", "  ")
	return append(b, '\n'), err
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
// not parse is replaced (it is a history, not a configuration); one in a
// newer format is left as it is, and Add returns its *state.FormatError.
func (s Store) Add(r Record) error {
	rs, err := s.Records()
	if fe := (*state.FormatError)(nil); errors.As(err, &fe) {
		return err
	}
	rs = append(rs, r)
	if len(rs) > KeepRecords {
		rs = rs[len(rs)-KeepRecords:]
	}
	b, err := encodeRecords(rs)
	if err != nil {
		return err
	}
	return state.Store{Dir: s.Dir}.SaveFile(RecordsFile, b)
}

// load reads the file name and decodes it; false when there is none.
func (s Store) load(name string, decode func(path string, b []byte) error) (bool, error) {
	path := filepath.Join(s.Dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := decode(path, b); err != nil {
		if fe := (*state.FormatError)(nil); errors.As(err, &fe) {
			return false, err
		}
		return false, fmt.Errorf("reading %s: %w (remove it: it is rewritten at the next restore)", path, err)
	}
	return true, nil
}
