package load_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/load"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

var s3Once struct {
	sync.Once
	x   *acctest.S3
	err error
}

// env is one test's world: a store for file:// and s3:// locations, databases with the
// web.page_views table, and a resolver naming them.
type env struct {
	t     *testing.T
	store *storage.Store
	s3    *acctest.S3
	dir   string            // a file:// directory URL ending in "/"
	urls  map[string]string // connection name → database URL
	dbs   map[string]*pgx.Conn
	exec  activity.Executor
}

const pageViewsDDL = `CREATE SCHEMA web;
CREATE TABLE web.page_views (id int NOT NULL, url text NOT NULL, views int, seen_at date)`

// newEnv creates one database per connection name (each with web.page_views) and resolves
// extra connections to the URLs given.
func newEnv(t *testing.T, names []string, extra map[string]string) *env {
	t.Helper()
	s3Once.Do(func() { s3Once.x, s3Once.err = acctest.StartS3(context.Background()) })
	if s3Once.err != nil {
		t.Fatal(s3Once.err)
	}
	client, err := s3Once.x.Client()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: storage.New(client), s3: s3Once.x, dir: "file://" + t.TempDir() + "/",
		urls: map[string]string{}, dbs: map[string]*pgx.Conn{}}
	for _, n := range names {
		e.urls[n] = acctest.NewPostgresDatabase(t)
		e.sql(n, pageViewsDDL)
	}
	all := map[string]string{}
	for k, v := range e.urls {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = v
	}
	res, err := conn.NewResolver(all, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	e.exec = load.New(e.store, res)
	return e
}

// db returns the test's own connection to the database of connection name, for setup and
// assertions; it is opened once per test.
func (e *env) db(name string) *pgx.Conn {
	e.t.Helper()
	if c, ok := e.dbs[name]; ok {
		return c
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.urls[name])
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close(ctx) })
	e.dbs[name] = c
	return c
}

func (e *env) sql(name, sql string) {
	e.t.Helper()
	if _, err := e.db(name).Exec(context.Background(), sql); err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
}

// rows returns web.page_views on connection name, one "id|url|views|seen_at" string per row,
// sorted; NULL is "∅".
func (e *env) rows(name string) string {
	e.t.Helper()
	rs, err := e.db(name).Query(context.Background(), `SELECT concat_ws('|', id, url, coalesce(views::text, '∅'), coalesce(seen_at::text, '∅'))
		FROM web.page_views ORDER BY id, url, views`)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Join(out, "\n")
}

func (e *env) put(url, data string) {
	e.t.Helper()
	if err := e.store.Put(context.Background(), url, strings.NewReader(data)); err != nil {
		e.t.Fatal(err)
	}
}

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// run executes the activity once and returns the result, the error and the attempt log.
func (e *env) run(a *definition.RedshiftCopyActivity) (*activity.Result, string, error) {
	e.t.Helper()
	log := activity.NewLogBuffer(0)
	res, err := e.exec.Execute(context.Background(), &activity.Task{
		Pipeline: "web_daily", RunID: 7, ActivityID: "load_page_views", Attempt: 1,
		Activity: &definition.Activity{RedshiftCopy: a}, Log: log,
	})
	return res, log.String(), err
}

// mustRun executes the activity and fails the test on error.
func (e *env) mustRun(a *definition.RedshiftCopyActivity) (*activity.Result, string) {
	e.t.Helper()
	res, log, err := e.run(a)
	if err != nil {
		e.t.Fatalf("Execute: %v\nlog:\n%s", err, log)
	}
	return res, log
}

func wantRows(t *testing.T, e *env, name, want string) {
	t.Helper()
	if got := e.rows(name); got != strings.TrimSpace(want) {
		t.Errorf("rows on %s:\n%s\nwant:\n%s", name, got, strings.TrimSpace(want))
	}
}

func wantErr(t *testing.T, err error, permanent bool, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Execute succeeded; want an error containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
	if activity.IsPermanent(err) != permanent {
		t.Errorf("IsPermanent = %v, want %v (error: %v)", activity.IsPermanent(err), permanent, err)
	}
}

