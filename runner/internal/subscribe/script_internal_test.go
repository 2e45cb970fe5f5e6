package subscribe

import (
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

func TestLexicallyComplete(t *testing.T) {
	for _, tc := range []struct {
		sql      string
		pg, rs   bool // complete as PostgreSQL, as Redshift reads it
		scenario string
	}{
		{"INSERT INTO t VALUES (1)", true, true, "plain"},
		{"INSERT INTO t VALUES ('it''s')", true, true, "doubled quote"},
		{"INSERT INTO t VALUES ('open", false, false, "unterminated string"},
		{`INSERT INTO t VALUES ('a\')`, true, false, `a backslash before the quote: literal in PostgreSQL, an escape in Redshift`},
		{`SELECT E'a\'`, false, false, "E-string whose quote is escaped runs on"},
		{`SELECT E'a\\'`, true, true, "E-string ending in an escaped backslash"},
		{`SELECT e'\''`, true, true, "lower-case e-string holding a quote"},
		{`SELECT "weird""name"`, true, true, "quoted identifier with a doubled quote"},
		{`SELECT "open`, false, false, "unterminated identifier"},
		{"SELECT 1 -- trailing comment", true, true, "line comment at the end"},
		{"SELECT 1 /* open", false, false, "unterminated block comment"},
		{"SELECT 1 /* a /* nested */ still */", true, true, "nested block comments"},
		{"SELECT 1 /* a /* nested */", false, false, "nested comment left open"},
		{"CREATE FUNCTION f() RETURNS int AS $$ SELECT ';' $$ LANGUAGE sql", true, true, "dollar quote"},
		{"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1", false, false, "unterminated dollar quote"},
		{"SELECT a$b$ FROM t", true, true, "a dollar inside an identifier is no quote"},
		{"UPDATE t SET n = $1", true, true, "a parameter is no quote"},
	} {
		if got := lexicallyComplete(tc.sql, redshift.PostgreSQL); got != tc.pg {
			t.Errorf("%s: lexicallyComplete(%q, postgresql) = %v, want %v", tc.scenario, tc.sql, got, tc.pg)
		}
		if got := lexicallyComplete(tc.sql, redshift.Redshift); got != tc.rs {
			t.Errorf("%s: lexicallyComplete(%q, redshift) = %v, want %v", tc.scenario, tc.sql, got, tc.rs)
		}
	}
}

func TestScriptable(t *testing.T) {
	rec := func(s string) record { return record{sequence: "1", data: []byte(s)} }
	for _, tc := range []struct {
		recs []record
		want bool
	}{
		{[]record{rec("INSERT INTO t VALUES (1)"), rec(`{"format":"sluice/change.v1","id":"a/0","sql":"DELETE FROM t"}`)}, true},
		{[]record{rec("INSERT INTO t VALUES (1)"), rec("COMMIT")}, false},
		{[]record{rec(`SELECT E'a\'`), rec(`'; DROP TABLE t; --`)}, false},
		{[]record{rec("INSERT INTO t VALUES (1)"), rec("{not json")}, false},
		{[]record{rec(`{"format":"sluice/load.v1","table":"app.t","files":["s3://b/k"],"file_format":"csv"}`)}, false},
	} {
		if _, got := scriptable(tc.recs, redshift.PostgreSQL); got != tc.want {
			t.Errorf("scriptable(%q…) = %v, want %v", tc.recs[0].data, got, tc.want)
		}
	}
}
