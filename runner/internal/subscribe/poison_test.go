package subscribe_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/notify"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// putOne puts one record with partition key "k000" (so every record lands on one shard, in
// order) and returns its sequence number.
func putOne(t testing.TB, stream string, data []byte) string {
	t.Helper()
	out, err := kinesisClient(t).PutRecord(context.Background(), &kinesis.PutRecordInput{
		StreamName: aws.String(stream), PartitionKey: aws.String("k000"), Data: data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SequenceNumber)
}

// webhook counts the notifications posted to it, on 127.0.0.1.
type webhook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []map[string]any
}

func newWebhook(t testing.TB) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSubscriber_PoisonStopStopsOnTheFailingStatementUntilTheReplicaAcceptsIt(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	hook := newWebhook(t)
	r := replication("stopper", arn, "a")
	r.Poison.Notify = []string{hook.srv.URL}
	dir := publish(t, "", r)
	var lastGood string
	for n := 1; n <= 5; n++ {
		lastGood = putOne(t, stream, []byte(insertSQL("k000", n)))
	}
	poison := putOne(t, stream, []byte("INSERT INTO app.missing (k) VALUES ('x')"))
	for n := 6; n <= 10; n++ {
		putOne(t, stream, []byte(insertSQL("k000", n)))
	}
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}, stopRetry: 500 * time.Millisecond, notifier: notify.New(notify.Options{})})

	waitFor(t, "the shard to stop", 30*time.Second, func() bool {
		st := shardStates(t, s)
		return len(st) == 1 && st[0].State == state.ShardStopped
	})
	st := shardStates(t, s)[0]
	if !strings.Contains(st.LastError, poison) || !strings.Contains(st.LastError, "app.missing") {
		t.Fatalf("last error %q should name the record %s and the missing table", st.LastError, poison)
	}
	if st.Sequence != lastGood {
		t.Fatalf("checkpoint %s, want the record before the poison one, %s", st.Sequence, lastGood)
	}
	time.Sleep(1500 * time.Millisecond) // three retries of the stopped record
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("replica holds %v, want 1..5 and nothing after the poison record", got)
	}
	if hook.count() != 1 {
		t.Fatalf("%d notifications, want 1 (a stopped shard notifies once, not at every retry)", hook.count())
	}

	// The operator fixes the replica: the shard goes on with the record it stopped on.
	execSQL(t, a, `CREATE TABLE app.missing (k TEXT)`)
	waitApplied(t, a, 10, 30*time.Second)
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("replica holds %v, want 1..10", got)
	}
	var missing int
	queryRow(t, a, `SELECT COUNT(*) FROM app.missing`, &missing)
	if missing != 1 {
		t.Fatalf("app.missing has %d rows, want the stopped record's 1", missing)
	}
}

func TestSubscriber_PoisonDeadLetterWritesSkipsAndNotifies_Statements(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	hook := newWebhook(t)
	dlDir := t.TempDir()
	r := replication("dl_statements", arn, "a")
	r.Poison = definition.Poison{Policy: definition.PoisonDeadLetter, DeadLetter: "file://" + dlDir, Notify: []string{hook.srv.URL}}
	dir := publish(t, "", r)

	var poison []string
	putOne(t, stream, []byte(insertSQL("k000", 1)))
	poison = append(poison, putOne(t, stream, []byte("INSERT INTO app.t (k, n) VALUES ('k000', -1)"))) // violates CHECK (n > 0)
	putOne(t, stream, []byte(insertSQL("k000", 2)))
	poison = append(poison, putOne(t, stream, []byte{0xff, 0xfe, 0x00}))                          // not UTF-8: does not decode
	poison = append(poison, putOne(t, stream, []byte(`{"format": "sluice/load.v1"}`)))            // a malformed load
	poison = append(poison, putOne(t, stream, []byte("SELEC nonsense")))                          // a syntax error
	poison = append(poison, putOne(t, stream, []byte("BEGIN; "+insertSQL("k000", 9)+"; COMMIT"))) // would end the batch's transaction
	putOne(t, stream, []byte(insertSQL("k000", 3)+"; "+insertSQL("k000", 4)))                     // two statements in a record
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}, notifier: notify.New(notify.Options{})})

	waitApplied(t, a, 4, 30*time.Second)
	waitFor(t, "5 notifications", 10*time.Second, func() bool { return hook.count() == 5 })
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("replica holds %v, want 1..4 with the poison records skipped", got)
	}
	for _, seq := range poison {
		path := filepath.Join(dlDir, "dl_statements", "a", shardStates(t, s)[0].Shard, seq+".json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("dead letter of %s: %v", seq, err)
		}
		var dl map[string]any
		if err := json.Unmarshal(data, &dl); err != nil {
			t.Fatal(err)
		}
		if dl["sequence_number"] != seq || dl["error"] == "" {
			t.Fatalf("dead letter %s: %s", path, data)
		}
	}
	waitFor(t, "the checkpoint past every record", 10*time.Second, func() bool {
		var records, deadLetters int64
		queryRow(t, a, `SELECT records, dead_letters FROM sluice.replication_checkpoints WHERE replication = 'dl_statements'`, &records, &deadLetters)
		return records == 3 && deadLetters == 5
	})
	if st := shardStates(t, s)[0]; st.State != state.ShardReading || st.LastError != "" {
		t.Fatalf("shard %+v: want reading without error (dead letters do not stop it)", st)
	}
}

