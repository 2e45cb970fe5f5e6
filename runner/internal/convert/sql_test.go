package convert

import (
	"slices"
	"testing"
)

func TestSplitSQL(t *testing.T) {
	for in, want := range map[string][]string{
		"DELETE FROM t; INSERT INTO t SELECT 1;":              {"DELETE FROM t", "INSERT INTO t SELECT 1"},
		"INSERT INTO t VALUES ('a;b'); SELECT \"x;y\" FROM t": {"INSERT INTO t VALUES ('a;b')", `SELECT "x;y" FROM t`},
		"-- first; still a comment\nSELECT 1;\n-- trailing":   {"-- first; still a comment\nSELECT 1"},
		" ; ;": nil,
	} {
		if got := SplitSQL(in); !slices.Equal(got, want) {
			t.Errorf("SplitSQL(%q) = %q, want %q", in, got, want)
		}
	}
}