func replicas(t *testing.T, res *activity.Result) map[string]load.Replica {
	t.Helper()
	if res == nil {
		t.Fatal("no Result")
	}
	r, ok := res.Details["replicas"].(map[string]load.Replica)
	if !ok {
		t.Fatalf("Details[replicas] is %T", res.Details["replicas"])
	}
	return r
}

// bz2Part4 is bzip2 of "id,url,views,seen_at\n4,/bz,5,2024-05-03\n" (the standard library
// reads bzip2 but cannot write it).
const bz2Part4 = "425a683931415926535912e618f300000e5b8000100006de000000b6251f9020003141a34683203422999269e8c9a87a4f28f7e8e76de958d7215504211766757a9c7c512914029fc5dc914e142404b9863cc0"

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const headerCSV1 = "id,url,views,seen_at\n1,/home,10,2024-05-01\n2,/about,3,2024-05-01\n"
const headerCSV2 = "id,url,views,seen_at\n3,\"/search?q=a,b\",,2024-05-02\n"

func TestExecute_TruncateReplacesTheTableAndARetryLeavesTheSameRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `INSERT INTO web.page_views VALUES (9, '/old', 1, NULL)`)
	e.put(e.dir+"views/part-1.csv", headerCSV1)
	e.put(e.dir+"views/part-2.csv", headerCSV2)
	e.put(e.dir+"views/_SUCCESS", "")
	e.put(e.dir+"views/part-3.csv", "")
	e.put(e.dir+"views/part-4.csv.bz2", string(unhex(t, bz2Part4)))
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "views/", Format: "csv",
		InsertMode: "TRUNCATE", Options: []string{"IGNOREHEADER 1", "TIMEFORMAT 'auto'"},
	}
	want := "1|/home|10|2024-05-01\n2|/about|3|2024-05-01\n3|/search?q=a,b|∅|2024-05-02\n4|/bz|5|2024-05-03"
	for attempt := 1; attempt <= 2; attempt++ {
		res, log := e.mustRun(a)
		wantRows(t, e, "warehouse", want)
		if res.Summary != "loaded 4 rows into web.page_views on warehouse" {
			t.Errorf("attempt %d: Summary = %q", attempt, res.Summary)
		}
		wantDeleted := int64(1)
		if attempt == 2 {
			wantDeleted = 4
		}
		if got := replicas(t, res)["warehouse"]; got != (load.Replica{Status: "success", Rows: 4, Copied: 4, Deleted: wantDeleted}) {
			t.Errorf("attempt %d: replica = %+v", attempt, got)
		}
		for _, line := range []string{
			"warehouse: " + e.dir + "views/part-1.csv: 2 rows",
			"warehouse: " + e.dir + "views/part-2.csv: 1 rows",
			"warehouse: " + e.dir + "views/part-3.csv: 0 rows",
			"warehouse: " + e.dir + "views/part-4.csv.bz2: 1 rows",
			"TIMEFORMAT 'auto' has no effect on PostgreSQL",
		} {
			if !strings.Contains(log, line) {
				t.Errorf("attempt %d: log lacks %q:\n%s", attempt, line, log)
			}
		}
		if strings.Contains(log, "_SUCCESS") {
			t.Errorf("the _SUCCESS marker was loaded:\n%s", log)
		}
	}
}

func TestExecute_AppendTwiceDoublesTheRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `INSERT INTO web.page_views VALUES (9, '/old', 1, NULL)`)
	e.put(e.dir+"day.csv", "1,/home,10,2024-05-01\n")
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "day.csv", Format: "csv", InsertMode: "APPEND",
	}
	e.mustRun(a)
	wantRows(t, e, "warehouse", "1|/home|10|2024-05-01\n9|/old|1|∅")
	res, _ := e.mustRun(a)
	wantRows(t, e, "warehouse", "1|/home|10|2024-05-01\n1|/home|10|2024-05-01\n9|/old|1|∅")
	if res.Summary != "loaded 1 rows into web.page_views on warehouse" {
		t.Errorf("Summary = %q", res.Summary)
	}
}

