package subscribe_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

func TestSubscriber_StatementsAppliedInOrderOnEveryReplica(t *testing.T) {
	stream, arn := newStream(t, 2)
	a, b := newReplica(t), newReplica(t)
	dir := publish(t, "", replication("orders", arn, "a", "b"))
	p := newProducer(t, stream)
	for n := 1; n <= 30; n++ {
		p.round(20, n, insertSQL)
	}
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a, "b": b}, replicas: []string{"a", "b"}})
	waitApplied(t, a, p.total(), 60*time.Second)
	waitApplied(t, b, p.total(), 60*time.Second)
	assertEqual(t, "replica a", p.produced(), applied(t, a))
	assertEqual(t, "replica b", p.produced(), applied(t, b))

	// The checkpoint in each replica counts every record, once.
	for _, url := range []string{a, b} {
		var records int64
		queryRow(t, url, `SELECT SUM(records) FROM sluice.replication_checkpoints WHERE replication = 'orders'`, &records)
		if records != int64(p.total()) {
			t.Fatalf("checkpoints count %d records, want %d", records, p.total())
		}
	}
}

func TestSubscriber_RowsAppendedInOrder(t *testing.T) {
	stream, arn := newStream(t, 2)
	a := newReplica(t)
	r := replication("rows", arn, "a")
	r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.t", InsertMode: definition.InsertAppend}
	r.Batch.MaxRecords = 50
	dir := publish(t, "", r)
	p := newProducer(t, stream)
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	for n := 1; n <= 25; n++ {
		p.round(40, n, rowJSON)
	}
	waitApplied(t, a, p.total(), 60*time.Second)
	assertEqual(t, "replica a", p.produced(), applied(t, a))
}

func TestSubscriber_RowsOverwriteExistingKeepsTheLastRowPerKey(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	execSQL(t, a, `CREATE TABLE app.latest (k TEXT PRIMARY KEY, n INTEGER NOT NULL)`)
	r := replication("latest", arn, "a")
	r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.latest", InsertMode: definition.InsertOverwriteExisting, KeyColumns: []string{"k"}}
	dir := publish(t, "", r)
	p := newProducer(t, stream)
	for n := 1; n <= 12; n++ {
		p.round(15, n, rowJSON)
	}
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var keys, atLast int64
		queryRow(t, a, `SELECT COUNT(*), COUNT(*) FILTER (WHERE n = 12) FROM app.latest`, &keys, &atLast)
		if keys == 15 && atLast == 15 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app.latest has %d keys, %d at their last value 12; want 15 and 15", keys, atLast)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func queryRow(t testing.TB, url, sql string, dest ...any) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.QueryRow(context.Background(), sql).Scan(dest...); err != nil {
		t.Fatal(err)
	}
}

// shardStates reads the subscriber's reported states from its state database.
func shardStates(t testing.TB, s *service) []state.SubscriberShard {
	t.Helper()
	out, err := state.SubscriberShards(context.Background(), s.db.Reader())
	if err != nil {
		t.Fatal(err)
	}
	return out
}
