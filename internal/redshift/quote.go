// Package redshift manages Redshift (and, for local development, PostgreSQL) databases as code:
// connections, the SQL dialects, quoting, catalog reads and DDL for schemas, tables, users,
// groups and grants. Every identifier and literal that reaches SQL goes through QuoteIdent and
// Dialect.QuoteLiteral; nothing is concatenated unquoted.
package redshift

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Dialect is the SQL dialect of the connected database, detected from SELECT version().
type Dialect int

// Dialects.
const (
	PostgreSQL Dialect = iota
	Redshift
)

func (d Dialect) String() string {
	if d == Redshift {
		return "redshift"
	}
	return "postgresql"
}

// DetectDialect reads the output of SELECT version(): Redshift reports a PostgreSQL 8.0.2
// version string that also names Redshift.
func DetectDialect(version string) Dialect {
	if strings.Contains(strings.ToLower(version), "redshift") {
		return Redshift
	}
	return PostgreSQL
}

// MaxIdentBytes is the longest identifier each dialect keeps: PostgreSQL truncates at 63 bytes
// (NAMEDATALEN-1), Redshift at 127. Longer names are refused rather than silently truncated,
// which would make read-back differ from the configuration forever.
func (d Dialect) MaxIdentBytes() int {
	if d == Redshift {
		return 127
	}
	return 63
}

// ErrInvalidIdentifier is wrapped by every identifier refusal.
var ErrInvalidIdentifier = errors.New("invalid identifier")

// ValidateIdent checks that a name can be a quoted identifier in the dialect: not empty, valid
// UTF-8, no NUL byte, within the length limit.
func (d Dialect) ValidateIdent(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidIdentifier)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidIdentifier, name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidIdentifier, name)
	case len(name) > d.MaxIdentBytes():
		return fmt.Errorf("%w: %q is %d bytes, %s allows at most %d", ErrInvalidIdentifier, name, len(name), d, d.MaxIdentBytes())
	}
	return nil
}

// QuoteIdent quotes an identifier: always double-quoted, embedded double quotes doubled, so any
// name — reserved words, capitals, quotes, semicolons, unicode — means exactly itself. Names must
// have passed ValidateIdent; a NUL byte is dropped here defensively (it cannot reach SQL).
func QuoteIdent(name string) string {
	name = strings.ReplaceAll(name, "\x00", "")
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteQualified quotes schema.name.
func QuoteQualified(schema, name string) string {
	return QuoteIdent(schema) + "." + QuoteIdent(name)
}

// QuoteLiteral quotes a string literal. Single quotes are doubled in both dialects. PostgreSQL
// (standard_conforming_strings on, the default since 9.1 and checked at connect) treats
// backslashes literally; Redshift treats a backslash as an escape, so it is doubled there.
func (d Dialect) QuoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, `'`, `''`)
	if d == Redshift {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return `'` + s + `'`
}

// QuoteIdentList quotes and joins names with ", ".
func QuoteIdentList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}
