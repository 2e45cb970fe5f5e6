package sqlrun_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/sqlrun"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// shared is the package's one database: creating a database costs more than all the queries
// of a test, so the tests share one and each uses its own tables.
var shared struct {
	once sync.Once
	r    *conn.Resolver
	x    *redshift.PgxExecutor
	err  error
}

// newDB returns a resolver with connection "warehouse" on the package's database, and its
// executor for setting up and inspecting tables. The first call also creates web.events, the
// table of the check tests.
func newDB(t *testing.T) (*conn.Resolver, *redshift.PgxExecutor) {
	t.Helper()
	shared.once.Do(func() {
		// Stays set if NewPostgresDatabase fails this test (and leaves Do early).
		shared.err = errors.New("setting up the shared database failed in an earlier test")
		url := acctest.NewPostgresDatabase(t)
		shared.r, shared.err = conn.NewResolver(map[string]string{"warehouse": url}, conn.Options{})
		if shared.err != nil {
			return
		}
		shared.x, shared.err = shared.r.Get(context.Background(), "warehouse")
		if shared.err != nil {
			return
		}
		shared.err = shared.x.ExecTx(context.Background(),
			"CREATE SCHEMA web",
			`CREATE TABLE web.events (id int, request_id text, user_id int, created_at timestamptz, seen timestamp, day date, "Mixed Case" int)`,
			`INSERT INTO web.events VALUES
			  (1, 'a', 10, '2024-03-01 10:00:00+00', '2024-03-01 10:00:00', '2024-03-01', 1),
			  (2, 'b', 11, '2024-03-01 11:00:00+00', '2024-03-01 11:00:00', '2024-03-01', 2),
			  (3, 'b', NULL, '2024-03-01 11:30:00.25+00', '2024-03-01 11:30:00.25', '2024-03-01', 3),
			  (4, 'c', 12, '2024-02-28 09:00:00+00', '2024-02-28 09:00:00', '2024-02-28', 4),
			  (5, NULL, 13, '2024-02-28 09:30:00+00', '2024-02-28 09:30:00', '2024-02-28', 5),
			  (6, NULL, 14, NULL, NULL, NULL, 6)`,
		)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.r, shared.x
}

func exec(t *testing.T, x *redshift.PgxExecutor, stmts ...string) {
	t.Helper()
	if err := x.ExecTx(context.Background(), stmts...); err != nil {
		t.Fatal(err)
	}
}

func queryOne(t *testing.T, x *redshift.PgxExecutor, q string) string {
	t.Helper()
	rows, err := x.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%s returned %d rows", q, len(rows))
	}
	return rows[0][0].String
}

func task(a *definition.Activity, log *bytes.Buffer) *activity.Task {
	return &activity.Task{Pipeline: "web", RunID: 7, ActivityID: "qa", Attempt: 1, Activity: a, Log: log}
}

func sqlTask(conn string, stmts ...string) *activity.Task {
	return task(&definition.Activity{SQL: &definition.SQLActivity{Connection: conn, Statements: stmts}}, &bytes.Buffer{})
}

func TestSQL_RunsEveryStatementAndCommits(t *testing.T) {
	r, x := newDB(t)
	var log bytes.Buffer
	tk := sqlTask("warehouse",
		"CREATE SCHEMA etl",
		"CREATE TABLE etl.daily (day date, n int)",
		"INSERT INTO etl.daily VALUES ('2024-01-01', 3), ('2024-01-02', 4)",
	)
	tk.Log = &log
	res, err := sqlrun.NewSQL(r).Execute(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := queryOne(t, x, "SELECT sum(n)::text FROM etl.daily"); got != "7" {
		t.Fatalf("sum = %s, want 7", got)
	}
	if res.Summary != "ran 3 statement(s) on warehouse" || res.Details["statements"] != 3 {
		t.Fatalf("result = %+v", res)
	}
	if want := "running 3 statement(s) on connection warehouse in one transaction\ncommitted\n"; log.String() != want {
		t.Fatalf("log = %q, want %q", log.String(), want)
	}
}

func TestSQL_FailingStatementRollsBackTheWholeTransaction(t *testing.T) {
	r, x := newDB(t)
	exec(t, x, "CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (1)")
	_, err := sqlrun.NewSQL(r).Execute(context.Background(), sqlTask("warehouse",
		"CREATE TABLE created_then_rolled_back (n int)",
		"UPDATE kept SET n = 2",
		"INSERT INTO no_such_table SELECT 'SECRET_LOOKING_LITERAL'",
		"UPDATE kept SET n = 3",
	))
	if err == nil {
		t.Fatal("Execute succeeded")
	}
	want := `sql.statements.2 failed, the transaction of all 4 statement(s) rolled back: ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01)`
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
	if strings.Contains(err.Error(), "SECRET_LOOKING_LITERAL") {
		t.Fatal("the error echoes the statement")
	}
	if !activity.IsPermanent(err) {
		t.Fatal("an undefined table should be permanent")
	}
	if got := queryOne(t, x, "SELECT n::text FROM kept"); got != "1" {
		t.Fatalf("kept.n = %s, want 1 (the UPDATE must roll back)", got)
	}
	if got := queryOne(t, x, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'created_then_rolled_back'"); got != "0" {
		t.Fatal("the CREATE TABLE of the failed transaction persisted")
	}
}

func TestSQL_DataErrorIsRetryableAndIdenticalStatementsAreBothNamed(t *testing.T) {
	r, x := newDB(t)
	exec(t, x, "CREATE TABLE u (n int PRIMARY KEY)")
	_, err := sqlrun.NewSQL(r).Execute(context.Background(), sqlTask("warehouse",
		"INSERT INTO u VALUES (1)", "INSERT INTO u VALUES (1)"))
	if err == nil {
		t.Fatal("Execute succeeded")
	}
	if !strings.HasPrefix(err.Error(), "sql.statements.0 or sql.statements.1 failed") ||
		!strings.Contains(err.Error(), "Key (n)=(1) already exists") {
		t.Fatalf("err = %q", err)
	}
	if activity.IsPermanent(err) {
		t.Fatal("a unique violation should be left to the retries")
	}
	if got := queryOne(t, x, "SELECT count(*)::text FROM u"); got != "0" {
		t.Fatalf("u has %s rows, want 0", got)
	}
}

func TestSQL_UnknownConnectionIsPermanent(t *testing.T) {
	r, _ := newDB(t)
	_, err := sqlrun.NewSQL(r).Execute(context.Background(), sqlTask("replica", "SELECT 1"))
	if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), "SLUICE_CONN_REPLICA") {
		t.Fatalf("err = %v (permanent %v)", err, activity.IsPermanent(err))
	}
}

func TestSQL_WrongKindOrNoStatementsIsPermanent(t *testing.T) {
	r, _ := newDB(t)
	for _, a := range []*definition.Activity{
		{Check: &definition.CheckActivity{}},
		{SQL: &definition.SQLActivity{Connection: "warehouse"}},
	} {
		_, err := sqlrun.NewSQL(r).Execute(context.Background(), task(a, &bytes.Buffer{}))
		if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), `activity "qa"`) {
			t.Fatalf("err = %v", err)
		}
	}
}

// newEventsDB returns the resolver of the database holding web.events.
func newEventsDB(t *testing.T) *conn.Resolver {
	t.Helper()
	r, _ := newDB(t)
	return r
}

var now = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func i64(n int64) *int64 { return &n }

func runCheck(t *testing.T, r *conn.Resolver, c *definition.CheckActivity) (*activity.Result, string, error) {
	t.Helper()
	if c.Connection == "" {
		c.Connection = "warehouse"
	}
	var log bytes.Buffer
	res, err := sqlrun.NewCheck(r, func() time.Time { return now }).Execute(context.Background(), task(&definition.Activity{Check: c}, &log))
	return res, log.String(), err
}
