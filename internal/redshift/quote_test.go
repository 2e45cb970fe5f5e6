package redshift

import (
	"errors"
	"strings"
	"testing"
)

func TestQuoteIdent(t *testing.T) {
	tests := map[string]string{
		"events":          `"events"`,
		"Events":          `"Events"`,
		"select":          `"select"`,
		`we"ird`:          `"we""ird"`,
		`""`:              `""""""`,
		"a; DROP TABLE x": `"a; DROP TABLE x"`,
		"ünïcødé 表":       `"ünïcødé 表"`,
		"nul\x00byte":     `"nulbyte"`,
	}
	for in, want := range tests {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := QuoteQualified("a.b", `c"d`); got != `"a.b"."c""d"` {
		t.Errorf("QuoteQualified = %s", got)
	}
	if got := QuoteIdentList([]string{"a", `b"`}); got != `"a", "b"""` {
		t.Errorf("QuoteIdentList = %s", got)
	}
}

func TestQuoteLiteral(t *testing.T) {
	tests := []struct {
		in     string
		pg, rs string
	}{
		{"plain", `'plain'`, `'plain'`},
		{"it's", `'it''s'`, `'it''s'`},
		{`back\slash`, `'back\slash'`, `'back\\slash'`},
		{`\'; DROP TABLE x; --`, `'\''; DROP TABLE x; --'`, `'\\''; DROP TABLE x; --'`},
		{"nul\x00", `'nul'`, `'nul'`},
	}
	for _, tt := range tests {
		if got := PostgreSQL.QuoteLiteral(tt.in); got != tt.pg {
			t.Errorf("PostgreSQL.QuoteLiteral(%q) = %s, want %s", tt.in, got, tt.pg)
		}
		if got := Redshift.QuoteLiteral(tt.in); got != tt.rs {
			t.Errorf("Redshift.QuoteLiteral(%q) = %s, want %s", tt.in, got, tt.rs)
		}
	}
}

func TestValidateIdent(t *testing.T) {
	ok := []string{"a", "select", `we"ird`, strings.Repeat("x", 63)}
	for _, n := range ok {
		if err := PostgreSQL.ValidateIdent(n); err != nil {
			t.Errorf("ValidateIdent(%q): %v", n, err)
		}
	}
	bad := []string{"", strings.Repeat("x", 64), "a\x00b", "\xff"}
	for _, n := range bad {
		if err := PostgreSQL.ValidateIdent(n); !errors.Is(err, ErrInvalidIdentifier) {
			t.Errorf("ValidateIdent(%q) = %v, want ErrInvalidIdentifier", n, err)
		}
	}
	if err := Redshift.ValidateIdent(strings.Repeat("x", 127)); err != nil {
		t.Errorf("Redshift allows 127 bytes: %v", err)
	}
	if err := Redshift.ValidateIdent(strings.Repeat("x", 128)); err == nil {
		t.Error("Redshift refuses 128 bytes")
	}
}

func TestDetectDialect(t *testing.T) {
	if d := DetectDialect("PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.77467"); d != Redshift {
		t.Errorf("Redshift version detected as %s", d)
	}
	if d := DetectDialect("PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu"); d != PostgreSQL {
		t.Errorf("PostgreSQL version detected as %s", d)
	}
}
