package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func TestStatusReplicas_TextAndJSONFromTheStateDatabase(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	db, err := state.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLUICE_DATABASE": url}
	if code, out, errOut := run(t, env, "status", "--replicas"); code != 0 || !strings.Contains(out, "no replica shards yet") {
		t.Fatalf("status --replicas on an empty database: %d %q %q", code, out, errOut)
	}
	if code, out, _ := run(t, env, "status", "--replicas", "--output", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("status --replicas --output json on an empty database: %d %q", code, out)
	}

	ctx := context.Background()
	now := time.Now()
	k := state.ShardKey{Replication: "orders", Replica: "eu", Shard: "shardId-000000000001"}
	behind, records := int64(2500), int64(730)
	err = db.InTx(ctx, func(q state.Q) error {
		if _, err := state.AcquireShardLease(ctx, q, k, "vm-7", now, now.Add(time.Minute)); err != nil {
			return err
		}
		return state.ReportShard(ctx, q, k, "vm-7", state.ShardProgress{
			State: state.ShardStopped, Sequence: "4967", Applied: 412, MillisBehind: &behind, RecordsBehind: &records, LastApplied: now.Add(-time.Minute),
			Error: "poison record 4968: relation \"app.missing\" does not exist\nmore",
		}, now)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, env, "status")
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	for _, want := range []string{"replicas\n  replication orders, replica eu\n", "shardId-000000000001     stopped   applied 412  behind 2.5s, ≥ 730 records", "sequence 4967  lease vm-7\n",
		"      error: poison record 4968: relation \"app.missing\" does not exist\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, env, "status", "--replicas", "--output", "json")
	var shards []status.ReplicaShard
	if err := json.Unmarshal([]byte(out), &shards); code != 0 || err != nil || len(shards) != 1 || shards[0].State != "stopped" || !shards[0].LeaseHeld || shards[0].Applied != 412 ||
		shards[0].RecordsBehind == nil || *shards[0].RecordsBehind != 730 || shards[0].RecordsBehindExact {
		t.Fatalf("status --replicas --output json: %d %v %s", code, err, out)
	}
	if code, _, errOut := run(t, env, "status", "--replicas", "orders"); code != 2 || !strings.Contains(errOut, "--replicas takes no PIPELINE") {
		t.Fatalf("status --replicas PIPELINE: %d %s", code, errOut)
	}
}