func TestSubscriber_PoisonDeadLetterSkipsRowsThatViolateTheTable(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	dlDir := t.TempDir()
	r := replication("dl_rows", arn, "a")
	r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.t", InsertMode: definition.InsertAppend}
	r.Poison = definition.Poison{Policy: definition.PoisonDeadLetter, DeadLetter: "file://" + dlDir}
	dir := publish(t, "", r)
	bad := map[string]string{}
	putOne(t, stream, []byte(rowJSON("k000", 1)))
	bad[putOne(t, stream, []byte(`{"k": "k000", "n": -5}`))] = "check constraint"  // violates CHECK (n > 0)
	bad[putOne(t, stream, []byte(`{"k": "k000"}`))] = "null value"                 // n NOT NULL
	bad[putOne(t, stream, []byte(`{"k": "k000", "n": "many"}`))] = "invalid input" // not an integer
	bad[putOne(t, stream, []byte(`{"k": "k000", "n": 9, "colour": "red"}`))] = "no column colour"
	bad[putOne(t, stream, []byte(`[1, 2]`))] = "not a JSON object"
	putOne(t, stream, []byte(rowJSON("k000", 2)))
	putOne(t, stream, []byte(rowJSON("k000", 3)))
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})

	waitApplied(t, a, 3, 30*time.Second)
	waitFor(t, "5 dead letters", 10*time.Second, func() bool {
		var n int64
		queryRow(t, a, `SELECT dead_letters FROM sluice.replication_checkpoints WHERE replication = 'dl_rows'`, &n)
		return n == 5
	})
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("replica holds %v, want 1, 2, 3", got)
	}
	shardID := shardStates(t, s)[0].Shard
	for seq, why := range bad {
		data, err := os.ReadFile(filepath.Join(dlDir, "dl_rows", "a", shardID, seq+".json"))
		if err != nil {
			t.Fatalf("dead letter of %s (%s): %v", seq, why, err)
		}
		if !strings.Contains(string(data), why) {
			t.Fatalf("dead letter of %s should say %q: %s", seq, why, data)
		}
	}
}

func TestSubscriber_PoisonStopOnARowThatViolatesTheTable(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	r := replication("stop_rows", arn, "a")
	r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.t", InsertMode: definition.InsertAppend}
	dir := publish(t, "", r)
	putOne(t, stream, []byte(rowJSON("k000", 1)))
	putOne(t, stream, []byte(rowJSON("k000", 2)))
	poison := putOne(t, stream, []byte(`{"k": "k000", "n": 0}`)) // violates CHECK (n > 0)
	putOne(t, stream, []byte(rowJSON("k000", 3)))
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}, stopRetry: time.Hour})
	waitFor(t, "the shard to stop", 30*time.Second, func() bool {
		st := shardStates(t, s)
		return len(st) == 1 && st[0].State == state.ShardStopped
	})
	st := shardStates(t, s)[0]
	if !strings.Contains(st.LastError, poison) || !strings.Contains(st.LastError, "check constraint") {
		t.Fatalf("last error %q should name record %s and the check constraint", st.LastError, poison)
	}
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("replica holds %v, want 1, 2 and nothing from the poison record on", got)
	}
}

func TestSubscriber_RowsWaitForAMissingTableInsteadOfDeadLetteringThem(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	dlDir := t.TempDir()
	r := replication("not_yet", arn, "a")
	r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.later", InsertMode: definition.InsertAppend}
	r.Poison = definition.Poison{Policy: definition.PoisonDeadLetter, DeadLetter: "file://" + dlDir}
	dir := publish(t, "", r)
	putOne(t, stream, []byte(`{"k": "k000", "n": 1}`))
	putOne(t, stream, []byte(`{"k": "k000", "n": 2}`))
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	waitFor(t, "the shard retrying on the missing table", 30*time.Second, func() bool {
		st := shardStates(t, s)
		return len(st) == 1 && st[0].State == state.ShardRetrying && strings.Contains(st[0].LastError, "app.later does not exist")
	})
	if entries, _ := os.ReadDir(dlDir); len(entries) != 0 {
		t.Fatalf("rows were dead-lettered for a missing table: %v", entries)
	}
	execSQL(t, a, `CREATE TABLE app.later (k TEXT, n INTEGER)`)
	waitFor(t, "the rows once the table exists", 60*time.Second, func() bool {
		var n int
		queryRow(t, a, `SELECT COUNT(*) FROM app.later`, &n)
		return n == 2
	})
}

// A batch of SQL records is sent to the replica as one script; a record that leaves a quote
// open must not run on into the next one and make a statement neither record holds. Here the
// second record would drop the table if it were read as the end of the first's string.
func TestSubscriber_RecordsNeverRunOnIntoTheNextInABatch(t *testing.T) {
	stream, arn := newStream(t, 1)
	a := newReplica(t)
	dir := publish(t, "", replication("joined", arn, "a"))
	putOne(t, stream, []byte(insertSQL("k000", 1)))
	poison := putOne(t, stream, []byte(`SELECT E'a\'`))
	putOne(t, stream, []byte(`'; DROP TABLE app.t; --`))
	putOne(t, stream, []byte(insertSQL("k000", 2)))
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}, stopRetry: 500 * time.Millisecond})
	waitFor(t, "the shard to stop", 30*time.Second, func() bool {
		st := shardStates(t, s)
		return len(st) == 1 && st[0].State == state.ShardStopped
	})
	if st := shardStates(t, s)[0]; !strings.Contains(st.LastError, poison) {
		t.Fatalf("last error %q should name the unterminated record %s", st.LastError, poison)
	}
	if got := applied(t, a)["k000"]; !slices.Equal(got, []int{1}) { // app.t still exists
		t.Fatalf("replica holds %v, want 1 and nothing from the poison record on", got)
	}
}