func TestExecute_KeepExistingInsertsOnlyNewKeysAndARetryChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `INSERT INTO web.page_views VALUES (1, '/home', 1, NULL), (5, '/keep', 5, NULL)`)
	e.put(e.dir+"day.csv", "1,/home,10,2024-05-01\n1,/other,7,2024-05-01\n2,/new,3,2024-05-01\n")
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "day.csv", Format: "csv",
		InsertMode: "KEEP_EXISTING", KeyColumns: []string{"id", "URL"},
	}
	want := "1|/home|1|∅\n1|/other|7|2024-05-01\n2|/new|3|2024-05-01\n5|/keep|5|∅"
	res, _ := e.mustRun(a)
	wantRows(t, e, "warehouse", want)
	if got := replicas(t, res)["warehouse"]; got.Rows != 2 || got.Copied != 3 || got.Deleted != 0 {
		t.Errorf("first run: replica = %+v, want 2 inserted of 3 copied", got)
	}
	res, _ = e.mustRun(a)
	wantRows(t, e, "warehouse", want)
	if res.Summary != "loaded 0 rows into web.page_views on warehouse" {
		t.Errorf("retry: Summary = %q", res.Summary)
	}
}

func TestExecute_OverwriteExistingReplacesRowsWithMatchingKeysAndARetryChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `INSERT INTO web.page_views VALUES (1, '/home', 1, NULL), (5, '/keep', 5, NULL)`)
	e.put(e.dir+"day.csv", "1,/home-v2,10,2024-05-01\n2,/new,3,2024-05-01\n")
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "day.csv", Format: "csv",
		InsertMode: "OVERWRITE_EXISTING", KeyColumns: []string{"id"},
	}
	want := "1|/home-v2|10|2024-05-01\n2|/new|3|2024-05-01\n5|/keep|5|∅"
	for attempt := 1; attempt <= 2; attempt++ {
		res, _ := e.mustRun(a)
		wantRows(t, e, "warehouse", want)
		wantDeleted := int64(1)
		if attempt == 2 {
			wantDeleted = 2
		}
		if got := replicas(t, res)["warehouse"]; got.Rows != 2 || got.Deleted != wantDeleted {
			t.Errorf("attempt %d: replica = %+v", attempt, got)
		}
	}
}

func TestExecute_KeyModesRefuseRepeatedAndNullKeysAndLeaveTheTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `ALTER TABLE web.page_views ALTER COLUMN id DROP NOT NULL;
		INSERT INTO web.page_views VALUES (1, '/home', 1, NULL)`)
	e.put(e.dir+"dup.csv", "2,/a,1,\n2,/b,2,\n")
	e.put(e.dir+"null.csv", "2,/a,1,\n,/b,2,\n")
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "dup.csv", Format: "csv",
		InsertMode: "OVERWRITE_EXISTING", KeyColumns: []string{"id"},
	}
	_, _, err := e.run(a)
	wantErr(t, err, true, "warehouse", "the files hold 2 rows with key (id=2)", "one row per key")
	a.From, a.InsertMode = e.dir+"null.csv", "KEEP_EXISTING"
	_, _, err = e.run(a)
	wantErr(t, err, true, "key column id is NULL")
	wantRows(t, e, "warehouse", "1|/home|1|∅")
}

