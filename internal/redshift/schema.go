package redshift

import (
	"fmt"
	"strings"
)

// Schema is a database schema as declared.
type Schema struct {
	Name  string
	Owner string
	// QuotaMB limits the schema's disk use (Redshift only); 0 means no quota.
	QuotaMB int64
	// Responsible names who answers for the data: a team, a person, an email. It is stored in
	// the schema's comment (see FormatComment) so any SQL client can read it.
	Responsible string
	Description string
}

// responsibleMarker introduces the responsible contact on the last line of a schema comment.
const responsibleMarker = "responsible: "

// FormatComment builds the comment sluice stores on a schema: the description, then — when a
// contact is set — a blank line and a last line "responsible: <contact>". The form is
// documented so reports and other tools can parse it:
//
//	Raw click events from the web tracker.
//
//	responsible: web-analytics@acme.example
func FormatComment(description, responsible string) string {
	switch {
	case responsible == "":
		return description
	case description == "":
		return responsibleMarker + responsible
	default:
		return description + "\n\n" + responsibleMarker + responsible
	}
}

// ParseComment splits a schema comment written by FormatComment. A comment without the marker
// line is all description, so schemas commented by hand read back unchanged.
func ParseComment(comment string) (description, responsible string) {
	lastNL := strings.LastIndex(comment, "\n")
	last := comment[lastNL+1:]
	if !strings.HasPrefix(last, responsibleMarker) {
		return comment, ""
	}
	responsible = strings.TrimPrefix(last, responsibleMarker)
	if lastNL < 0 {
		return "", responsible
	}
	return strings.TrimSuffix(comment[:lastNL], "\n"), responsible
}

// ValidateResponsible checks a contact can round-trip through the comment: one line.
func ValidateResponsible(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return fmt.Errorf("responsible must be one line (a team, person or email), got %q", s)
	}
	return nil
}

// CreateSchemaSQL returns the statements that create a schema with its owner, quota and comment.
func (d Dialect) CreateSchemaSQL(s Schema) []string {
	stmt := "CREATE SCHEMA " + QuoteIdent(s.Name)
	if s.Owner != "" {
		stmt += " AUTHORIZATION " + QuoteIdent(s.Owner)
	}
	if d == Redshift && s.QuotaMB > 0 {
		stmt += fmt.Sprintf(" QUOTA %d MB", s.QuotaMB)
	}
	out := []string{stmt}
	if c := FormatComment(s.Description, s.Responsible); c != "" {
		out = append(out, "COMMENT ON SCHEMA "+QuoteIdent(s.Name)+" IS "+d.QuoteLiteral(c))
	}
	return out
}

// AlterSchemaSQL returns the statements that turn schema cur into want: rename, owner, quota,
// comment — each only when it differs.
func (d Dialect) AlterSchemaSQL(cur, want Schema) []string {
	var out []string
	name := cur.Name
	if want.Name != cur.Name {
		out = append(out, "ALTER SCHEMA "+QuoteIdent(cur.Name)+" RENAME TO "+QuoteIdent(want.Name))
		name = want.Name
	}
	if want.Owner != "" && want.Owner != cur.Owner {
		out = append(out, "ALTER SCHEMA "+QuoteIdent(name)+" OWNER TO "+QuoteIdent(want.Owner))
	}
	if d == Redshift && want.QuotaMB != cur.QuotaMB {
		q := "UNLIMITED"
		if want.QuotaMB > 0 {
			q = fmt.Sprintf("%d MB", want.QuotaMB)
		}
		out = append(out, "ALTER SCHEMA "+QuoteIdent(name)+" QUOTA "+q)
	}
	wc, cc := FormatComment(want.Description, want.Responsible), FormatComment(cur.Description, cur.Responsible)
	if wc != cc {
		c := "NULL"
		if wc != "" {
			c = d.QuoteLiteral(wc)
		}
		out = append(out, "COMMENT ON SCHEMA "+QuoteIdent(name)+" IS "+c)
	}
	return out
}

// DropSchemaSQL drops a schema; without cascade the database refuses when it holds objects.
func (d Dialect) DropSchemaSQL(name string, cascade bool) string {
	stmt := "DROP SCHEMA " + QuoteIdent(name)
	if cascade {
		stmt += " CASCADE"
	}
	return stmt
}
