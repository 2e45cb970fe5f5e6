package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/export"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

const ordersSQL = "SELECT id, note, amount FROM shop.orders ORDER BY id"

func setup(t *testing.T) (*conn.Resolver, string) {
	t.Helper()
	pg := acctest.NewPostgresDatabase(t)
	c, err := pgx.Connect(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), `CREATE SCHEMA shop; CREATE TABLE shop.orders (id int, note text, amount numeric(8,2));
		INSERT INTO shop.orders VALUES (1, 'plain', 1.50), (2, 'a, "quoted"'||chr(10)||'line', NULL), (3, '', 3)`); err != nil {
		t.Fatal(err)
	}
	my := acctest.NewMariaDBDatabase(t)
	r, err := conn.NewResolver(map[string]string{"warehouse": pg, "shop": my}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	db, err := r.GetMySQL(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(my[strings.LastIndex(my, "/"):], "/")
	if err := db.ExecTx(context.Background(), "CREATE TABLE "+name+".orders (id int, note text, amount decimal(8,2))",
		"INSERT INTO orders VALUES (1, 'plain', 1.50), (2, 'a, \"quoted\"\nline', NULL), (3, '', 3)"); err != nil {
		t.Fatal(err)
	}
	return r, name
}

func runExport(t *testing.T, r *conn.Resolver, x *definition.ExportActivity) (*activity.Result, error) {
	t.Helper()
	return export.New(storage.New(nil), r).Execute(context.Background(), &activity.Task{Pipeline: "p", ActivityID: "dump",
		Activity: &definition.Activity{Export: x}})
}

func read(t *testing.T, path string, gz bool) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !gz {
		return string(data)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestExport_PostgreSQLAndMySQLWriteTheSameCSVAndJSON(t *testing.T) {
	r, myDB := setup(t)
	wantCSV := "id,note,amount\n1,plain,1.50\n2,\"a, \"\"quoted\"\"\nline\",\n3,\"\",3.00\n"
	wantJSON := `{"id":"1","note":"plain","amount":"1.50"}` + "\n" + `{"id":"2","note":"a, \"quoted\"\nline","amount":null}` + "\n" +
		`{"id":"3","note":"","amount":"3.00"}` + "\n"
	for _, c := range []struct{ conn, query string }{{"warehouse", ordersSQL}, {"shop", strings.Replace(ordersSQL, "shop.", myDB+".", 1)}} {
		dir := t.TempDir()
		res, err := runExport(t, r, &definition.ExportActivity{Connection: c.conn, Query: c.query + ";", To: "file://" + dir + "/day/", Format: "csv", Header: true, Gzip: true})
		if err != nil {
			t.Fatalf("%s: %v", c.conn, err)
		}
		if got := read(t, filepath.Join(dir, "day", "part-00000.csv.gz"), true); got != wantCSV {
			t.Errorf("%s csv:\n%q\nwant\n%q", c.conn, got, wantCSV)
		}
		if res.Details["rows"] != int64(3) {
			t.Errorf("%s: rows %v", c.conn, res.Details["rows"])
		}
		// The same interval again replaces the object: one copy of the rows.
		if _, err := runExport(t, r, &definition.ExportActivity{Connection: c.conn, Query: c.query, To: "file://" + dir + "/day/part-00000.csv.gz", Format: "csv", Header: true, Gzip: true}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, filepath.Join(dir, "day", "part-00000.csv.gz"), true); got != wantCSV {
			t.Errorf("%s csv after a second run:\n%q", c.conn, got)
		}
		if _, err := runExport(t, r, &definition.ExportActivity{Connection: c.conn, Query: c.query, To: "file://" + dir + "/rows.json", Format: "json"}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, filepath.Join(dir, "rows.json"), false); got != wantJSON {
			t.Errorf("%s json:\n%s\nwant\n%s", c.conn, got, wantJSON)
		}
	}
}

func TestExport_BadQueriesFailPermanentlyAndWriteNothing(t *testing.T) {
	r, _ := setup(t)
	dir := t.TempDir()
	for _, c := range []string{"warehouse", "shop"} {
		_, err := runExport(t, r, &definition.ExportActivity{Connection: c, Query: "SELECT * FROM nope", To: "file://" + dir + "/x.csv", Format: "csv"})
		if err == nil || !activity.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", c, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.csv")); !os.IsNotExist(err) {
		t.Errorf("a failed export left %s: %v", filepath.Join(dir, "x.csv"), err)
	}
	if _, err := runExport(t, r, &definition.ExportActivity{Connection: "nope", Query: "SELECT 1", To: "file://" + dir + "/x.csv", Format: "csv"}); err == nil || !activity.IsPermanent(err) {
		t.Errorf("an unknown connection: %v", err)
	}
}

func TestUnloadSQL_ClearsThePrefixAndQuotesTheQuery(t *testing.T) {
	got, err := export.UnloadSQL(&definition.ExportActivity{To: "s3://lake/orders/2026-11-01/", Format: "csv", Header: true, Gzip: true,
		IAMRole: "arn:aws:iam::123456789012:role/unload"}, "SELECT * FROM shop.orders WHERE note = 'it''s'")
	if err != nil {
		t.Fatal(err)
	}
	want := `UNLOAD ('SELECT * FROM shop.orders WHERE note = ''it''''s''') TO 's3://lake/orders/2026-11-01/' IAM_ROLE 'arn:aws:iam::123456789012:role/unload' FORMAT AS CSV HEADER GZIP CLEANPATH PARALLEL OFF`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, x := range []*definition.ExportActivity{{To: "file:///x/", Format: "csv", IAMRole: "arn:aws:iam::1:role/r"}, {To: "s3://b/p/", Format: "json"}} {
		if _, err := export.UnloadSQL(x, "SELECT 1"); err == nil {
			t.Errorf("%+v: no error", x)
		}
	}
}
