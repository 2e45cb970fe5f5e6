package redshift_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// BenchmarkPlanRead measures what `terraform plan` costs the database for N sluice_redshift_table
// and N sluice_redshift_grant resources (SELECT on each table to one group): one provider
// process, a fresh Catalog per plan, and every resource's Read looking its object up with the
// domain calls the Read makes. "snapshot" is what the resources do (Catalog.Table,
// Catalog.Grant); "naive" reads each object with its own targeted queries (the read-back path,
// which bypasses the snapshot), for comparison. Reads run one after another; Terraform runs ten at
// a time. Run it with `make bench`.
func BenchmarkPlanRead(b *testing.B) {
	for _, n := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			fx := newPlanFixture(b, n)
			b.Run("snapshot", func(b *testing.B) { fx.bench(b, fx.readSnapshot, true) })
			b.Run("naive", func(b *testing.B) { fx.bench(b, fx.readNaive, false) })
		})
	}
}

// planFixture is one database holding N tables and N grants, with the resources' declarations.
type planFixture struct {
	cat    *redshift.Catalog
	tables []redshift.Table
	grants []redshift.Grant
}

// benchTablesPerBatch bounds one setup batch: every CREATE TABLE in a transaction holds locks
// until it commits, and max_locks_per_transaction is finite.
const benchTablesPerBatch = 50

// newPlanFixture creates, in its own database, a group, a schema and n tables of six columns with
// a primary key and comments, each with SELECT granted to the group — with the SQL the provider
// would send, in a few big batches.
func newPlanFixture(b *testing.B, n int) *planFixture {
	b.Helper()
	ctx := context.Background()
	db := fmt.Sprintf("cat_%d", dbSeq.Add(1))
	if err := pg.CreateDatabase(ctx, db); err != nil {
		b.Fatal(err)
	}
	ex, err := redshift.OpenPgx(ctx, pg.URL(db), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ex.Close)
	fx := &planFixture{cat: redshift.NewCatalog(ex)}
	d := fx.cat.Dialect()

	group := "bench_readers_" + db // roles are cluster-wide; database names are unique
	const schema = "bench"
	stmts := append(d.CreateGroupSQL(redshift.Group{Name: group}),
		d.CreateSchemaSQL(redshift.Schema{Name: schema, Description: "plan benchmark"})...)
	for i := range n {
		t := benchTable(schema, i)
		g := redshift.Grant{
			GranteeType: redshift.GranteeGroup, Grantee: group, ObjectType: redshift.ObjectTable,
			Database: db, Schema: schema, Table: t.Name, Privileges: redshift.NewPrivSet(redshift.Select),
		}
		fx.tables = append(fx.tables, t)
		fx.grants = append(fx.grants, g)
		stmts = append(stmts, d.CreateTableSQL(t)...)
		stmts = append(stmts, d.SetGrantSQL(g, redshift.Held{})...)
		if (i+1)%benchTablesPerBatch == 0 || i == n-1 {
			if err := pg.Exec(ctx, db, strings.Join(stmts, ";\n")); err != nil {
				b.Fatal(err)
			}
			stmts = nil
		}
	}
	fx.check(b)
	return fx
}

func benchTable(schema string, i int) redshift.Table {
	return redshift.Table{
		Schema: schema, Name: fmt.Sprintf("events_%03d", i),
		Columns: []redshift.Column{
			{Name: "id", Type: "bigint"},
			{Name: "tenant", Type: "integer"},
			{Name: "kind", Type: "varchar(32)", Nullable: true, Default: "'view'", Comment: "What happened."},
			{Name: "at", Type: "timestamptz", Default: "now()"},
			{Name: "amount", Type: "numeric(12,2)", Nullable: true, Default: "0"},
			{Name: "payload", Type: "varchar(1024)", Nullable: true, Comment: "Raw event."},
		},
		PrimaryKey:  []string{"tenant", "id"},
		Description: fmt.Sprintf("Benchmark table %d.", i),
	}
}

