package redshift_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// These run on the real PostgreSQL of catalog_pg_test.go's TestMain.

func weirdTable() redshift.Table {
	return redshift.Table{
		Schema: `raw "clicks"; --`, Name: "événements;",
		Columns: []redshift.Column{
			{Name: "id", Type: "bigint"},
			{Name: `ki"nd`, Type: "varchar(32)", Nullable: true, Default: "'view'", Comment: "What it's about."},
			{Name: "at", Type: "timestamptz", Default: "now()"},
			{Name: "n", Type: "int", Nullable: true, Default: "0"},
		},
		PrimaryKey:  []string{"id", "at"},
		DistStyle:   redshift.DistKey,
		DistKey:     "id",
		SortStyle:   redshift.SortCompound,
		SortKeys:    []string{"at"},
		Backup:      false,
		Description: `Raw; "quoted" and 'single'.`,
	}
}

func createWeird(t *testing.T, cat *redshift.Catalog) (redshift.Table, *redshift.TableState) {
	t.Helper()
	ctx := context.Background()
	want := weirdTable()
	if _, err := cat.CreateSchema(ctx, redshift.Schema{Name: want.Schema}); err != nil {
		t.Fatal(err)
	}
	st, err := cat.CreateTable(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	return want, st
}

func TestCatalogTable_CreateReadsBackExactly(t *testing.T) {
	cat := newCatalog(t)
	want, st := createWeird(t, cat)
	wantCols := []redshift.Column{
		{Name: "id", Type: "bigint"},
		{Name: `ki"nd`, Type: "character varying(32)", Nullable: true, Default: "'view'::character varying", Comment: "What it's about."},
		{Name: "at", Type: "timestamp with time zone", Default: "now()"},
		{Name: "n", Type: "integer", Nullable: true, Default: "0"},
	}
	if !reflect.DeepEqual(st.Columns, wantCols) {
		t.Errorf("columns\n%+v\nwant\n%+v", st.Columns, wantCols)
	}
	if !reflect.DeepEqual(st.PrimaryKey, []string{"id", "at"}) || st.PrimaryKeyName == "" {
		t.Errorf("primary key %q (%q)", st.PrimaryKey, st.PrimaryKeyName)
	}
	if st.Owner != "sluice" || st.Description != want.Description {
		t.Errorf("owner %q, description %q", st.Owner, st.Description)
	}
	// The Redshift attributes are not in a PostgreSQL catalog.
	if st.DistStyle != "" || st.DistKey != "" || len(st.SortKeys) != 0 {
		t.Errorf("PostgreSQL reports Redshift attributes: %+v", st)
	}
	// Read back into the declared form: exactly what was declared.
	got := cat.Dialect().ReadBack(want, *st, redshift.RecordDefaults(want, *st))
	want.Owner = "sluice"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	// The snapshot holds the same.
	snapT, err := cat.Table(context.Background(), want.Key())
	if err != nil || !reflect.DeepEqual(snapT, st) {
		t.Errorf("snapshot %+v, %v", snapT, err)
	}
}

func TestCatalogTable_SnapshotCostDoesNotGrowWithTables(t *testing.T) {
	cat := newCatalog(t)
	ctx := context.Background()
	cost := func() int64 {
		cat.Invalidate()
		before := cat.Queries()
		if _, err := cat.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		return cat.Queries() - before
	}
	if _, err := cat.CreateTable(ctx, redshift.Table{Schema: "public", Name: "t0", Columns: []redshift.Column{{Name: "a", Type: "int", Nullable: true}}}); err != nil {
		t.Fatal(err)
	}
	one := cost()
	for i := 1; i < 30; i++ {
		tb := redshift.Table{Schema: "public", Name: fmt.Sprintf("t%d", i), PrimaryKey: []string{"a"},
			Columns: []redshift.Column{{Name: "a", Type: "int"}, {Name: "b", Type: "text", Nullable: true, Default: "'x'"}}}
		if _, err := cat.CreateTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	if many := cost(); many != one {
		t.Fatalf("snapshot of 30 tables costs %d queries, of 1 table %d", many, one)
	}
	snap, _ := cat.Snapshot(ctx)
	if len(snap.Tables) != 30 || len(snap.Tables[redshift.TableKey{Schema: "public", Name: "t7"}].Columns) != 2 {
		t.Fatalf("snapshot has %d tables", len(snap.Tables))
	}
}

func TestCatalogTable_UpdateInPlace(t *testing.T) {
	cat := newCatalog(t)
	ctx := context.Background()
	cur, _ := createWeird(t, cat)
	want := weirdTable()
	want.Name = "events v2"
	want.Columns = []redshift.Column{
		{Name: "id", Type: "bigint"},
		{Name: `ki"nd`, Type: "varchar(64)", Default: "'click'", Comment: ""},
		{Name: "at", Type: "timestamptz", Nullable: true},
		{Name: "note", Type: "text", Nullable: true, Default: "'n/a'", Comment: "Free text."},
	}
	want.PrimaryKey = []string{"id"}
	want.Description = ""
	st, err := cat.UpdateTable(ctx, cur, want)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []redshift.Column{
		{Name: "id", Type: "bigint"},
		{Name: `ki"nd`, Type: "character varying(64)", Default: "'click'::character varying"},
		{Name: "at", Type: "timestamp with time zone", Nullable: true},
		{Name: "note", Type: "text", Nullable: true, Default: "'n/a'::text", Comment: "Free text."},
	}
	if !reflect.DeepEqual(st.Columns, wantCols) || !reflect.DeepEqual(st.PrimaryKey, []string{"id"}) || st.Description != "" || st.Name != "events v2" {
		t.Errorf("after update\n%+v\nwant columns\n%+v", st, wantCols)
	}
	if _, err := cat.Table(ctx, cur.Key()); !errors.Is(err, redshift.ErrNotFound) {
		t.Errorf("old name still there: %v", err)
	}
	// A change that needs replacement is refused, not half-done.
	next := want
	next.Columns = append([]redshift.Column(nil), want.Columns...)
	next.Columns[0].Type = "int"
	if _, err := cat.UpdateTable(ctx, want, next); !errors.Is(err, redshift.ErrNeedsReplacement) || !strings.Contains(err.Error(), `column "id" type bigint -> int`) {
		t.Errorf("want ErrNeedsReplacement, got %v", err)
	}
}

func TestCatalogTable_DropRefusesDataLoss(t *testing.T) {
	cat, db := newTableCatalog(t)
	ctx := context.Background()
	tb, _ := createWeird(t, cat)
	if err := cat.DropTable(ctx, tb.Key(), false); err != nil {
		t.Fatalf("empty table: %v", err)
	}
	tb2, err := cat.CreateTable(ctx, tb)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, db, "INSERT INTO "+tb2.Key().String()+` (id, at) VALUES (1, now()), (2, now()), (3, now())`); err != nil {
		t.Fatal(err)
	}
	err = cat.DropTable(ctx, tb.Key(), false)
	var dl *redshift.DataLossError
	if !errors.As(err, &dl) || dl.Rows != 3 {
		t.Fatalf("want DataLossError with 3 rows, got %v", err)
	}
	if want := `table "raw ""clicks""; --"."événements;" holds 3 row(s); dropping it would delete them. Set allow_data_loss = true`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant prefix %q", err, want)
	}
	if n, err := cat.RowCount(ctx, tb.Key()); err != nil || n != 3 {
		t.Fatalf("rows after refusal: %d, %v", n, err)
	}
	if err := cat.DropTable(ctx, tb.Key(), true); err != nil {
		t.Fatal(err)
	}
	if err := cat.DropTable(ctx, tb.Key(), false); err != nil {
		t.Errorf("dropping a table that is gone: %v", err)
	}
}

