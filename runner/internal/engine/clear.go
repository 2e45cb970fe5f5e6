package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// ErrRefused wraps the errors of ClearActivity and MarkRunFailed that say why the run's state
// does not allow the change (as opposed to a run or activity that does not exist, which wraps
// state.ErrNotFound).
var ErrRefused = errors.New("refused")

// ClearActivity runs a finished activity instance of a run again, with every activity
// downstream of it: they become pending (their attempts stay in the history), the run becomes
// running, and the activity's job is queued, in one transaction. It returns the activities
// cleared, the given one first.
//
// The activity must have finished (success, failed or upstream_failed with its dependencies
// succeeded since) and none of its downstream activities may be running or queued: clearing
// work in progress would run it twice.
func (e *Engine) ClearActivity(ctx context.Context, runID int64, act string) ([]string, error) {
	var cleared []string
	err := e.client.inTx(ctx, nil, func(t txn) error {
		q := t.Q()
		if err := state.LockRun(ctx, q, e.db.Dialect, runID); err != nil {
			return err
		}
		run, err := state.GetRun(ctx, q, runID)
		if err != nil {
			return err
		}
		if run.State == status.RunScheduled {
			return fmt.Errorf("run %d of %s has not started: %w: there is nothing to clear", runID, run.Pipeline, ErrRefused)
		}
		p, err := e.pipeline(ctx, q, run.Pipeline, run.Version)
		if err != nil {
			return err
		}
		def := p.Activities[act]
		if def == nil {
			return fmt.Errorf("run %d of %s has no activity %q: %w", runID, run.Pipeline, act, state.ErrNotFound)
		}
		acts, err := state.Activities(ctx, q, runID)
		if err != nil {
			return err
		}
		states := make(map[string]string, len(acts))
		for _, a := range acts {
			states[a.Activity] = a.State
		}
		if !isFinal(states[act]) {
			return fmt.Errorf("activity %s of run %d is %s: %w: only a finished activity can be cleared", act, runID, states[act], ErrRefused)
		}
		for _, dep := range def.DependsOn {
			if states[dep] != status.ActivitySuccess {
				return fmt.Errorf("activity %s of run %d depends on %s, which is %s: %w: clear %s instead", act, runID, dep, states[dep], ErrRefused, dep)
			}
		}
		down := downstream(p, act)
		sort.Strings(down)
		var busy []string
		for _, d := range down {
			if s := states[d]; !isFinal(s) && s != status.ActivityPending {
				busy = append(busy, d+" ("+s+")")
			}
		}
		if len(busy) > 0 {
			return fmt.Errorf("activity %s of run %d: %w: downstream %s still in progress; wait for it to finish", act, runID, ErrRefused, strings.Join(busy, ", "))
		}
		cleared = append([]string{act}, down...)
		if err := state.ClearActivities(ctx, q, runID, cleared); err != nil {
			return err
		}
		if err := state.ReopenRun(ctx, q, runID); err != nil {
			return err
		}
		for _, c := range cleared {
			states[c] = status.ActivityPending
		}
		run.State = status.RunRunning
		return e.queueReady(ctx, t, run, p, states)
	})
	if err != nil {
		return nil, err
	}
	e.log.Info("activity cleared", "run", runID, "activity", act, "cleared", cleared)
	return cleared, nil
}

// MarkRunFailed fails a scheduled or running run now: its unfinished activities and running
// attempts become failed with reason as their error, the run failed, and their jobs are
// cancelled: queued ones never run, and a running attempt's context is cancelled (its process
// is stopped). An attempt that succeeds before its cancellation arrives is still recorded; the
// run then stays failed unless every activity succeeded.
func (e *Engine) MarkRunFailed(ctx context.Context, runID int64, reason string) ([]string, error) {
	var failed []string
	err := e.client.inTx(ctx, nil, func(t txn) error {
		q := t.Q()
		if err := state.LockRun(ctx, q, e.db.Dialect, runID); err != nil {
			return err
		}
		run, err := state.GetRun(ctx, q, runID)
		if err != nil {
			return err
		}
		if run.State != status.RunScheduled && run.State != status.RunRunning {
			return fmt.Errorf("run %d of %s is %s: %w: only a scheduled or running run can be marked failed", runID, run.Pipeline, run.State, ErrRefused)
		}
		acts, err := state.Activities(ctx, q, runID)
		if err != nil {
			return err
		}
		now := e.now()
		for _, a := range acts {
			if isFinal(a.State) {
				continue
			}
			if err := state.SetActivityState(ctx, q, runID, a.Activity, status.ActivityFailed, "", reason, now); err != nil {
				return err
			}
			if a.JobID != nil {
				if err := t.CancelJob(ctx, *a.JobID); err != nil {
					return err
				}
			}
			failed = append(failed, a.Activity)
		}
		// A running attempt ends as failed now: its job's cancellation stops it, and a worker
		// interrupted so records nothing more.
		if err := state.FailRunningAttempts(ctx, q, runID, reason, now); err != nil {
			return err
		}
		return state.FinishRun(ctx, q, runID, status.RunFailed, now)
	})
	if err != nil {
		return nil, err
	}
	e.log.Warn("run marked failed", "run", runID, "activities", failed, "reason", reason)
	return failed, nil
}