// check makes sure both read paths see every object as created and agree, so the benchmark
// measures reads that find what they look for.
func (fx *planFixture) check(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	d := fx.cat.Dialect()
	for i, t := range fx.tables {
		st, err := fx.cat.Table(ctx, t.Key())
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Columns) != len(t.Columns) || !reflect.DeepEqual(st.PrimaryKey, t.PrimaryKey) || st.Description != t.Description {
			b.Fatalf("table %s reads back as %+v", t.Key(), st)
		}
		fresh, err := redshift.ReadTableFresh(fx.cat, ctx, t.Key())
		if err != nil || !reflect.DeepEqual(fresh, st) {
			b.Fatalf("table %s: one-object read %+v (%v), snapshot %+v", t.Key(), fresh, err, st)
		}
		if got := d.ReadBack(t, *st, nil); len(got.Columns) != len(t.Columns) {
			b.Fatalf("table %s read back into %+v", t.Key(), got)
		}
		gs, err := fx.cat.Grant(ctx, fx.grants[i])
		if err != nil {
			b.Fatal(err)
		}
		if gs.Privileges != redshift.NewPrivSet(redshift.Select) {
			b.Fatalf("grant on %s reads back %v, want SELECT", t.Key(), gs.Privileges.Strings())
		}
		freshG, err := redshift.ReadGrantFresh(fx.cat, ctx, fx.grants[i])
		if err != nil || !reflect.DeepEqual(freshG, gs) {
			b.Fatalf("grant on %s: one-object read %+v (%v), snapshot %+v", t.Key(), freshG, err, gs)
		}
	}
}

// readSnapshot is what the table and grant resources' Reads do in a plan.
func (fx *planFixture) readSnapshot(ctx context.Context) error {
	d := fx.cat.Dialect()
	for _, t := range fx.tables {
		st, err := fx.cat.Table(ctx, t.Key())
		if err != nil {
			return err
		}
		_ = d.ReadBack(t, *st, nil)
	}
	for _, g := range fx.grants {
		var err error
		if g.Privileges, err = redshift.NormalizePrivileges(g.ObjectType, d, g.Privileges.Strings()); err != nil {
			return err
		}
		if _, err := fx.cat.Grant(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// readNaive is the same plan with every object read by its own targeted queries.
func (fx *planFixture) readNaive(ctx context.Context) error {
	d := fx.cat.Dialect()
	for _, t := range fx.tables {
		st, err := redshift.ReadTableFresh(fx.cat, ctx, t.Key())
		if err != nil {
			return err
		}
		_ = d.ReadBack(t, *st, nil)
	}
	for _, g := range fx.grants {
		var err error
		if g.Privileges, err = redshift.NormalizePrivileges(g.ObjectType, d, g.Privileges.Strings()); err != nil {
			return err
		}
		if _, err := redshift.ReadGrantFresh(fx.cat, ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// bench runs one plan per iteration and reports queries/plan, ms/plan and µs/resource (per table
// and per grant). With fixedCost, a plan must cost exactly one snapshot load, whatever N.
func (fx *planFixture) bench(b *testing.B, read func(context.Context) error, fixedCost bool) {
	ctx := context.Background()
	fx.cat.Invalidate()
	before := fx.cat.Queries()
	if _, err := fx.cat.Snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	perSnapshot := fx.cat.Queries() - before
	before = fx.cat.Queries()
	for b.Loop() {
		fx.cat.Invalidate() // a new plan: a new provider process, a fresh catalog
		if err := read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	queries := float64(fx.cat.Queries()-before) / float64(b.N)
	if fixedCost && queries != float64(perSnapshot) {
		b.Fatalf("a plan of %d tables and %d grants sent %.1f queries; one snapshot is %d", len(fx.tables), len(fx.grants), queries, perSnapshot)
	}
	perPlan := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(queries, "queries/plan")
	b.ReportMetric(perPlan.Seconds()*1e3, "ms/plan")
	b.ReportMetric(float64(perPlan.Nanoseconds())/1e3/float64(len(fx.tables)+len(fx.grants)), "µs/resource")
}
