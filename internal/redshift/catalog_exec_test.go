package redshift

import (
	"context"
	"reflect"
	"testing"
)

// autocommitMark tags statements fakeExec ran through Exec, outside a transaction.
const autocommitMark = "-- autocommit"

func TestNeedsAutocommit(t *testing.T) {
	tests := map[string]bool{
		`ALTER TABLE "s"."t" ALTER COLUMN "c" TYPE varchar(512)`:   true,
		`ALTER TABLE "s"."t" ALTER COLUMN "c" ENCODE zstd`:         true,
		`ALTER TABLE "s"."t" ALTER DISTKEY "c"`:                    true,
		`ALTER TABLE "s"."t" ALTER DISTSTYLE EVEN`:                 true,
		`ALTER TABLE "s"."t" ALTER SORTKEY ("a", "b")`:             true,
		`ALTER TABLE "s"."t" ADD COLUMN "type" int`:                false,
		`ALTER TABLE "s"."t" ALTER COLUMN "x" SET DEFAULT 'TYPE '`: false,
		`ALTER TABLE "ALTER COLUMN c TYPE"."t" RENAME TO "u"`:      false,
		`COMMENT ON COLUMN "s"."t"."c" IS ' ALTER COLUMN TYPE '`:   false,
		`CREATE TABLE "s"."t" ("c" int)`:                           false,
	}
	for stmt, want := range tests {
		if got := needsAutocommit(stmt); got != want {
			t.Errorf("needsAutocommit(%s) = %v, want %v", stmt, got, want)
		}
	}
}

// On Redshift the statements it refuses in a transaction run alone, in order, between
// transactions holding the others; on PostgreSQL everything is one transaction.
func TestCatalogExec_SplitsAroundAutocommitStatementsOnRedshift(t *testing.T) {
	stmts := []string{
		`COMMENT ON TABLE "s"."t" IS 'x'`,
		`ALTER TABLE "s"."t" ALTER COLUMN "c" TYPE varchar(512)`,
		`ALTER TABLE "s"."t" ADD COLUMN "d" int`,
		`COMMENT ON COLUMN "s"."t"."d" IS 'y'`,
	}
	rs := &fakeExec{d: Redshift}
	if err := NewCatalog(rs).exec(context.Background(), stmts...); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{stmts[0]}, {autocommitMark, stmts[1]}, {stmts[2], stmts[3]}}
	if !reflect.DeepEqual(rs.execs, want) {
		t.Fatalf("Redshift ran\n%q\nwant\n%q", rs.execs, want)
	}
	pg := &fakeExec{d: PostgreSQL}
	if err := NewCatalog(pg).exec(context.Background(), stmts...); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pg.execs, [][]string{stmts}) {
		t.Fatalf("PostgreSQL ran %q, want one transaction", pg.execs)
	}
}
