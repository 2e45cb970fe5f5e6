package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/verify"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// replica opens a fresh PostgreSQL database with the same tables, filled by stmts.
func replica(t *testing.T, name string, stmts ...string) verify.Replica {
	t.Helper()
	ctx := context.Background()
	ex, err := redshift.OpenPgx(ctx, acctest.NewPostgresDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.Close)
	base := []string{
		`CREATE SCHEMA analytics`,
		`CREATE TABLE analytics.clicks (id bigint, url text, at timestamptz, n numeric)`,
		`CREATE TABLE analytics.users (id int PRIMARY KEY, name text)`,
		// the subscribers' checkpoints differ per replica and are never compared
		`CREATE SCHEMA sluice`,
		`CREATE TABLE sluice.checkpoints (shard text, seq text)`,
		`INSERT INTO sluice.checkpoints VALUES (` + ex.Dialect().QuoteLiteral(name) + `, '1')`,
	}
	if err := ex.ExecTx(ctx, append(base, stmts...)...); err != nil {
		t.Fatal(err)
	}
	return verify.Replica{Name: name, Exec: ex}
}

const fill = `INSERT INTO analytics.clicks SELECT g, 'https://x/' || g, '2026-01-01'::timestamptz + g * interval '1 minute', g / 7.0 FROM generate_series(1, 2000) g`

func TestCompare_EqualReplicasWhateverTheOrderOfTheirRows(t *testing.T) {
	a := replica(t, "use1_a", fill, `INSERT INTO analytics.users VALUES (1, 'ann'), (2, NULL)`)
	// the same rows, inserted in the opposite order and then rewritten in place
	b := replica(t, "use1_b", `INSERT INTO analytics.users VALUES (2, NULL), (1, 'ann')`,
		strings.Replace(fill, "generate_series(1, 2000) g", "generate_series(2000, 1, -1) g", 1),
		`UPDATE analytics.clicks SET url = url WHERE id % 2 = 0`)
	res, err := verify.Compare(context.Background(), []verify.Replica{a, b}, definition.Records{Format: definition.RecordsStatements})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal() {
		t.Fatalf("replicas differ: %+v", res.Tables)
	}
	if len(res.Tables) != 2 || res.Tables[0].Table != "analytics.clicks" || res.Tables[0].Sums["use1_a"].Rows != 2000 {
		t.Fatalf("tables = %+v, want analytics.clicks (2000 rows) and analytics.users; never the sluice schema", res.Tables)
	}
}

func TestCompare_NamesEveryDifference(t *testing.T) {
	a := replica(t, "use1_a", fill, `INSERT INTO analytics.users VALUES (1, 'ann'), (2, 'bob')`)
	b := replica(t, "use1_b", fill, `DELETE FROM analytics.clicks WHERE id = 7`, `INSERT INTO analytics.users VALUES (1, 'ann'), (2, 'bob ')`)
	c := replica(t, "euw1", fill, `INSERT INTO analytics.clicks SELECT * FROM analytics.clicks WHERE id = 7`, `INSERT INTO analytics.users VALUES (1, 'ann'), (2, 'bob')`,
		`CREATE TABLE analytics.extra (x int)`)
	res, err := verify.Compare(context.Background(), []verify.Replica{a, b, c}, definition.Records{Format: definition.RecordsStatements})
	if err != nil {
		t.Fatal(err)
	}
	if res.Equal() {
		t.Fatal("replicas reported equal")
	}
	got := map[string]string{}
	for _, tr := range res.Tables {
		got[tr.Table] = strings.Join(tr.Differences, "; ")
	}
	want := map[string]string{
		"analytics.clicks": "row counts differ: use1_a 2000, use1_b 1999, euw1 2001",
		"analytics.extra":  "missing on use1_a, use1_b",
		"analytics.users":  "same row count, different rows",
	}
	for table, frag := range want {
		if !strings.Contains(got[table], frag) {
			t.Errorf("%s: differences %q, want %q", table, got[table], frag)
		}
	}
}

func TestCompare_RowsReplicationComparesItsTableOnly(t *testing.T) {
	a := replica(t, "a", fill, `INSERT INTO analytics.users VALUES (1, 'x')`)
	b := replica(t, "b", fill)
	res, err := verify.Compare(context.Background(), []verify.Replica{a, b}, definition.Records{Format: definition.RecordsRows, Table: "analytics.clicks"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal() || len(res.Tables) != 1 {
		t.Fatalf("rows replication: %+v", res.Tables)
	}
}

func TestCompare_AReplicaThatCannotBeReadIsAnErrorNamingIt(t *testing.T) {
	a := replica(t, "a", fill)
	b := replica(t, "down", fill)
	b.Exec.Close()
	_, err := verify.Compare(context.Background(), []verify.Replica{a, b}, definition.Records{Format: definition.RecordsStatements})
	if err == nil || !strings.HasPrefix(err.Error(), "replica down: ") {
		t.Fatalf("Compare with a closed replica = %v, want an error naming replica down", err)
	}
}
