package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// scaleOutEnv names the state database a runner process of BenchmarkScaleOut works on.
const scaleOutEnv = "SLUICE_BENCH_SCALE_OUT_STATE"

// TestScaleOutRunnerProcess is one runner process of BenchmarkScaleOut, which runs this test
// binary with scaleOutEnv set; run alone, it skips. It starts an engine with the throughput
// benchmark's settings, says "ready" on stdout, and works until its stdin is closed.
func TestScaleOutRunnerProcess(t *testing.T) {
	url := os.Getenv(scaleOutEnv)
	if url == "" {
		t.Skip("a runner process of BenchmarkScaleOut")
	}
	ctx := context.Background()
	db, err := state.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := benchStart.Add(2 * 365 * 24 * time.Hour)
	e, err := engine.New(engine.Options{
		DB:        db,
		Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop},
		Now:       func() time.Time { return now },
		Workers:   benchWorkers, FetchCooldown: benchFetchCooldown, FetchPollInterval: benchFetchPoll, Tick: benchTick,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkScaleOut works the throughput workload (400 runs × 5 noop activities) with 1, 2 and
// 4 runner processes on one PostgreSQL database, each with the throughput benchmark's settings
// (100 workers), and reports activities/s and how many of the runners worked attempts. The
// processes are started and ready before the clock starts; the backfill is planned by this
// process, and the clock stops when the database shows every run finished.
func BenchmarkScaleOut(b *testing.B) {
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("runners=%d", n), func(b *testing.B) {
			b.StopTimer()
			used := 0
			for range b.N {
				used += scaleOutOnce(b, n)
			}
			reportRate(b, benchActivities, "activities/s")
			b.ReportMetric(float64(n), "runners")
			b.ReportMetric(float64(used)/float64(b.N), "runners-that-worked")
		})
	}
}

func scaleOutOnce(b *testing.B, n int) int {
	b.Helper()
	ctx := context.Background()
	url := acctest.NewPostgresDatabase(b)
	db, err := state.Open(ctx, url) // migrated here, once, before the runners start
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var stdins []io.WriteCloser
	var procs []*exec.Cmd
	defer func() {
		for _, in := range stdins {
			_ = in.Close()
		}
		for _, p := range procs {
			if err := p.Wait(); err != nil {
				b.Errorf("runner process: %v", err)
			}
		}
	}()
	for range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestScaleOutRunnerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), scaleOutEnv+"="+url)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		stdins, procs = append(stdins, in), append(procs, cmd)
		lines := bufio.NewScanner(out)
		ready := false
		for lines.Scan() {
			if strings.TrimSpace(lines.Text()) == "ready" {
				ready = true
				break
			}
		}
		if !ready {
			b.Fatal("a runner process ended before it was ready")
		}
		go func() { _, _ = io.Copy(io.Discard, out) }()
	}
	now := benchStart.Add(2 * 365 * 24 * time.Hour)
	planner, err := engine.New(engine.Options{DB: db, Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop},
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	p := benchPipeline("scale_out", benchActsPerRun)

	b.StartTimer()
	plan, err := planner.Backfill(ctx, p, benchStart, benchStart.Add(benchRuns*time.Hour), engine.ReprocessNone, benchRuns)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(benchWaitDeadline)
	for {
		left := scalar(b, db, `SELECT COUNT(*) FROM sluice_runs WHERE state IN ('scheduled', 'running')`)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s, %d of %d runs unfinished", benchWaitDeadline, left, benchRuns)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()

	if len(plan.Created) != benchRuns {
		b.Fatalf("backfill created %d runs, want %d", len(plan.Created), benchRuns)
	}
	if got := scalar(b, db, `SELECT COUNT(*) FROM sluice_activities WHERE state = '`+status.ActivitySuccess+`'`); got != benchActivities {
		b.Fatalf("%d activities succeeded, want %d", got, benchActivities)
	}
	if got := scalar(b, db, `SELECT COUNT(*) FROM sluice_attempts`); got != benchActivities {
		b.Fatalf("%d attempts for %d activities: some ran twice", got, benchActivities)
	}
	return scalar(b, db, `SELECT COUNT(DISTINCT runner) FROM sluice_attempts`)
}

func scalar(b *testing.B, db *state.DB, query string) int {
	b.Helper()
	rows, err := db.Reader().Query(context.Background(), query)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
	return n
}
