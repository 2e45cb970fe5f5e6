package subscribe_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a, "b": b}, replicas: []string{"a", "b"}})
	waitApplied(t, a, p.total(), 60*time.Second)
	waitApplied(t, b, p.total(), 60*time.Second)
	assertEqual(t, "replica a", p.produced(), applied(t, a))
	assertEqual(t, "replica b", p.produced(), applied(t, b))

	// Caught up: each shard read to its tip and nothing read is left to apply.
	waitFor(t, "every shard to report 0 records and 0 ms behind", 30*time.Second, func() bool {
		st := shardStates(t, s)
		for _, sh := range st {
			if sh.RecordsBehind == nil || *sh.RecordsBehind != 0 || sh.MillisBehind == nil || *sh.MillisBehind != 0 {
				return false
			}
		}
		return len(st) == 4
	})

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

func TestSubscriber_LoadRecordCopiesItsFilesInTheBatchTransaction(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	execSQL(t, a, `CREATE TABLE app.loaded (k TEXT PRIMARY KEY, n INTEGER NOT NULL)`)
	files := t.TempDir()
	for name, body := range map[string]string{"part-0.csv": "k1,1\nk2,2\n", "part-1.csv": "k3,3\n", "again.csv": "k2,20\nk4,4\n"} {
		if err := os.WriteFile(filepath.Join(files, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dir := publish(t, "", replication("loads", arn, "a"))
	putOne(t, stream, []byte(`{"format": "sluice/load.v1", "table": "app.loaded", "files": ["file://`+files+`/part-0.csv", "file://`+files+`/part-1.csv"], "file_format": "csv", "insert_mode": "APPEND"}`))
	putOne(t, stream, []byte(`{"format": "sluice/load.v1", "table": "app.loaded", "files": ["file://`+files+`/again.csv"], "file_format": "csv", "insert_mode": "OVERWRITE_EXISTING", "key_columns": ["k"]}`))
	putOne(t, stream, []byte(`UPDATE app.loaded SET n = n * 10 WHERE k = 'k1'`))
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	waitFor(t, "the loads and the update", 30*time.Second, func() bool {
		var got string
		queryRow(t, a, `SELECT COALESCE(string_agg(k || '=' || n, ',' ORDER BY k), '') FROM app.loaded`, &got)
		return got == "k1=10,k2=20,k3=3,k4=4"
	})
}

func TestSubscriber_LatestSkipsWhatWasPutBeforeTheReplicaStarted(t *testing.T) {
	stream, arn := newStream(t, 2)
	a := newReplica(t)
	r := replication("latest_start", arn, "a")
	r.StartPosition = definition.StartPosition{Type: definition.StartLatest}
	dir := publish(t, "", r)
	p := newProducer(t, stream)
	p.round(10, 1, insertSQL) // before the replica starts: never applied
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	waitFor(t, "both shards read from LATEST", 30*time.Second, func() bool {
		st := shardStates(t, s)
		return len(st) == 2 && st[0].MillisBehind != nil && st[1].MillisBehind != nil
	})
	after := newProducer(t, stream)
	for n := 2; n <= 4; n++ {
		after.round(10, n, insertSQL)
	}
	waitApplied(t, a, after.total(), 30*time.Second)
	assertEqual(t, "replica a", after.produced(), applied(t, a))
}

func TestSubscriber_AtTimestampStartsWithTheFirstRecordPutAfterIt(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	before := newProducer(t, stream)
	before.round(5, 1, insertSQL)
	// Kinesis stamps arrival times in milliseconds on its own clock: leave a clear gap around the
	// start timestamp so that neither round straddles it.
	time.Sleep(1100 * time.Millisecond)
	start := time.Now().UTC().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	after := newProducer(t, stream)
	after.round(5, 2, insertSQL)
	after.round(5, 3, insertSQL)
	r := replication("from_time", arn, "a")
	r.StartPosition = definition.StartPosition{Type: definition.StartAtTimestamp, Timestamp: start.Format(time.RFC3339)}
	dir := publish(t, "", r)
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	waitApplied(t, a, after.total(), 30*time.Second)
	assertEqual(t, "replica a", after.produced(), applied(t, a))
}

func TestSubscriber_ChangePutTwiceUnderOneIDIsAppliedOnce(t *testing.T) {
	stream, arn := newStream(t, 2)
	a := newReplica(t)
	dir := publish(t, "", replication("envelopes", arn, "a"))
	envelope := func(id, sql string) []byte {
		data, err := json.Marshal(definition.ChangeRecord{Format: definition.FormatChange, ID: id, SQL: sql})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	putOne(t, stream, envelope("attempt-1/0", insertSQL("k000", 1)))
	putOne(t, stream, envelope("attempt-1/0", insertSQL("k000", 1))) // the retried put of the same change
	putOne(t, stream, envelope("attempt-1/1", insertSQL("k000", 2)))
	putOne(t, stream, []byte(insertSQL("k000", 3))) // bare SQL has no id: applied as it comes
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	waitApplied(t, a, 3, 30*time.Second)
	// A copy in a later batch, after the first was committed, is skipped too.
	putOne(t, stream, envelope("attempt-1/0", insertSQL("k000", 1)))
	putOne(t, stream, envelope("attempt-2/0", insertSQL("k000", 4)))
	waitApplied(t, a, 4, 30*time.Second)
	waitFor(t, "every record checkpointed", 30*time.Second, func() bool {
		var records int64
		queryRow(t, a, `SELECT COALESCE(SUM(records), 0) FROM sluice.replication_checkpoints WHERE replication = 'envelopes'`, &records)
		return records == 6
	})
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("replica holds %v, want 1, 2, 3, 4: each change once", got)
	}
	var ids int
	queryRow(t, a, `SELECT COUNT(*) FROM sluice.replication_changes WHERE replication = 'envelopes'`, &ids)
	if ids != 3 {
		t.Fatalf("%d change ids recorded, want 3", ids)
	}
}
