package precond_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/precond"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

func noConns(t *testing.T) *conn.Resolver {
	t.Helper()
	r, err := conn.NewResolver(nil, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func poke(t *testing.T, p activity.Poker, w *definition.WaitFor) bool {
	t.Helper()
	ok, err := p.Poke(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPoke_FileKeyAndPrefixHoldOnceTheDataArrives(t *testing.T) {
	dir := t.TempDir()
	p := precond.New(storage.New(nil), noConns(t))
	key := &definition.WaitFor{S3KeyExists: "file://" + dir + "/in/2024-03-01/_SUCCESS"}
	prefix := &definition.WaitFor{S3PrefixNotEmpty: "file://" + dir + "/in/2024-03-01/"}

	if poke(t, p, key) || poke(t, p, prefix) {
		t.Fatal("held before the directory exists")
	}
	// A hidden file (an upload in progress) is not data.
	writeFile(t, filepath.Join(dir, "in/2024-03-01/.part-0.tmp"))
	if poke(t, p, prefix) {
		t.Fatal("prefix held with only a hidden file")
	}
	writeFile(t, filepath.Join(dir, "in/2024-03-01/part-0.csv"))
	if !poke(t, p, prefix) {
		t.Fatal("prefix did not hold with part-0.csv")
	}
	if poke(t, p, key) {
		t.Fatal("_SUCCESS held before it was written")
	}
	writeFile(t, filepath.Join(dir, "in/2024-03-01/_SUCCESS"))
	if !poke(t, p, key) {
		t.Fatal("_SUCCESS did not hold")
	}
}

func TestPoke_S3KeyAndPrefix(t *testing.T) {
	x, err := acctest.StartS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Stop()
	client, err := x.Client()
	if err != nil {
		t.Fatal(err)
	}
	bucket := x.NewBucket(t)
	p := precond.New(storage.New(client), noConns(t))
	key := &definition.WaitFor{S3KeyExists: "s3://" + bucket + "/in/day=1/_SUCCESS"}
	prefix := &definition.WaitFor{S3PrefixNotEmpty: "s3://" + bucket + "/in/day=1/"}
	if poke(t, p, key) || poke(t, p, prefix) {
		t.Fatal("held on an empty bucket")
	}
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("in/day=1/_SUCCESS"), Body: strings.NewReader(""),
	}); err != nil {
		t.Fatal(err)
	}
	if !poke(t, p, key) || !poke(t, p, prefix) {
		t.Fatal("did not hold after the upload")
	}
	if poke(t, p, &definition.WaitFor{S3KeyExists: "s3://" + bucket + "/in/day=2/_SUCCESS"}) {
		t.Fatal("another day's marker held")
	}
}

func TestPoke_SQLReturnsRows(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{"warehouse": acctest.NewPostgresDatabase(t)}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x, err := r.Get(context.Background(), "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	if err := x.ExecTx(context.Background(), "CREATE TABLE loads (day date)"); err != nil {
		t.Fatal(err)
	}
	p := precond.New(storage.New(nil), r)
	w := &definition.WaitFor{SQLReturnsRows: &definition.SQLReturnsRows{
		Connection: "warehouse",
		SQL:        "SELECT day FROM loads WHERE day = '2024-03-01' -- today's load;\n;",
	}}
	if poke(t, p, w) {
		t.Fatal("held on an empty table")
	}
	if err := x.ExecTx(context.Background(), "INSERT INTO loads SELECT '2024-03-01'::date FROM generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	if !poke(t, p, w) {
		t.Fatal("did not hold with 1000 matching rows")
	}

	// Only a query can be a precondition: a DELETE does not parse inside SELECT … FROM ( … ).
	_, err = p.Poke(context.Background(), &definition.WaitFor{SQLReturnsRows: &definition.SQLReturnsRows{
		Connection: "warehouse", SQL: "DELETE FROM loads RETURNING day",
	}})
	if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("err = %v", err)
	}
	if !poke(t, p, w) {
		t.Fatal("the DELETE ran")
	}

	_, err = p.Poke(context.Background(), &definition.WaitFor{SQLReturnsRows: &definition.SQLReturnsRows{Connection: "lake", SQL: "SELECT 1"}})
	if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), `wait_for.sql_returns_rows.connection: unknown connection "lake"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestPoke_UnreachableDatabaseIsRetryable(t *testing.T) {
	port, err := acctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r, err := conn.NewResolver(map[string]string{"warehouse": "postgres://u:p@127.0.0.1:" + strconv.Itoa(port) + "/db?sslmode=disable&connect_timeout=2"}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = precond.New(storage.New(nil), r).Poke(context.Background(), &definition.WaitFor{
		SQLReturnsRows: &definition.SQLReturnsRows{Connection: "warehouse", SQL: "SELECT 1"},
	})
	if err == nil || activity.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}

func TestPoke_BadPreconditionsArePermanent(t *testing.T) {
	p := precond.New(storage.New(nil), noConns(t))
	for _, tc := range []struct {
		name string
		w    *definition.WaitFor
		want string
	}{
		{"nil", nil, "no precondition"},
		{"none", &definition.WaitFor{PokeInterval: "1m"}, "sets 0 conditions"},
		{"two", &definition.WaitFor{S3KeyExists: "file:///a", S3PrefixNotEmpty: "file:///b/"}, "sets 2 conditions"},
		{"bad key URL", &definition.WaitFor{S3KeyExists: "ftp://host/x"}, "wait_for.s3_key_exists"},
		{"key is a directory", &definition.WaitFor{S3KeyExists: "file:///tmp/"}, "wait_for.s3_key_exists"},
		{"bad prefix URL", &definition.WaitFor{S3PrefixNotEmpty: "/no/scheme/"}, "wait_for.s3_prefix_not_empty"},
		{"s3 not configured", &definition.WaitFor{S3KeyExists: "s3://bucket/key"}, "S3 is not configured"},
		{"empty sql", &definition.WaitFor{SQLReturnsRows: &definition.SQLReturnsRows{Connection: "w", SQL: " ; "}}, "sql is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := p.Poke(context.Background(), tc.w)
			if ok || err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Poke = %v, %v (permanent %v), want a permanent error containing %q", ok, err, activity.IsPermanent(err), tc.want)
			}
		})
	}
}

func TestPoke_SQLReturnsRowsOnMySQL(t *testing.T) {
	u := acctest.NewMariaDBDatabase(t)
	r, err := conn.NewResolver(map[string]string{"shop": u}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	db, err := r.GetMySQL(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ExecTx(context.Background(), "CREATE TABLE loads (day date)"); err != nil {
		t.Fatal(err)
	}
	p := precond.New(storage.New(nil), r)
	w := &definition.WaitFor{SQLReturnsRows: &definition.SQLReturnsRows{Connection: "shop", SQL: "SELECT 1 FROM loads WHERE day = '2024-03-01' -- the day's load"}}
	if poke(t, p, w) {
		t.Fatal("held before the row exists")
	}
	if err := db.ExecTx(context.Background(), "INSERT INTO loads VALUES ('2024-03-01')"); err != nil {
		t.Fatal(err)
	}
	if !poke(t, p, w) {
		t.Fatal("did not hold once the row exists")
	}
	_, err = p.Poke(context.Background(), &definition.WaitFor{SQLReturnsRows: &definition.SQLReturnsRows{Connection: "shop", SQL: "SELECT 1 FROM nope"}})
	if err == nil || !activity.IsPermanent(err) {
		t.Errorf("an unknown table: %v, want a permanent error", err)
	}
}
