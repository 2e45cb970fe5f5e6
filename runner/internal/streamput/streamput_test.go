package streamput_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/streamput"
)

var kin *acctest.Kinesis

func TestMain(m *testing.M) {
	k, err := acctest.StartKinesis(context.Background())
	if err != nil {
		// acctest names `make tools` when kinesis-local is missing: fail, never skip
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	kin = k
	code := m.Run()
	k.Stop()
	os.Exit(code)
}

// stream creates a stream with shards shards and returns its ARN.
func stream(t *testing.T, name string, shards int32) string { return kin.CreateStream(t, name, shards) }

// records reads every record of every shard of the stream, by shard, in order.
func records(t *testing.T, name string) map[string][]types.Record {
	t.Helper()
	ctx := context.Background()
	c, err := kin.Client()
	if err != nil {
		t.Fatal(err)
	}
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]types.Record{}
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for range 5 {
			got, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Records) > 0 {
				out[aws.ToString(sh.ShardId)] = append(out[aws.ToString(sh.ShardId)], got.Records...)
			}
			iter = got.NextShardIterator
		}
	}
	return out
}

func publish(t *testing.T, reg registry.Registry, r *definition.Replication) {
	t.Helper()
	doc, err := definition.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), registry.ReplicationKey(r.Name), doc); err != nil {
		t.Fatal(err)
	}
}

func replication(name, arn string, format string) *definition.Replication {
	r := &definition.Replication{
		Format: definition.FormatReplication, Name: name, StreamARN: arn,
		Replicas:      map[string]definition.Replica{"a": {Connection: "a", Region: "us-east-1"}, "b": {Connection: "b", Region: "eu-west-1"}},
		Records:       definition.Records{Format: format},
		Batch:         definition.Batch{MaxRecords: 500, MaxBytes: 1 << 20, MaxLatency: "1s"},
		StartPosition: definition.StartPosition{Type: definition.StartTrimHorizon},
		Poison:        definition.Poison{Policy: definition.PoisonStop},
		PollInterval:  "1s",
	}
	if format == definition.RecordsRows {
		r.Records.Table, r.Records.InsertMode = "app.t", definition.InsertAppend
	}
	return r
}

func executor(t *testing.T) (*streamput.Executor, registry.Registry) {
	t.Helper()
	reg, err := registry.Open(context.Background(), "file://"+t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ex := streamput.New(streamput.Options{
		Registry: reg, Store: storage.New(nil),
		Kinesis: func(ctx context.Context, region string) (streamput.Kinesis, error) {
			s := kin.Settings()
			s.Region = region
			c, err := kinesisClient(ctx, s)
			return c, err
		},
	})
	return ex, reg
}

func task(a *definition.StreamPutActivity, attempt int) *activity.Task {
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	return &activity.Task{
		Pipeline: "daily", RunID: 42, ActivityID: "publish", Attempt: attempt,
		Interval: definition.Interval{Start: start, End: start.Add(24 * time.Hour)},
		Activity: &definition.Activity{StreamPut: a}, Log: io.Discard,
	}
}

func decode(t *testing.T, recs []types.Record) []definition.ChangeRecord {
	t.Helper()
	out := make([]definition.ChangeRecord, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Data, &out[i]); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r.Data)
		}
	}
	return out
}

