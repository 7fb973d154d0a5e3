package unit

import (
	"reflect"
	"testing"
)

func TestMergeEnvironment(t *testing.T) {
	tests := []struct {
		name        string
		assignments []string
		files       []map[string]string
		want        map[string]string
	}{
		{"nothing", nil, nil, map[string]string{}},
		{"assignments, later wins", []string{"A=1", "B=x=y", "A=2", "C="}, nil,
			map[string]string{"A": "2", "B": "x=y", "C": ""}},
		{"invalid assignments skipped", []string{"NOEQ", "1A=x", "A-B=x", "=x", "OK=1"}, nil,
			map[string]string{"OK": "1"}},
		{"files override assignments, in order",
			[]string{"A=env", "B=env", "C=env"},
			[]map[string]string{{"A": "file1", "B": "file1"}, {"B": "file2"}},
			map[string]string{"A": "file1", "B": "file2", "C": "env"}},
		{"invalid names from files skipped", nil, []map[string]string{{"A B": "x", "OK": ""}},
			map[string]string{"OK": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MergeEnvironment(tt.assignments, tt.files...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
