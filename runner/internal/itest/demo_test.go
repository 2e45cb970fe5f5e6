package itest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/demo"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// TestWorkedCaseEndToEnd is `make demo` as a test: the worked case applied by the real
// Terraform with the provider built from this tree, then backfilled by sluice-runner — files in,
// local EMR streaming step, COPY into PostgreSQL, checks — and `status` shows 7 successful runs
// and the table's freshness.
func TestWorkedCaseEndToEnd(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := demo.Run(ctx, demo.Options{Root: repoRoot, Dir: filepath.Join(t.TempDir(), "demo"),
		Terraform: tf, Provider: provider, Runner: runnerBin, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	p := res.Pipeline
	if p.Name != "web_logs_daily" || p.Owner != "data-platform@acme.example" {
		t.Errorf("pipeline %q owned by %q", p.Name, p.Owner)
	}
	if p.Counts[status.RunSuccess] != demo.Days || len(p.Counts) != 1 {
		t.Errorf("run counts %v, want %d successful runs and nothing else", p.Counts, demo.Days)
	}
	for _, r := range p.Runs {
		if r.Trigger != "backfill" || r.State != status.RunSuccess {
			t.Errorf("run %s %s, want a successful backfill", r.Trigger, r.State)
		}
		for _, a := range r.Activities {
			// qa_freshness is severity warn: while old days load, the table may be stale, and
			// that is a warning on a green run. Every other activity must be clean.
			if a.State != status.ActivitySuccess || (a.ID != "qa_freshness" && len(a.Warnings) > 0) {
				t.Errorf("activity %s: %s %v", a.ID, a.State, a.Warnings)
			}
		}
	}
	fresh := false
	for _, f := range p.Freshness {
		if f.Subject == "web.page_views" && time.Since(f.Value) < 48*time.Hour {
			fresh = true
		}
	}
	if !fresh {
		t.Errorf("no recent freshness for web.page_views: %+v", p.Freshness)
	}
	if res.Rows != res.Lines || res.Rows == 0 {
		t.Errorf("web.page_views has %d rows, the logs %d distinct requests", res.Rows, res.Lines)
	}
	if t.Failed() {
		t.Log(out.String())
	}
}
