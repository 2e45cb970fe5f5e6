package sqlrun_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/sqlrun"
)

// newMySQL returns a resolver with connection "shop" on a fresh MariaDB database, and the
// database's name (the schema of its tables).
func newMySQL(t *testing.T) (*conn.Resolver, string) {
	t.Helper()
	u := acctest.NewMariaDBDatabase(t)
	r, err := conn.NewResolver(map[string]string{"shop": u}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	pu, _ := url.Parse(u)
	return r, strings.TrimPrefix(pu.Path, "/")
}

func runSQLTask(r *conn.Resolver, stmts ...string) (*activity.Result, error) {
	return sqlrun.NewSQL(r).Execute(context.Background(), &activity.Task{Pipeline: "p", ActivityID: "a",
		Activity: &definition.Activity{SQL: &definition.SQLActivity{Connection: "shop", Statements: stmts}}})
}

func TestSQLOnMySQL_RunsInOneTransactionAndNamesTheFailingStatement(t *testing.T) {
	r, db := newMySQL(t)
	if _, err := runSQLTask(r, "CREATE TABLE "+db+".orders (id int PRIMARY KEY, note varchar(50))"); err != nil {
		t.Fatal(err)
	}
	if _, err := runSQLTask(r, `INSERT INTO orders VALUES (1, 'it''s "fine"')`, "INSERT INTO orders VALUES (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	_, err := runSQLTask(r, "INSERT INTO orders VALUES (3, 'c')", "INSERT INTO orders VALUES (1, 'duplicate')")
	if err == nil || !strings.Contains(err.Error(), "sql.statements.1 failed") || !strings.Contains(err.Error(), "Duplicate entry") {
		t.Fatalf("error %v, want statement 1 named with MySQL's words", err)
	}
	_, err = runSQLTask(r, "SELEC 1")
	if err == nil || !activity.IsPermanent(err) {
		t.Errorf("a syntax error: %v, want a permanent error", err)
	}
	// The failed transaction left nothing behind: row 3 was rolled back.
	res, err := sqlrun.NewCheck(r, nil).Execute(context.Background(), &activity.Task{Pipeline: "p", ActivityID: "c", Activity: &definition.Activity{
		Check: &definition.CheckActivity{Connection: "shop", Table: db + ".orders", RowCount: &definition.RowCount{Min: ptr(2), Max: ptr(2)}, Severity: "fail"}}})
	if err != nil {
		t.Fatalf("row count after the rollback: %v (%v)", err, res)
	}
}

func ptr(n int64) *int64 { return &n }

func TestCheckOnMySQL_EveryKindMeasuresWhatItSaw(t *testing.T) {
	r, db := newMySQL(t)
	if _, err := runSQLTask(r, "CREATE TABLE "+db+".events (id int, request_id varchar(10), seen datetime(6))"); err != nil {
		t.Fatal(err)
	}
	if _, err := runSQLTask(r, "INSERT INTO events VALUES (1, 'a', '2024-03-01 10:00:00'), (2, 'b', '2024-03-01 11:30:00.25'), (3, 'b', NULL), (4, NULL, '2024-02-28 09:00:00')"); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC) }
	res, err := sqlrun.NewCheck(r, now).Execute(context.Background(), &activity.Task{Pipeline: "p", ActivityID: "c", Activity: &definition.Activity{
		Check: &definition.CheckActivity{Connection: "shop", Table: db + ".events", RowCount: &definition.RowCount{Min: ptr(1)},
			Unique: []string{"request_id"}, NotNull: []string{"request_id", "seen"}, Freshness: &definition.Freshness{Column: "seen", MaxAge: "1h"},
			Severity: "warn"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(res.Warnings, "\n")
	for _, want := range []string{"1 duplicate", "request_id", "seen"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	if f := res.Freshness[db+".events"]; !f.Equal(time.Date(2024, 3, 1, 11, 30, 0, 250_000_000, time.UTC)) {
		t.Errorf("newest seen %v, want 2024-03-01 11:30:00.25 UTC", f)
	}
	if len(res.Warnings) != 3 {
		t.Errorf("%d warnings (%q), want unique, not_null request_id and not_null seen to fail and freshness to pass", len(res.Warnings), got)
	}
}

func TestSQLOnMySQL_APostgresConnectionIsNotMySQLAndTheReverse(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{"shop": "mysql://u:p%40ss%3A%2F@127.0.0.1:1/db", "warehouse": "postgres://u@127.0.0.1:1/db"}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(context.Background(), "shop"); err == nil || !conn.IsPermanent(err) || strings.Contains(err.Error(), "p@ss") {
		t.Errorf("Get of a MySQL connection: %v, want a permanent error without the password", err)
	}
	if _, err := r.GetMySQL(context.Background(), "warehouse"); err == nil || !conn.IsPermanent(err) {
		t.Errorf("GetMySQL of a PostgreSQL connection: %v, want a permanent error", err)
	}
	if _, err := conn.NewResolver(map[string]string{"shop": "mysql://u:secret@host/"}, conn.Options{}); err == nil || strings.Contains(err.Error(), "secret") ||
		!strings.Contains(err.Error(), "no database") {
		t.Errorf("a URI without a database: %v", err)
	}
}