func TestExecute_JSONLinesFromGzippedS3MapKeysToColumnsByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `ALTER TABLE web.page_views ADD COLUMN meta jsonb, ADD COLUMN note text`)
	base := "s3://" + e.s3.NewBucket(t) + "/events/dt=2024-05-01/"
	e.put(base+"a.json.gz", gz(t, `{"id": 1, "url": "/home", "views": 10, "seen_at": "2024-05-01", "meta": {"ua": "x", "n": [1, 2]}, "note": ""}
{"url": "/\"quoted\",comma", "id": 2, "extra": "ignored", "note": null}

`))
	e.put(base+"b.json", `{"id":3,"url":"/multi`+"\\n"+`line","views":null}{"id":4,"url":"/same-line"}`)
	e.put(base+"empty.json", "")
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: base, Format: "json", InsertMode: "TRUNCATE",
	}
	res, log := e.mustRun(a)
	if res.Summary != "loaded 4 rows into web.page_views on warehouse" {
		t.Errorf("Summary = %q", res.Summary)
	}
	if !strings.Contains(log, base+"empty.json: 0 rows") {
		t.Errorf("log lacks the empty file:\n%s", log)
	}
	rs, err := e.db("warehouse").Query(context.Background(), `SELECT concat_ws('|', id, url, coalesce(views::text, '∅'), coalesce(seen_at::text, '∅'),
		coalesce(meta::text, '∅'), coalesce(note, '∅')) FROM web.page_views ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`1|/home|10|2024-05-01|{"n": [1, 2], "ua": "x"}|`,
		`2|/"quoted",comma|∅|∅|∅|∅`,
		"3|/multi\nline|∅|∅|∅|∅",
		`4|/same-line|∅|∅|∅|∅`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExecute_GzippedCSVWithHeaderAndOptionsFromS3(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	obj := "s3://" + e.s3.NewBucket(t) + "/views.psv.gz"
	e.put(obj, gz(t, "id|url|views|seen_at\nsecond header line\n1|/home|NA|2024-05-01\n"))
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: obj, Format: "csv", InsertMode: "APPEND",
		Options: []string{"IGNOREHEADER AS 2", "delimiter '|'", "NULL AS 'NA'", "DATEFORMAT 'auto'"},
	}
	e.mustRun(a)
	wantRows(t, e, "warehouse", "1|/home|∅|2024-05-01")
}

func TestExecute_MalformedSecondFileRollsBackAndLeavesTheTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `INSERT INTO web.page_views VALUES (9, '/old', 1, NULL)`)
	e.put(e.dir+"csv/1.csv", "1,/home,10,2024-05-01\n")
	e.put(e.dir+"csv/2.csv", "2,/about,3,2024-05-01\n3,/x,lots,2024-05-01\n")
	e.put(e.dir+"json/1.json", `{"id": 1, "url": "/home"}`+"\n")
	e.put(e.dir+"json/2.json", `{"id": 2, "url": "/about"}`+"\n"+`{"id": 3, "url": `+"\n")
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "csv/", Format: "csv", InsertMode: "TRUNCATE",
	}
	_, _, err := e.run(a)
	wantErr(t, err, true, "loading "+e.dir+"csv/2.csv", `invalid input syntax for type integer: "lots"`, "line 2")
	wantRows(t, e, "warehouse", "9|/old|1|∅")

	a.From, a.Format = e.dir+"json/", "json"
	res, _, err := e.run(a)
	wantErr(t, err, true, e.dir+"json/2.json: object 2", "invalid JSON", "redshift_copy into web.page_views on warehouse failed and was rolled back: ")
	wantRows(t, e, "warehouse", "9|/old|1|∅")
	if got := replicas(t, res)["warehouse"]; got.Status != "failed" || got.Rows != 0 || !strings.Contains(got.Error, "invalid JSON") {
		t.Errorf("replica = %+v", got)
	}

	e.put(e.dir+"bad.json", "[1, 2]\n")
	a.From = e.dir + "bad.json"
	_, _, err = e.run(a)
	wantErr(t, err, true, "expected a JSON object, got [1, 2]")
	a.Format = "csv"
	full := gz(t, strings.Repeat("1,/home,10,2024-05-01\n", 500))
	e.put(e.dir+"cut.csv.gz", full[:len(full)/2])
	a.From = e.dir + "cut.csv.gz"
	_, _, err = e.run(a)
	wantErr(t, err, true, "cut.csv.gz: corrupt gzip data: unexpected EOF")
	e.put(e.dir+"bad.csv.gz", "this is not gzip")
	a.From = e.dir + "bad.csv.gz"
	_, _, err = e.run(a)
	wantErr(t, err, true, "bad.csv.gz: not a gzip file")
	wantRows(t, e, "warehouse", "9|/old|1|∅")
}

func TestExecute_FanOutLoadsEachReplicaAndReportsTheBrokenOne(t *testing.T) {
	t.Parallel()
	// "broken" names a database that does not exist on the server: the connection fails.
	pg := acctest.SharedPostgres(t)
	e := newEnv(t, []string{"warehouse", "replica"}, map[string]string{"broken": pg.URL("no_such_database")})
	e.sql("replica", `INSERT INTO web.page_views VALUES (9, '/replica-only', 1, NULL)`)
	e.put(e.dir+"day.csv", "1,/home,10,2024-05-01\n2,/about,3,2024-05-01\n")
	a := &definition.RedshiftCopyActivity{
		Connections: []string{"warehouse", "broken", "replica"}, Table: "web.page_views", From: e.dir + "day.csv",
		Format: "csv", InsertMode: "OVERWRITE_EXISTING", KeyColumns: []string{"id"},
	}
	res, _, err := e.run(a)
	wantErr(t, err, false, "failed on 1 of 3 connections (broken)", "committed on warehouse, replica",
		"a retry loads those again, which insert_mode OVERWRITE_EXISTING makes harmless", `connection "broken"`)
	if strings.Contains(err.Error(), pg.Password) {
		t.Errorf("the error holds the password: %v", err)
	}
	got := replicas(t, res)
	if got["warehouse"] != (load.Replica{Status: "success", Rows: 2, Copied: 2}) ||
		got["replica"] != (load.Replica{Status: "success", Rows: 2, Copied: 2}) {
		t.Errorf("replicas = %+v", got)
	}
	if b := got["broken"]; b.Status != "failed" || !strings.Contains(b.Error, "no_such_database") {
		t.Errorf("broken replica = %+v", b)
	}
	wantRows(t, e, "warehouse", "1|/home|10|2024-05-01\n2|/about|3|2024-05-01")
	wantRows(t, e, "replica", "1|/home|10|2024-05-01\n2|/about|3|2024-05-01\n9|/replica-only|1|∅")

	// A retry re-applies idempotently where the load was committed.
	_, _, err = e.run(a)
	wantErr(t, err, false, "failed on 1 of 3 connections (broken)")
	wantRows(t, e, "replica", "1|/home|10|2024-05-01\n2|/about|3|2024-05-01\n9|/replica-only|1|∅")

	// APPEND must not be retried automatically once a replica committed.
	a.InsertMode, a.KeyColumns = "APPEND", nil
	_, _, err = e.run(a)
	wantErr(t, err, true, "not retried automatically: insert_mode APPEND would load the rows again")

	// Without the broken one, every replica succeeds and the summary names each.
	a.Connections = []string{"warehouse", "replica"}
	a.InsertMode = "TRUNCATE"
	res, _ = e.mustRun(a)
	if res.Summary != "loaded 2 rows into web.page_views on warehouse, 2 on replica" {
		t.Errorf("Summary = %q", res.Summary)
	}
}

func TestExecute_DefinitionAndSetupMistakesArePermanentAndNamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.put(e.dir+"day.csv", "1,/home,10,2024-05-01\n")
	e.put(e.dir+"day.parquet", "PAR1")
	e.put(e.dir+"short.csv", "1,/home\n")
	base := func() *definition.RedshiftCopyActivity {
		return &definition.RedshiftCopyActivity{
			Connection: "warehouse", Table: "web.page_views", From: e.dir + "day.csv", Format: "csv", InsertMode: "TRUNCATE",
		}
	}
	for _, tc := range []struct {
		name   string
		change func(a *definition.RedshiftCopyActivity)
		want   []string
	}{
		{"missing table", func(a *definition.RedshiftCopyActivity) { a.Table = "web.no_such_table" },
			[]string{"table web.no_such_table does not exist on connection warehouse"}},
		{"missing schema", func(a *definition.RedshiftCopyActivity) { a.Table = "nope.page_views" },
			[]string{"table nope.page_views does not exist"}},
		{"empty prefix", func(a *definition.RedshiftCopyActivity) { a.From = e.dir + "nothing-here/" },
			[]string{"redshift_copy.from: no files under " + e.dir + "nothing-here/"}},
		{"unknown option", func(a *definition.RedshiftCopyActivity) { a.Options = []string{"IGNOREHEADER 1", "SKIPROWS 2"} },
			[]string{"redshift_copy.options[1]: unknown COPY option SKIPROWS"}},
		{"redshift-only option", func(a *definition.RedshiftCopyActivity) { a.Options = []string{"FILLRECORD"} },
			[]string{"redshift_copy.options[0]: COPY option FILLRECORD is supported on Redshift only"}},
		{"time format other than auto", func(a *definition.RedshiftCopyActivity) { a.Options = []string{"TIMEFORMAT 'epochsecs'"} },
			[]string{"TIMEFORMAT 'epochsecs' is supported on Redshift only"}},
		{"parquet", func(a *definition.RedshiftCopyActivity) { a.From, a.Format = e.dir+"day.parquet", "parquet" },
			[]string{"parquet needs a Redshift connection"}},
		{"unknown connection", func(a *definition.RedshiftCopyActivity) { a.Connection = "lake" },
			[]string{`unknown connection "lake"`, "SLUICE_CONN_LAKE"}},
		{"key column not in table", func(a *definition.RedshiftCopyActivity) {
			a.InsertMode, a.KeyColumns = "KEEP_EXISTING", []string{"id", "session"}
		}, []string{`redshift_copy.key_columns[1]: "session" is not a column of web.page_views`}},
		{"key mode without keys", func(a *definition.RedshiftCopyActivity) { a.InsertMode = "OVERWRITE_EXISTING" },
			[]string{"insert_mode OVERWRITE_EXISTING needs key_columns"}},
		{"table without schema", func(a *definition.RedshiftCopyActivity) { a.Table = "page_views" },
			[]string{`redshift_copy.table: "page_views" must be schema.table`}},
		{"too few columns", func(a *definition.RedshiftCopyActivity) { a.From = e.dir + "short.csv" },
			[]string{"loading " + e.dir + "short.csv", `missing data for column "views"`}},
		{"wrong delimiter", func(a *definition.RedshiftCopyActivity) { a.Options = []string{"DELIMITER '|'"} },
			[]string{`invalid input syntax for type integer: "1,/home,10,2024-05-01"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.change(a)
			_, _, err := e.run(a)
			wantErr(t, err, true, tc.want...)
		})
	}
	wantRows(t, e, "warehouse", "")
}

func TestExecute_MissingObjectIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	a := &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "not-yet.csv", Format: "csv", InsertMode: "APPEND",
	}
	_, _, err := e.run(a)
	wantErr(t, err, false, "opening "+e.dir+"not-yet.csv")
	if !storage.IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}
}

func TestExecute_CanceledContextRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"warehouse"}, nil)
	e.sql("warehouse", `INSERT INTO web.page_views VALUES (9, '/old', 1, NULL)`)
	e.put(e.dir+"day.csv", "1,/home,10,2024-05-01\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.exec.Execute(ctx, &activity.Task{Activity: &definition.Activity{RedshiftCopy: &definition.RedshiftCopyActivity{
		Connection: "warehouse", Table: "web.page_views", From: e.dir + "day.csv", Format: "csv", InsertMode: "TRUNCATE",
	}}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	wantRows(t, e, "warehouse", "9|/old|1|∅")
}

func TestExecute_NoRedshiftCopyBlockIsPermanent(t *testing.T) {
	t.Parallel()
	x := load.New(storage.New(nil), nil)
	_, err := x.Execute(context.Background(), &activity.Task{Activity: &definition.Activity{}})
	wantErr(t, err, true, "no redshift_copy block")
}
