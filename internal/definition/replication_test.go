package definition

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func validReplication() *Replication {
	return &Replication{
		Format: FormatReplication, Name: "warehouse", Owner: "data@acme.example",
		StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
		Replicas: map[string]Replica{
			"use1_a": {Connection: "use1_a", Region: "us-east-1"},
			"euw1":   {Connection: "euw1", Region: "eu-west-1"},
		},
		Records:       Records{Format: RecordsRows, Table: "analytics.clicks", InsertMode: InsertOverwriteExisting, KeyColumns: []string{"id"}},
		Batch:         Batch{MaxRecords: DefaultBatchMaxRecords, MaxBytes: DefaultBatchMaxBytes, MaxLatency: DefaultBatchMaxLatency},
		StartPosition: StartPosition{Type: StartTrimHorizon},
		Poison:        Poison{Policy: PoisonDeadLetter, DeadLetter: "s3://acme/dead/"},
		PollInterval:  DefaultPollInterval,
	}
}

func TestValidateReplication_AcceptsAValidOneAndRoundTrips(t *testing.T) {
	r := validReplication()
	if probs := ValidateReplication(r); len(probs) > 0 {
		t.Fatalf("problems: %v", Problems(probs))
	}
	doc, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeReplication(doc)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version == "" || back.Version != r.Version || back.Records.Table != "analytics.clicks" {
		t.Fatalf("round trip: %+v", back)
	}
	edited := strings.Replace(string(doc), "analytics.clicks", "analytics.other", 1)
	if _, err := DecodeReplication([]byte(edited)); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("an edited document decodes with %v, want a version mismatch", err)
	}
	arn, err := ParseStreamARN(r.StreamARN)
	if err != nil || arn.Region != "us-east-1" || arn.Stream != "changes" || arn.Account != "123456789012" || arn.Partition != "aws" {
		t.Fatalf("ParseStreamARN = %+v, %v", arn, err)
	}
}

func TestValidateReplication_RefusesEachProblemWithItsPath(t *testing.T) {
	tests := []struct {
		name, path, fragment string
		edit                 func(r *Replication)
	}{
		{"stream arn", "stream_arn", "not a Kinesis stream ARN", func(r *Replication) { r.StreamARN = "arn:aws:sns:us-east-1:123456789012:x" }},
		{"no replicas", "replicas", "at least one replica", func(r *Replication) { r.Replicas = nil }},
		{"replica name", "replicas.Bad-Name", "replica name", func(r *Replication) { r.Replicas["Bad-Name"] = Replica{Connection: "x", Region: "us-east-1"} }},
		{"secret in connection", "replicas.euw1.connection", "never a URL or a secret", func(r *Replication) {
			r.Replicas["euw1"] = Replica{Connection: "postgres://u:p@h/db", Region: "eu-west-1"}
		}},
		{"two replicas on one connection", "replicas.use1_a.connection", "apply every change twice", func(r *Replication) {
			r.Replicas["euw1"] = Replica{Connection: "use1_a", Region: "eu-west-1"}
		}},
		{"region", "replicas.euw1.region", "not an AWS region", func(r *Replication) { r.Replicas["euw1"] = Replica{Connection: "euw1", Region: "Europe"} }},
		{"iam role", "replicas.euw1.iam_role", "not an IAM role ARN", func(r *Replication) {
			r.Replicas["euw1"] = Replica{Connection: "euw1", Region: "eu-west-1", IAMRole: "redshift-copy"}
		}},
		{"record format", "format", `"csv" is not one of statements, rows`, func(r *Replication) { r.Records.Format = "csv" }},
		{"rows table", "table", "schema-qualified", func(r *Replication) { r.Records.Table = "clicks" }},
		{"rows insert mode", "insert_mode", `"TRUNCATE" is not one of APPEND`, func(r *Replication) { r.Records.InsertMode = InsertTruncate }},
		{"rows keys", "key_columns", "needs key_columns", func(r *Replication) { r.Records.KeyColumns = nil }},
		{"statements with a table", "table", "apply only to format = \"rows\"", func(r *Replication) { r.Records.Format = RecordsStatements }},
		{"max_records", "max_records", "between 1 and 10000", func(r *Replication) { r.Batch.MaxRecords = 0 }},
		{"max_bytes", "max_bytes", "between 1048576", func(r *Replication) { r.Batch.MaxBytes = 10 }},
		{"max_latency", "max_latency", "not a duration", func(r *Replication) { r.Batch.MaxLatency = "soon" }},
		{"poll_interval zero", "poll_interval", "more than 0", func(r *Replication) { r.PollInterval = "0s" }},
		{"start position", "start_position", "is not one of TRIM_HORIZON", func(r *Replication) { r.StartPosition.Type = "EARLIEST" }},
		{"at timestamp", "start_timestamp", "needs one", func(r *Replication) { r.StartPosition.Type = StartAtTimestamp }},
		{"poison policy", "poison", "is not one of stop, dead_letter", func(r *Replication) { r.Poison.Policy = "skip" }},
		{"dead letter", "dead_letter", "must start with s3:// or file://", func(r *Replication) { r.Poison.DeadLetter = "/tmp/dead" }},
		{"notify", "poison_notify.0", "neither an SNS topic ARN", func(r *Replication) { r.Poison.Notify = []string{"ops@acme.example"} }},
		{"name", "name", "replication name", func(r *Replication) { r.Name = ".." }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validReplication()
			tc.edit(r)
			for _, p := range ValidateReplication(r) {
				if p.Path == tc.path && strings.Contains(p.Message, tc.fragment) {
					return
				}
			}
			t.Fatalf("problems %v; want %s containing %q", Problems(ValidateReplication(r)), tc.path, tc.fragment)
		})
	}
}

