package load_test

import (
	"database/sql"
	"net/url"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql" // the test's own view of the MariaDB database

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/load"
)

// myEnv is a MariaDB database with a page_views table, loaded through a mysql:// connection.
type myEnv struct {
	*env
	sqldb *sql.DB
	table string
}

func newMyEnv(t *testing.T) *myEnv {
	t.Helper()
	e := newEnv(t, nil, nil)
	u := acctest.NewMariaDBDatabase(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(pu.Path, "/")
	pw, _ := pu.User.Password()
	sqldb, err := sql.Open("mysql", pu.User.Username()+":"+pw+"@tcp("+pu.Host+")/"+dbName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqldb.Close() })
	if _, err := sqldb.Exec("CREATE TABLE page_views (id int NOT NULL, url varchar(200) NOT NULL, views int, seen_at date)"); err != nil {
		t.Fatal(err)
	}
	res, err := conn.NewResolver(map[string]string{"shop": u}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	e.exec = load.New(e.store, res)
	return &myEnv{env: e, sqldb: sqldb, table: dbName + ".page_views"}
}

func (m *myEnv) rows() string {
	m.t.Helper()
	rs, err := m.sqldb.Query("SELECT id, url, views, seen_at FROM page_views ORDER BY id, url, views")
	if err != nil {
		m.t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var v [4]sql.NullString
		if err := rs.Scan(&v[0], &v[1], &v[2], &v[3]); err != nil {
			m.t.Fatal(err)
		}
		parts := make([]string, 4)
		for i, x := range v {
			parts[i] = x.String
			if !x.Valid {
				parts[i] = "∅"
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return strings.Join(out, "\n")
}

func TestExecuteMySQL_TruncateLoadsDelimitedGzippedFilesAndARetryLeavesTheSameRows(t *testing.T) {
	m := newMyEnv(t)
	if _, err := m.sqldb.Exec("INSERT INTO page_views VALUES (99, '/old', 1, NULL)"); err != nil {
		t.Fatal(err)
	}
	m.put(m.dir+"in/a.tsv.gz", gz(t, "id\turl\tviews\tseen_at\n1\t/a\t10\t2026-11-01\n2\t/b 'quoted' \\\\ back\t\\N\t\\N\n"))
	m.put(m.dir+"in/b.tsv", "id\turl\tviews\tseen_at\n3\t/c\t30\t2026-11-02\n")
	a := &definition.RedshiftCopyActivity{Connection: "shop", Table: m.table, From: m.dir + "in/", Format: definition.FormatCSV,
		InsertMode: definition.InsertTruncate, Options: []string{"DELIMITER '\t'", "IGNOREHEADER 1", `NULL AS '\N'`}}
	want := "1|/a|10|2026-11-01\n2|/b 'quoted' \\\\ back|∅|∅\n3|/c|30|2026-11-02"
	for i := 0; i < 2; i++ {
		res, _ := m.mustRun(a)
		if got := m.rows(); got != want {
			t.Fatalf("run %d: rows\n%s\nwant\n%s", i+1, got, want)
		}
		if r := replicas(t, res)["shop"]; r.Copied != 3 || r.Rows != 3 {
			t.Errorf("run %d: replica %+v, want 3 copied and inserted", i+1, r)
		}
	}
}

func TestExecuteMySQL_KeyModesMergeByKey(t *testing.T) {
	m := newMyEnv(t)
	if _, err := m.sqldb.Exec("INSERT INTO page_views VALUES (1, '/a', 1, NULL), (2, '/b', 2, NULL)"); err != nil {
		t.Fatal(err)
	}
	m.put(m.dir+"day.csv", "2,/b,20,2026-11-01\n3,/c,30,2026-11-01\n")
	a := &definition.RedshiftCopyActivity{Connection: "shop", Table: m.table, From: m.dir + "day.csv", Format: definition.FormatCSV,
		InsertMode: definition.InsertKeepExisting, KeyColumns: []string{"id"}}
	m.mustRun(a)
	if got, want := m.rows(), "1|/a|1|∅\n2|/b|2|∅\n3|/c|30|2026-11-01"; got != want {
		t.Fatalf("KEEP_EXISTING rows\n%s\nwant\n%s", got, want)
	}
	a.InsertMode = definition.InsertOverwriteExisting
	for i := 0; i < 2; i++ {
		m.mustRun(a)
		if got, want := m.rows(), "1|/a|1|∅\n2|/b|20|2026-11-01\n3|/c|30|2026-11-01"; got != want {
			t.Fatalf("OVERWRITE_EXISTING run %d rows\n%s\nwant\n%s", i+1, got, want)
		}
	}
}

func TestExecuteMySQL_JSONLinesLoadByColumnName(t *testing.T) {
	m := newMyEnv(t)
	m.put(m.dir+"j.json", `{"id": 5, "url": "/j", "seen_at": "2026-11-03"}`+"\n"+`{"url": "/k", "id": 6, "views": 7, "extra": true}`+"\n")
	m.mustRun(&definition.RedshiftCopyActivity{Connection: "shop", Table: m.table, From: m.dir + "j.json", Format: definition.FormatJSON,
		InsertMode: definition.InsertAppend})
	if got, want := m.rows(), "5|/j|∅|2026-11-03\n6|/k|7|∅"; got != want {
		t.Fatalf("rows\n%s\nwant\n%s", got, want)
	}
}

func TestExecuteMySQL_BadFilesAndTablesFailPermanentlyAndLeaveTheTarget(t *testing.T) {
	m := newMyEnv(t)
	if _, err := m.sqldb.Exec("INSERT INTO page_views VALUES (1, '/a', 1, NULL)"); err != nil {
		t.Fatal(err)
	}
	m.put(m.dir+"short.csv", "2,/b,20,2026-11-01\n3,/c\n")
	m.put(m.dir+"dup.csv", "2,/b,20,2026-11-01\n2,/c,30,2026-11-01\n")
	for _, c := range []struct {
		a    *definition.RedshiftCopyActivity
		want []string
	}{
		{&definition.RedshiftCopyActivity{Connection: "shop", Table: m.table, From: m.dir + "short.csv", Format: definition.FormatCSV, InsertMode: definition.InsertTruncate},
			[]string{"short.csv", "line 2 has 2 fields, the table 4 columns"}},
		{&definition.RedshiftCopyActivity{Connection: "shop", Table: m.table, From: m.dir + "dup.csv", Format: definition.FormatCSV,
			InsertMode: definition.InsertOverwriteExisting, KeyColumns: []string{"id"}}, []string{"NULL or appears more than once"}},
		{&definition.RedshiftCopyActivity{Connection: "shop", Table: strings.Replace(m.table, "page_views", "nope", 1), From: m.dir + "dup.csv",
			Format: definition.FormatCSV, InsertMode: definition.InsertAppend}, []string{"does not exist on connection shop"}},
		{&definition.RedshiftCopyActivity{Connection: "shop", Table: m.table, From: m.dir + "dup.csv", Format: definition.FormatParquet,
			InsertMode: definition.InsertAppend}, []string{"parquet needs a Redshift connection"}},
	} {
		_, _, err := m.run(c.a)
		wantErr(t, err, true, c.want...)
		if got := m.rows(); got != "1|/a|1|∅" {
			t.Errorf("after the failure the table holds\n%s", got)
		}
	}
}
