package engine

import (
	"context"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/groupcommit"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The hot path's two writes, start and success, are group-committed: the activities of this
// runner that start (or succeed) at the same time are written together, in one statement and
// one commit on PostgreSQL, as River itself completes jobs in batches. An activity waits for
// its batch's commit before it runs (or before its job is completed), so nothing is
// acknowledged that is not written. When a batch fails as a whole (a deadlock with another
// runner, say), its items are written again one by one, so that one bad item fails alone.

// batchTimeout bounds one batch's write; the callers waiting on it get its error.
const batchTimeout = time.Minute

// started is the outcome of one start: the instance as updated, or ok = false when it is
// final or gone (the job is then settled on the slow path).
type started struct {
	row state.ActivityRow
	ok  bool
}

// success is one successful attempt waiting for its batch.
type success struct {
	run     state.RunRow // possibly partial: what the job carried
	p       *definition.Pipeline
	act     string
	attempt int
	result  string // JSON of res
	log     string
	res     *activity.Result
}

func (e *Engine) newBatchers() {
	limit := max(e.opts.Workers, 1) // a worker waits on at most one item
	e.starts = groupcommit.New(limit, batchTimeout, e.flushStarts)
	e.successes = groupcommit.New(limit, batchTimeout, e.flushSuccesses)
}

// flushStarts writes a batch of starts in one autocommitted statement (PostgreSQL).
func (e *Engine) flushStarts(ctx context.Context, items []state.Start) []groupcommit.Result[started] {
	return eachDistinct(items, func(s state.Start) state.RunKey { return state.RunKey{RunID: s.RunID, Activity: s.Activity} },
		func(batch []state.Start) ([]groupcommit.Result[started], error) {
			var rows map[state.RunKey]state.ActivityRow
			if err := e.client.autocommit(ctx, func(q state.Q) error {
				var err error
				rows, err = state.StartActivities(ctx, q, e.db.Dialect, batch, e.opts.RunnerID, e.now())
				return err
			}); err != nil {
				return nil, err
			}
			out := make([]groupcommit.Result[started], len(batch))
			for i, s := range batch {
				row, ok := rows[state.RunKey{RunID: s.RunID, Activity: s.Activity}]
				out[i].Value = started{row: row, ok: ok}
			}
			return out, nil
		}, e.batchFailed("start"))
}

// flushSuccesses writes a batch of successes in one transaction with what they lead to.
func (e *Engine) flushSuccesses(ctx context.Context, items []*success) []groupcommit.Result[struct{}] {
	return eachDistinct(items, func(s *success) state.RunKey { return state.RunKey{RunID: s.run.ID, Activity: s.act} },
		func(batch []*success) ([]groupcommit.Result[struct{}], error) {
			if err := e.client.inTx(ctx, nil, func(t txn) error { return e.recordSuccesses(ctx, t, batch) }); err != nil {
				return nil, err
			}
			return make([]groupcommit.Result[struct{}], len(batch)), nil
		}, e.batchFailed("success"))
}

// batchFailed logs a batch of writes that failed as a whole and is written again item by item.
func (e *Engine) batchFailed(what string) func(n int, err error) {
	return func(n int, err error) {
		e.log.Warn("a batch of activity writes failed; writing its activities one by one", "write", what, "activities", n, "error", e.scrub(err.Error()))
	}
}

// eachDistinct writes the items that name distinct instances as one batch, and any repeats
// (two jobs of one instance at once) after it one by one; when the batch fails as a whole, its
// items are written one by one too, each getting its own outcome.
//
// fallback (when not nil) is told of a batch that failed as a whole.
func eachDistinct[T, R any](items []T, key func(T) state.RunKey, write func([]T) ([]groupcommit.Result[R], error), fallback func(n int, err error)) []groupcommit.Result[R] {
	out := make([]groupcommit.Result[R], len(items))
	seen := make(map[state.RunKey]bool, len(items))
	var first, again []int
	for i, it := range items {
		if k := key(it); seen[k] {
			again = append(again, i)
		} else {
			seen[k] = true
			first = append(first, i)
		}
	}
	batch := make([]T, len(first))
	for j, i := range first {
		batch[j] = items[i]
	}
	res, err := write(batch)
	switch {
	case err == nil:
		for j, i := range first {
			out[i] = res[j]
		}
	case len(first) == 1:
		out[first[0]].Err = err
	default:
		if fallback != nil {
			fallback(len(first), err)
		}
		again = append(first, again...)
	}
	for _, i := range again {
		res, err := write([]T{items[i]})
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i] = res[0]
	}
	return out
}

