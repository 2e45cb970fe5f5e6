package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// hourTick makes the loop tick once an hour: in these tests, a run that waited for a tick
// would not finish before the test's deadline.
func hourTick(o *engine.Options) { o.Tick = time.Hour }

// waitFirstTick waits until the loop's first tick (at Start) is over, so that what follows is
// not started by it.
func waitFirstTick(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for h.e.LastTick().IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no first tick after 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoRunWaitsForATick: with a tick of an hour, a backfill with max_active_runs = 1 runs
// to the end — its first run started by the backfill itself, each later one by the run
// before it — and so does a manual run.
func TestNoRunWaitsForATick(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		h := start(t, url, nil, hourTick)
		waitFirstTick(t, h)
		ctx := context.Background()
		p := pipeline("chain")
		const runs = 6
		plan, err := h.e.Backfill(ctx, p, t0, t0.Add(runs*time.Hour), engine.ReprocessNone, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Created) != runs {
			t.Fatalf("backfill created %d runs, want %d", len(plan.Created), runs)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done, err := h.e.Wait(waitCtx, plan.Created, 10*time.Millisecond, nil)
		if err != nil {
			t.Fatalf("the backfill did not finish without a tick: %v", err)
		}
		for _, r := range done {
			if r.State != status.RunSuccess {
				t.Errorf("run %d: %s", r.ID, r.State)
			}
		}
		id, _, err := h.e.RunInterval(ctx, p, t0.Add(10*time.Hour), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.e.Wait(waitCtx, []int64{id}, 10*time.Millisecond, nil); err != nil {
			t.Fatalf("the manual run did not finish without a tick: %v", err)
		}
	})
}

// TestARunFinishingWhileRunsAreBeingStartedKicksTheNext: when a run finishes while another
// transaction holds its pipeline's promotion lock (a backfill starting runs, another runner's
// tick), the finishing batch does not wait for it; the loop is kicked and starts the next run
// once the lock is free, not at the next tick.
func TestARunFinishingWhileRunsAreBeingStartedKicksTheNext(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		release := make(chan struct{})
		blocking := activity.ExecutorFunc(func(ctx context.Context, task *activity.Task) (*activity.Result, error) {
			if task.RunID == 1 {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return &activity.Result{}, nil
		})
		h := start(t, url, map[string]activity.Executor{activity.KindNoop: blocking}, hourTick)
		waitFirstTick(t, h)
		ctx := context.Background()
		p := pipeline("kicked", func(p *definition.Pipeline) {
			p.Activities = map[string]*definition.Activity{"a": {}}
		})
		plan, err := h.e.Backfill(ctx, p, t0, t0.Add(2*time.Hour), engine.ReprocessNone, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Created) != 2 || plan.Created[0] != 1 {
			t.Fatalf("created %v, want runs 1 and 2", plan.Created)
		}
		hold := func() {}
		if h.db.Dialect == state.Postgres {
			// Another transaction holds the lock while run 1 finishes, and a while after.
			tx, err := h.db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := state.LockPipeline(ctx, state.PgxQ(tx), state.Postgres, p.Name); err != nil {
				t.Fatal(err)
			}
			hold = func() {
				time.Sleep(300 * time.Millisecond)
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
				}
			}
		}
		close(release)
		hold()
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done, err := h.e.Wait(waitCtx, plan.Created, 10*time.Millisecond, nil)
		if err != nil {
			t.Fatalf("run 2 did not start without a tick: %v", err)
		}
		for _, r := range done {
			if r.State != status.RunSuccess {
				t.Errorf("run %d: %s", r.ID, r.State)
			}
		}
	})
}
