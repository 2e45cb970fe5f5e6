package verify

import (
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// Redshift has no row-to-text cast: the checksum query is built from the columns, quoted, with
// each value length-prefixed. Golden, since no Redshift runs here.
func TestRedshiftSumSQL_Golden(t *testing.T) {
	got := redshiftSumSQL(redshift.TableKey{Schema: "analytics", Name: `we"ird`}, []string{"id", "Url"})
	want := `SELECT count(*)::varchar, coalesce(sum(strtol(substring(md5(coalesce(len("id"::varchar(max))::varchar || ':' || "id"::varchar(max), 'N') || '|' || coalesce(len("Url"::varchar(max))::varchar || ':' || "Url"::varchar(max), 'N')), 1, 15), 16)::decimal(38,0)), 0)::varchar, ` +
		`coalesce(sum(strtol(substring(md5(coalesce(len("id"::varchar(max))::varchar || ':' || "id"::varchar(max), 'N') || '|' || coalesce(len("Url"::varchar(max))::varchar || ':' || "Url"::varchar(max), 'N')), 16, 15), 16)::decimal(38,0)), 0)::varchar ` +
		`FROM "analytics"."we""ird"`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := listSQL(redshift.Redshift); got != `SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pg_internal', 'pg_automv', 'pg_auto_copy', 'sluice') AND table_schema NOT LIKE 'pg_temp%' ORDER BY 1, 2` {
		t.Fatalf("listSQL = %s", got)
	}
}