// recordSuccesses records a batch of successes: the attempts, instances and runs' rows in one
// statement (PostgreSQL), the freshness they report, then per run either its end (when its
// last activity is among them) or the jobs of the dependents they made ready, all inserted at
// once.
func (e *Engine) recordSuccesses(ctx context.Context, t txn, batch []*success) error {
	q := t.Q()
	now := e.now()
	succ := make([]state.Success, len(batch))
	for i, s := range batch {
		succ[i] = state.Success{RunID: s.run.ID, Activity: s.act, Attempt: s.attempt, Result: s.result, Log: s.log, Candidates: dependents(s.p, s.act)}
	}
	progress, err := state.SucceedActivities(ctx, q, e.db.Dialect, succ, now)
	if err != nil {
		return err
	}
	var params []river.InsertManyParams
	var succeeded []*success // runs whose last activity is here, all activities succeeded
	done := map[int64]bool{}
	for _, s := range batch {
		for subject, v := range s.res.Freshness {
			if err := state.PutFreshness(ctx, q, s.p.Name, subject, v, now); err != nil {
				return err
			}
		}
		if done[s.run.ID] {
			continue
		}
		done[s.run.ID] = true
		prog := progress[s.run.ID]
		if prog.Finals >= len(s.p.Activities) {
			if len(prog.Succeeded) == len(s.p.Activities) && s.p.Notify == nil {
				succeeded = append(succeeded, s)
				continue
			}
			// A failure in the run, or notifications to send: the general path.
			full, err := state.GetRun(ctx, q, s.run.ID)
			if err != nil {
				return err
			}
			if err := e.advance(ctx, t, full, s.p, now); err != nil {
				return err
			}
			continue
		}
		for _, id := range prog.Queued {
			args, opts, err := jobFor(s.run, s.p, id)
			if err != nil {
				return err
			}
			params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
		}
	}
	if len(params) > 0 {
		if _, err := t.InsertMany(ctx, params); err != nil {
			return err
		}
	}
	return e.finishSucceeded(ctx, t, succeeded, now)
}

// finishSucceeded ends runs whose activities all succeeded (and which notify no one) together:
// one statement ends them all, one records each pipeline's freshness, and each pipeline's next
// scheduled runs take the slots they free. It is what advance does for one run, for a batch.
//
// The next runs are started without waiting for the pipeline's promotion lock
// (tryStartNext). The runs it ended are counted and logged once committed: a batch that fails
// is written again item by item, and must not count its runs twice.
func (e *Engine) finishSucceeded(ctx context.Context, t txn, batch []*success, now time.Time) error {
	if len(batch) == 0 {
		return nil
	}
	q := t.Q()
	ids := make([]int64, len(batch))
	for i, s := range batch {
		ids[i] = s.run.ID
	}
	runs, err := state.FinishRuns(ctx, q, e.db.Dialect, ids, status.RunSuccess, now)
	if err != nil {
		return err
	}
	// Per pipeline (usually one): the newest interval finished, and how many runs finished
	// (the slots freed).
	type ended struct {
		latest time.Time
		freed  int
	}
	byPipeline := map[string]*ended{}
	var names []string
	for _, r := range runs {
		x := byPipeline[r.Pipeline]
		if x == nil {
			x = &ended{}
			byPipeline[r.Pipeline] = x
			names = append(names, r.Pipeline)
		}
		if r.IntervalEnd.After(x.latest) {
			x.latest = r.IntervalEnd
		}
		x.freed++
		e.runFinished(t, r, status.RunSuccess, now)
	}
	slices.Sort(names)
	for _, name := range names {
		x := byPipeline[name]
		if err := state.PutFreshness(ctx, q, name, state.FreshnessPipeline, x.latest, now); err != nil {
			return err
		}
		if err := e.tryStartNext(ctx, t, name, x.freed); err != nil {
			return err
		}
	}
	return nil
}
