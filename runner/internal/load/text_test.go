package load_test

import (
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Delimited text (format text) loads the same rows into PostgreSQL and MySQL: a TSV with
// escapes and quotes, gzipped, with its own NULL.
const tsvWithEscapes = "1\t/a\\\tb\t10\t2026-11-01\n2\t\"/quoted\"\tNULL\tNULL\n"

var textActivity = definition.RedshiftCopyActivity{Format: definition.FormatText, InsertMode: definition.InsertTruncate,
	Options: []string{"DELIMITER '\t'", "ESCAPE", "REMOVEQUOTES", "NULL AS 'NULL'", "GZIP"}}

func TestExecute_TextLoadsTSVWithEscapesAndQuotesIntoPostgreSQL(t *testing.T) {
	e := newEnv(t, []string{"warehouse"}, nil)
	e.put(e.dir+"day.tsv", gz(t, tsvWithEscapes))
	a := textActivity
	a.Connection, a.Table, a.From = "warehouse", "web.page_views", e.dir+"day.tsv"
	e.mustRun(&a)
	wantRows(t, e, "warehouse", "1|/a\tb|10|2026-11-01\n2|/quoted|∅|∅")
}

func TestExecuteMySQL_TextLoadsTheSameRows(t *testing.T) {
	m := newMyEnv(t)
	m.put(m.dir+"day.tsv", gz(t, tsvWithEscapes))
	a := textActivity
	a.Connection, a.Table, a.From = "shop", m.table, m.dir+"day.tsv"
	m.mustRun(&a)
	if got, want := m.rows(), "1|/a\tb|10|2026-11-01\n2|/quoted|∅|∅"; got != want {
		t.Fatalf("rows\n%q\nwant\n%q", got, want)
	}
}

func TestExecute_DynamoDBSourceIntoPostgreSQLIsRefusedByName(t *testing.T) {
	e := newEnv(t, []string{"warehouse"}, nil)
	_, _, err := e.run(&definition.RedshiftCopyActivity{Connection: "warehouse", Table: "web.page_views", From: "dynamodb://Profiles",
		Format: definition.FormatCSV, InsertMode: definition.InsertTruncate, Options: []string{"READRATIO 50"}})
	wantErr(t, err, true, "DynamoDB tables load into Redshift connections only", "warehouse")
}
