package itest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/demo"
)

// TestReplicasDemo_KillReshardOutageEndIdentical is `make demo-replicas` as a test, at the small
// size: examples/multi-region applied by the real Terraform with the provider built from this
// tree, a subscriber runner per replica, one of them SIGKILLed mid-batch and restarted, the
// stream resharded 2 → 4 while the producer puts, a replica away meanwhile; every replica ends
// with exactly what was produced (rows and order-sensitive sums per table, every record
// checkpointed, no dead letter) and `replicas verify` finds the three identical.
func TestReplicasDemo_KillReshardOutageEndIdentical(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" || os.Getenv("TF_ACC") == "" {
		t.Skip("needs TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make test sets both)")
	}
	bin := t.TempDir()
	provider := filepath.Join(bin, "terraform-provider-sluice")
	build := exec.Command("go", "build", "-o", provider, ".")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var out bytes.Buffer
	size := demo.SmallSize
	res, err := demo.RunReplicas(ctx, demo.ReplicasOptions{
		Options: demo.Options{Root: repoRoot, Dir: filepath.Join(t.TempDir(), "demo"), Terraform: tf, Provider: provider, Runner: runnerBin, Out: &out},
		Size:    size,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if p := res.Problems(); len(p) > 0 {
		t.Errorf("the replicas differ from what was produced: %v", p)
	}
	// 6 tables produced: events and daily_counts through the pipeline, four through put.
	if len(res.Tables) != 6 {
		t.Errorf("%d tables checked, want 6: %+v", len(res.Tables), res.Tables)
	}
	wantEvents := int64(size.Days * size.EventsPerDay)
	if res.Tables[0].Table != "analytics.events" || res.Tables[0].Expected != wantEvents {
		t.Errorf("first table %s with %d rows expected, want analytics.events with %d", res.Tables[0].Table, res.Tables[0].Expected, wantEvents)
	}
	if res.RowsProduced <= wantEvents || res.Records <= int64(3*size.Days) {
		t.Errorf("the producer put nothing: %d rows, %d records", res.RowsProduced, res.Records)
	}
	if res.Kills != 1 || !strings.Contains(res.KilledDuring, "writing analytics.") {
		t.Errorf("kills %d during %q, want 1 during a batch writing the replicated tables", res.Kills, res.KilledDuring)
	}
	if !strings.Contains(res.Verify, "3 replicas (euw1, use1_a, use1_b), 10 tables: identical") {
		t.Errorf("replicas verify:\n%s", res.Verify)
	}
	// The chaos shows in the lag: the killed replica waits for its dead runner's leases to
	// lapse (10s), the paused one for the outage; the third goes on.
	if lag := res.MaxBehindProducer["use1_b"]; lag < 3*time.Second {
		t.Errorf("use1_b (killed) was at most %s behind the producer: the kill did not stop it", lag)
	}
	if lag := res.MaxBehindProducer["euw1"]; lag < size.Outage/2 {
		t.Errorf("euw1 (away for %s) was at most %s behind the producer: the outage did not stop it", size.Outage, lag)
	}
	if t.Failed() {
		t.Log(out.String())
	}
}
