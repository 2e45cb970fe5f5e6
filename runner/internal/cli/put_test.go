package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// TestPut_PutsSQLAndFilesInCommandLineOrder: put with --sql, --file, --sql puts three changes, in
// that order, on one shard, each with its own id; bad inputs are usage errors that put nothing.
func TestPut_PutsSQLAndFilesInCommandLineOrder(t *testing.T) {
	ctx := context.Background()
	k, err := acctest.StartKinesis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	arn := k.CreateStream(t, "changes", 2)
	r := &definition.Replication{
		Format: definition.FormatReplication, Name: "warehouse", StreamARN: arn,
		Replicas:      map[string]definition.Replica{"a": {Connection: "a", Region: "us-east-1"}},
		Records:       definition.Records{Format: definition.RecordsStatements},
		Batch:         definition.Batch{MaxRecords: 500, MaxBytes: 1 << 20, MaxLatency: "1s"},
		StartPosition: definition.StartPosition{Type: definition.StartTrimHorizon},
		Poison:        definition.Poison{Policy: definition.PoisonStop},
		PollInterval:  "1s",
	}
	doc, err := definition.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"replications/warehouse.json": doc})
	script := filepath.Join(t.TempDir(), "fix.sql")
	if err := os.WriteFile(script, []byte("UPDATE app.t SET v = 'x';\nDELETE FROM app.t WHERE v IS NULL;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLUICE_REGISTRY": "file://" + dir, "AWS_ENDPOINT_URL_KINESIS": k.Endpoint, "AWS_REGION": acctest.Region}

	for _, bad := range []struct {
		args []string
		frag string
	}{
		{[]string{"put", "warehouse"}, "nothing to put"},
		{[]string{"put", "warehouse", "--sql", "  "}, "is empty: nothing to put"},
		{[]string{"put", "warehouse", "--file", filepath.Join(dir, "missing.sql")}, "missing.sql: open"},
		{[]string{"put", "nope", "--sql", "SELECT 1"}, `replication "nope" is not in registry`},
		{[]string{"put", "..", "--sql", "SELECT 1"}, "replication name"},
	} {
		code, out, errOut := run(t, env, bad.args...)
		if code != 2 || !strings.Contains(errOut, bad.frag) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q\n%s", bad.args, code, errOut, bad.frag, out)
		}
	}

	code, out, errOut := run(t, env, "put", "warehouse", "--sql", "CREATE TABLE app.t (v text)", "--file", script, "--sql", "INSERT INTO app.t VALUES ('<script>')", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var res struct {
		PartitionKey string `json:"partition_key"`
		Changes      []struct {
			ID             string `json:"id"`
			SequenceNumber string `json:"sequence_number"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Changes) != 3 || res.PartitionKey != "warehouse" {
		t.Fatalf("output %v:\n%s", err, out)
	}
	want := []string{"CREATE TABLE app.t (v text)", "UPDATE app.t SET v = 'x';\nDELETE FROM app.t WHERE v IS NULL;\n", "INSERT INTO app.t VALUES ('<script>')"}
	var got []definition.Change
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("changes")})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("changes"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs.Records {
			ch, err := definition.DecodeChange(rec.Data)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ch)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d changes in the stream, want 3", len(got))
	}
	for i, ch := range got {
		if ch.SQL != want[i] || ch.ID != res.Changes[i].ID || !strings.HasPrefix(ch.ID, "put/") {
			t.Errorf("change %d = %+v, want %q with id %s", i, ch, want[i], res.Changes[i].ID)
		}
	}
}