// newTableCatalog is newCatalog that also names its database, for rows written behind the
// catalog's back.
func newTableCatalog(t *testing.T) (*redshift.Catalog, string) {
	t.Helper()
	name := fmt.Sprintf("tbl_%d", dbSeq.Add(1))
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	ex, err := redshift.OpenPgx(context.Background(), pg.URL(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.Close)
	return redshift.NewCatalog(ex), name
}

// cannedExec answers catalog queries from canned rows, for the Redshift catalog, which no local
// database speaks.
type cannedExec struct {
	d       redshift.Dialect
	answer  func(q string) []redshift.Row
	queries []string
}

func (e *cannedExec) Dialect() redshift.Dialect { return e.d }
func (e *cannedExec) Query(_ context.Context, q string) ([]redshift.Row, error) {
	e.queries = append(e.queries, q)
	return e.answer(q), nil
}
func (e *cannedExec) ExecTx(context.Context, ...string) error { return errors.New("read only") }
func (e *cannedExec) Exec(context.Context, string) error      { return errors.New("read only") }
func (e *cannedExec) Queries() int64                          { return int64(len(e.queries)) }
func (e *cannedExec) Close()                                  {}

func row(vs ...string) redshift.Row {
	r := make(redshift.Row, len(vs))
	for i, v := range vs {
		r[i].String, r[i].Valid = v, true
	}
	return r
}

func TestCatalogTable_RedshiftReadsPhysicalAttributes(t *testing.T) {
	ex := &cannedExec{d: redshift.Redshift, answer: func(q string) []redshift.Row {
		switch {
		case strings.Contains(q, "pg_class_info"):
			return []redshift.Row{row("s", "t", "etl", "Events.", "1", "0"), row("s", "u", "etl", "", "11", "1")}
		case strings.Contains(q, "format_encoding"):
			return []redshift.Row{
				row("s", "t", "id", "bigint", "true", "", "", "az64", "true", "2"),
				row("s", "t", "at", "timestamp without time zone", "true", "getdate()", "", "none", "false", "1"),
				row("s", "t", "v", "character varying(256)", "false", "", "Free.", "lzo", "false", "0"),
				row("s", "u", "a", "integer", "false", "", "", "az64", "true", "1"),
				row("s", "u", "b", "integer", "false", "", "", "az64", "false", "-2"),
			}
		case strings.Contains(q, "pg_constraint"):
			return []redshift.Row{row("s", "t", "t_pkey", "id")}
		}
		return nil // other kinds of objects: none
	}}
	snap, err := redshift.NewCatalog(ex).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range ex.queries {
		if strings.Contains(q, "pg_class_info") && !strings.Contains(q, "stv_tbl_perm") {
			t.Errorf("tables query reads no BACKUP flag: %s", q)
		}
	}
	got := snap.Tables[redshift.TableKey{Schema: "s", Name: "t"}]
	want := redshift.TableState{PrimaryKeyName: "t_pkey", Table: redshift.Table{
		Schema: "s", Name: "t", Owner: "etl", Description: "Events.", Backup: false,
		DistStyle: redshift.DistKey, DistKey: "id", SortStyle: redshift.SortCompound, SortKeys: []string{"at", "id"},
		PrimaryKey: []string{"id"},
		Columns: []redshift.Column{
			{Name: "id", Type: "bigint", Encode: redshift.EncodeAZ64},
			{Name: "at", Type: "timestamp without time zone", Default: "getdate()", Encode: redshift.EncodeRaw},
			{Name: "v", Type: "character varying(256)", Nullable: true, Comment: "Free.", Encode: redshift.EncodeLZO},
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	u := snap.Tables[redshift.TableKey{Schema: "s", Name: "u"}]
	if u.DistStyle != redshift.DistAuto || u.DistKey != "" || u.SortStyle != redshift.SortInterleaved ||
		!reflect.DeepEqual(u.SortKeys, []string{"a", "b"}) || !u.Backup {
		t.Errorf("AUTO / interleaved table read as %+v", u)
	}
}
