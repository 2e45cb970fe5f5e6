package mysql

import (
	"strings"
	"testing"
)

func TestQuoteLiteral_EscapesWhatMySQLReadsSpecially(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              "'plain'",
		"it's":               "'it''s'",
		`back\slash`:         `'back\\slash'`,
		"nul\x00ctrlz\x1a":   `'nul\0ctrlz\Z'`,
		"two\nlines\r":       `'two\nlines\r'`,
		`'; DROP TABLE x;--`: `'''; DROP TABLE x;--'`,
	} {
		if got := QuoteLiteral(in); got != want {
			t.Errorf("QuoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestQuoteIdent_DoublesQuotes(t *testing.T) {
	if got := QuoteIdent(`we"ird`); got != `"we""ird"` {
		t.Errorf("QuoteIdent = %s", got)
	}
}

func TestParse_KeepsThePasswordOutOfErrorsAndTheRedactedForm(t *testing.T) {
	s, err := Parse("mysql://etl:p%40ss%3A%2F%25%23%3F@db.example:3307/shop?tls=true&timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	if s.Password != "p@ss:/%#?" || s.cfg.Addr != "db.example:3307" || s.cfg.DBName != "shop" || s.cfg.TLSConfig != "true" {
		t.Errorf("parsed %+v", s.cfg)
	}
	if strings.Contains(s.Redacted, "p%40ss") || !strings.Contains(s.Redacted, "xxxxx") {
		t.Errorf("redacted %s", s.Redacted)
	}
	if d, _ := Parse("mariadb://u:pw@h/db"); d == nil || d.cfg.Addr != "h:3306" {
		t.Errorf("the default port: %+v", d)
	}
	for raw, want := range map[string]string{
		"mysql://u:secret@/db":            "no host",
		"mysql://u:secret@h":              "no database",
		"mysql://u:secret@h/db?sslmode=1": `unknown parameter "sslmode"`,
		"mysql://u:secret@h/db?tls=maybe": "tls=",
		"mysql://u:secret@h/db?timeout=x": "not a duration",
	} {
		_, err := Parse(raw)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q): %v, want %q and no password", raw, err, want)
		}
	}
}
