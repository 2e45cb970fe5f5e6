package state

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// TestStartRunsAndQueueActivities: StartRuns moves only scheduled runs and says which;
// QueueActivities marks exactly the given pending instances with their own job ids, across
// statement chunks, and leaves every other instance alone.
func TestStartRunsAndQueueActivities(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		ids := insertRunIDs(t, db, hourlyRuns("p", 0, 4, 3))
		var started []int64
		if err := db.InTx(ctx, func(q Q) error {
			var err error
			if _, err = StartRuns(ctx, q, db.Dialect, ids[:1], testEpoch); err != nil {
				return err
			}
			started, err = StartRuns(ctx, q, db.Dialect, ids[:3], testEpoch) // the first is running already
			return err
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(started)
		if !slices.Equal(started, ids[1:3]) {
			t.Errorf("started %v, want %v", started, ids[1:3])
		}
		if n := count(t, db, `SELECT COUNT(*) FROM sluice_runs WHERE state = $1`, status.RunRunning); n != 3 {
			t.Errorf("%d running runs, want 3", n)
		}

		// Two instances per started run, one of them already queued: 5 of 6 are marked.
		qs := []Queued{}
		for i, id := range ids[:3] {
			qs = append(qs, Queued{RunID: id, Activity: "act00", JobID: int64(100 + 10*i)}, Queued{RunID: id, Activity: "act02", JobID: int64(101 + 10*i)})
		}
		var marked int
		if err := db.InTx(ctx, func(q Q) error {
			if _, err := QueueActivities(ctx, q, db.Dialect, []Queued{{RunID: ids[0], Activity: "act00", JobID: 99}}); err != nil {
				return err
			}
			var err error
			marked, err = QueueActivities(ctx, q, db.Dialect, qs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if marked != 5 {
			t.Errorf("marked %d, want 5", marked)
		}
		for i, id := range ids[:3] {
			for j, act := range []string{"act00", "act02"} {
				a, err := GetActivity(ctx, db.Reader(), id, act)
				if err != nil {
					t.Fatal(err)
				}
				want := int64(100 + 10*i + j)
				if i == 0 && j == 0 {
					want = 99 // queued before: untouched
				}
				if a.State != status.ActivityQueued || a.JobID == nil || *a.JobID != want {
					t.Errorf("run %d %s: %s job %v, want queued job %d", id, act, a.State, a.JobID, want)
				}
			}
			if a, err := GetActivity(ctx, db.Reader(), id, "act01"); err != nil || a.State != status.ActivityPending || a.JobID != nil {
				t.Errorf("run %d act01: %+v %v, want pending without job", id, a, err)
			}
		}
	})
}

// insertRunIDs inserts the runs and returns their ids, in order.
func insertRunIDs(t *testing.T, db *DB, runs []NewRun) []int64 {
	t.Helper()
	var ids []int64
	if err := db.InTx(context.Background(), func(q Q) error {
		created, err := InsertRuns(context.Background(), q, db.Dialect, runs, testEpoch)
		for _, id := range created {
			ids = append(ids, id)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// TestSucceedActivities_ConcurrentBatchesOverTheSameRuns: two runners' success batches over
// the same runs, given in opposite orders, at the same moment, 20 times over: they queue
// behind each other on the runs' rows, neither fails (no deadlock), and no success is lost:
// each batch sees the other's in the run's row it updates, so every run counts all 40.
func TestSucceedActivities_ConcurrentBatchesOverTheSameRuns(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		if db.Dialect != Postgres {
			t.Skip("SQLite has one writer: batches cannot interleave")
		}
		ctx := context.Background()
		const runs, rounds = 20, 20
		ids := insertRunIDs(t, db, hourlyRuns("p", 0, runs, 2*rounds))
		var starts []Start
		for _, id := range ids {
			for i := range 2 * rounds {
				starts = append(starts, Start{RunID: id, Activity: fmt.Sprintf("act%02d", i), JobID: 1})
			}
		}
		if _, err := StartActivities(ctx, db.Reader(), db.Dialect, starts, "r", testEpoch); err != nil {
			t.Fatal(err)
		}
		batch := func(act string, order []int64) []Success {
			out := make([]Success, len(order))
			for i, id := range order {
				out[i] = Success{RunID: id, Activity: act, Attempt: 1}
			}
			return out
		}
		reversed := slices.Clone(ids)
		slices.Reverse(reversed)
		for round := range rounds {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			ready := make(chan struct{})
			for i, order := range [][]int64{ids, reversed} {
				wg.Go(func() {
					<-ready
					errs[i] = db.InTx(ctx, func(q Q) error {
						_, err := SucceedActivities(ctx, q, db.Dialect, batch(fmt.Sprintf("act%02d", 2*round+i), order), testEpoch)
						return err
					})
				})
			}
			close(ready)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, batch %d: %v", round, i, err)
				}
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM sluice_runs WHERE finals = $1`, 2*rounds); n != runs {
			t.Errorf("%d of %d runs count all %d successes", n, runs, 2*rounds)
		}
	})
}