func TestReplicationReadLoad_WarnsOverFiveCallsPerShard(t *testing.T) {
	r := validReplication()
	if calls, over := r.ReadLoad(); calls != 2 || over {
		t.Fatalf("two replicas polling every 1s: %v calls/s, over %v", calls, over)
	}
	r.PollInterval = "200ms"
	if calls, over := r.ReadLoad(); calls != 10 || !over {
		t.Fatalf("two replicas polling every 200ms: %v calls/s, over %v", calls, over)
	}
}

func TestDecodeChange_SQLOrLoadAndPoison(t *testing.T) {
	c, err := DecodeChange([]byte("  INSERT INTO a.b VALUES (1);\n"))
	if err != nil || c.SQL != "INSERT INTO a.b VALUES (1);" || c.Load != nil {
		t.Fatalf("SQL record: %+v, %v", c, err)
	}
	c, err = DecodeChange([]byte(`{"format":"sluice/load.v1","table":"a.b","files":["s3://x/1.csv"],"file_format":"csv","insert_mode":"APPEND"}`))
	if err != nil || c.Load == nil || c.Load.Table != "a.b" || c.ID != "" {
		t.Fatalf("load record: %+v, %v", c, err)
	}
	c, err = DecodeChange([]byte(`{"format":"sluice/change.v1","id":"run/7/put/0","sql":"DELETE FROM a.b"}`))
	if err != nil || c.ID != "run/7/put/0" || c.SQL != "DELETE FROM a.b" {
		t.Fatalf("change record: %+v, %v", c, err)
	}
	c, err = DecodeChange([]byte(`{"format":"sluice/change.v1","id":"run/7/put/1","load":{"format":"sluice/load.v1","table":"a.b","files":["s3://x/1.csv"],"file_format":"csv","insert_mode":"APPEND"}}`))
	if err != nil || c.ID != "run/7/put/1" || c.Load == nil {
		t.Fatalf("change record with a load: %+v, %v", c, err)
	}
	for in, frag := range map[string]string{
		"":                   "empty record",
		"\xff\xfe":           "neither UTF-8 SQL",
		`{"format":"other"}`: `format "other"`,
		`{"format":"sluice/load.v1","table":"b","files":[],"file_format":"csv","insert_mode":"APPEND"}`: "at least one file",
		`{"nope":1}`: `no "format" field`,
		`{"format":"sluice/change.v1","id":"a/1"}`:                                                                         "set exactly one of sql and load",
		`{"format":"sluice/change.v1","sql":"SELECT 1"}`:                                                                   "id must be 1 to 512 bytes",
		`{"format":"sluice/change.v1","id":"a/1","sql":"x","extra":1}`:                                                     "unknown field",
		`{"format":"sluice/load.v1","table":"a.b","files":["s3://x/1.csv"],"file_format":"csv","insert_mode":"APPEND"} {}`: "after top-level value",
	} {
		if _, err := DecodeChange([]byte(in)); err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("DecodeChange(%q) = %v, want an error containing %q", in, err, frag)
		}
	}
}

func TestFlowingCallGap_SharesTheShardsFiveCallsAmongTheReplicas(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 200 * time.Millisecond, 3: 600 * time.Millisecond, 5: time.Second} {
		r := &Replication{Replicas: map[string]Replica{}}
		for i := range n {
			r.Replicas[fmt.Sprint("r", i)] = Replica{Connection: "c"}
		}
		if got := r.FlowingCallGap(); got != want {
			t.Errorf("%d replicas: gap %s, want %s", n, got, want)
		}
	}
}
