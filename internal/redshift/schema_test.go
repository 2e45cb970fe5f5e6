package redshift

import (
	"reflect"
	"testing"
)

func TestComment_RoundTrip(t *testing.T) {
	tests := []struct{ desc, resp, comment string }{
		{"", "", ""},
		{"Raw clicks.", "", "Raw clicks."},
		{"", "web@acme.example", "responsible: web@acme.example"},
		{"Raw clicks.", "web@acme.example", "Raw clicks.\n\nresponsible: web@acme.example"},
		{"Two\nlines.", "team data", "Two\nlines.\n\nresponsible: team data"},
	}
	for _, tt := range tests {
		c := FormatComment(tt.desc, tt.resp)
		if c != tt.comment {
			t.Errorf("FormatComment(%q, %q) = %q, want %q", tt.desc, tt.resp, c, tt.comment)
		}
		d, r := ParseComment(c)
		if d != tt.desc || r != tt.resp {
			t.Errorf("ParseComment(%q) = %q, %q; want %q, %q", c, d, r, tt.desc, tt.resp)
		}
	}
}

func TestParseComment_HandWritten(t *testing.T) {
	d, r := ParseComment("set up by hand\nresponsible: ops")
	if d != "set up by hand" || r != "ops" {
		t.Errorf("got %q, %q", d, r)
	}
	d, r = ParseComment("no marker here")
	if d != "no marker here" || r != "" {
		t.Errorf("got %q, %q", d, r)
	}
}

func TestValidateResponsible(t *testing.T) {
	if err := ValidateResponsible("data@acme.example"); err != nil {
		t.Error(err)
	}
	if err := ValidateResponsible("a\nb"); err == nil {
		t.Error("multi-line contact accepted")
	}
}

// Golden SQL for both dialects.
func TestSchemaSQL_Golden(t *testing.T) {
	s := Schema{Name: "clicks", Owner: "etl", QuotaMB: 2048, Responsible: "web@acme.example", Description: "It's raw."}
	pg := PostgreSQL.CreateSchemaSQL(s)
	wantPG := []string{
		`CREATE SCHEMA "clicks" AUTHORIZATION "etl"`,
		`COMMENT ON SCHEMA "clicks" IS 'It''s raw.

responsible: web@acme.example'`,
	}
	if !reflect.DeepEqual(pg, wantPG) {
		t.Errorf("PostgreSQL create:\n%q\nwant\n%q", pg, wantPG)
	}
	rs := Redshift.CreateSchemaSQL(s)
	if rs[0] != `CREATE SCHEMA "clicks" AUTHORIZATION "etl" QUOTA 2048 MB` {
		t.Errorf("Redshift create: %s", rs[0])
	}

	next := s
	next.Name, next.Owner, next.QuotaMB, next.Responsible, next.Description = "clicks_v2", "loader", 0, "", ""
	wantRS := []string{
		`ALTER SCHEMA "clicks" RENAME TO "clicks_v2"`,
		`ALTER SCHEMA "clicks_v2" OWNER TO "loader"`,
		`ALTER SCHEMA "clicks_v2" QUOTA UNLIMITED`,
		`COMMENT ON SCHEMA "clicks_v2" IS NULL`,
	}
	if got := Redshift.AlterSchemaSQL(s, next); !reflect.DeepEqual(got, wantRS) {
		t.Errorf("Redshift alter:\n%q\nwant\n%q", got, wantRS)
	}
	if got := PostgreSQL.AlterSchemaSQL(s, next); len(got) != 3 {
		t.Errorf("PostgreSQL alter has no QUOTA statement: %q", got)
	}
	if got := PostgreSQL.AlterSchemaSQL(s, s); len(got) != 0 {
		t.Errorf("no change, statements %q", got)
	}
	if got := Redshift.DropSchemaSQL(`we"ird`, true); got != `DROP SCHEMA "we""ird" CASCADE` {
		t.Errorf("drop: %s", got)
	}
}