func TestExecute_PutsStatementsInOrderOnOneShardWithIDsThatARetryRepeats(t *testing.T) {
	arn := stream(t, "changes_order", 4)
	ex, reg := executor(t)
	publish(t, reg, replication("warehouse", arn, definition.RecordsStatements))
	stmts := []string{"CREATE TABLE app.t (id int)", "INSERT INTO app.t VALUES (1)", "UPDATE app.t SET id = 2 WHERE id = 1 -- <script>"}
	a := &definition.StreamPutActivity{Replication: "warehouse", Statements: stmts}
	res, err := ex.Execute(context.Background(), task(a, 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "put 3 change(s) into replication warehouse" {
		t.Fatalf("summary %q", res.Summary)
	}
	// The attempt is retried (its runner died after putting): the same changes, the same ids.
	if _, err := ex.Execute(context.Background(), task(a, 2)); err != nil {
		t.Fatal(err)
	}
	byShard := records(t, "changes_order")
	if len(byShard) != 1 {
		t.Fatalf("records on %d shards, want 1 (one partition key)", len(byShard))
	}
	for _, recs := range byShard {
		got := decode(t, recs)
		if len(got) != 6 {
			t.Fatalf("%d records, want 6", len(got))
		}
		for i, c := range got {
			wantID := "daily/2026-11-24T00:00:00Z/run-42/publish/" + string(rune('0'+i%3))
			if c.Format != definition.FormatChange || c.ID != wantID || c.SQL != stmts[i%3] {
				t.Fatalf("record %d = %+v, want id %s sql %q", i, c, wantID, stmts[i%3])
			}
			if aws.ToString(recs[i].PartitionKey) != "warehouse" {
				t.Fatalf("partition key %q, want the replication's name", aws.ToString(recs[i].PartitionKey))
			}
		}
	}
}

func TestExecute_PutsALoadAsOneManifestRecord(t *testing.T) {
	arn := stream(t, "changes_load", 1)
	ex, reg := executor(t)
	publish(t, reg, replication("warehouse", arn, definition.RecordsStatements))
	dir := t.TempDir()
	for _, f := range []string{"part-2.csv", "part-1.csv"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("1,a\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := &definition.StreamPutActivity{Replication: "warehouse", PartitionKey: "clicks", Load: &definition.StreamLoad{
		Table: "app.clicks", From: "file://" + dir + "/", Format: definition.FormatCSV, InsertMode: definition.InsertOverwriteExisting, KeyColumns: []string{"id"},
	}}
	if _, err := ex.Execute(context.Background(), task(a, 1)); err != nil {
		t.Fatal(err)
	}
	var got []definition.ChangeRecord
	for _, recs := range records(t, "changes_load") {
		got = append(got, decode(t, recs)...)
	}
	if len(got) != 1 || got[0].Load == nil {
		t.Fatalf("records %+v, want one load", got)
	}
	l := got[0].Load
	want := []string{"file://" + dir + "/part-1.csv", "file://" + dir + "/part-2.csv"}
	if l.Format != definition.FormatLoadRecord || l.Table != "app.clicks" || !slices.Equal(l.Files, want) || l.InsertMode != definition.InsertOverwriteExisting {
		t.Fatalf("load %+v, want files %v", l, want)
	}
	// what the subscribers read back decodes as a change with its id
	for _, recs := range records(t, "changes_load") {
		c, err := definition.DecodeChange(recs[0].Data)
		if err != nil || c.ID == "" || c.Load == nil {
			t.Fatalf("DecodeChange = %+v, %v", c, err)
		}
	}
}

func TestExecute_BadInputsAreClearErrors(t *testing.T) {
	arn := stream(t, "changes_bad", 1)
	ex, reg := executor(t)
	publish(t, reg, replication("rows_only", arn, definition.RecordsRows))
	empty := t.TempDir()
	for _, tc := range []struct {
		a         *definition.StreamPutActivity
		frag      string
		permanent bool
	}{
		{&definition.StreamPutActivity{Replication: "nope", Statements: []string{"SELECT 1"}}, `replication "nope" is not in registry`, true},
		{&definition.StreamPutActivity{Replication: "rows_only", Statements: []string{"SELECT 1"}}, `carries "rows" records`, true},
		{&definition.StreamPutActivity{Replication: "..", Statements: []string{"SELECT 1"}}, "replication name", true},
	} {
		_, err := ex.Execute(context.Background(), task(tc.a, 1))
		if err == nil || !strings.Contains(err.Error(), tc.frag) || activity.IsPermanent(err) != tc.permanent {
			t.Errorf("%+v: error %v (permanent %v), want %q (permanent %v)", tc.a, err, activity.IsPermanent(err), tc.frag, tc.permanent)
		}
	}
	publish(t, reg, replication("warehouse", arn, definition.RecordsStatements))
	_, err := ex.Execute(context.Background(), task(&definition.StreamPutActivity{Replication: "warehouse", Load: &definition.StreamLoad{
		Table: "app.t", From: "file://" + empty + "/", Format: definition.FormatCSV, InsertMode: definition.InsertAppend,
	}}, 1))
	if err == nil || !strings.Contains(err.Error(), "no files under file://"+empty+"/") || activity.IsPermanent(err) {
		t.Fatalf("a load with no files: %v, want a retryable error naming the prefix", err)
	}
	big := strings.Repeat("x", definition.MaxRecordBytes)
	_, err = ex.Execute(context.Background(), task(&definition.StreamPutActivity{Replication: "warehouse", Statements: []string{"SELECT 1", big}}, 1))
	if err == nil || !strings.Contains(err.Error(), "over Kinesis's record limit") || !strings.Contains(err.Error(), "run-42/publish/1") {
		t.Fatalf("an oversized statement: %v", err)
	}
}
