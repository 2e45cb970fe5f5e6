package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// RegisterPipeline records a pipeline version (as serve does for what it reads from the
// registry), so that status shows it and runs can be planned for it.
func (e *Engine) RegisterPipeline(ctx context.Context, p *definition.Pipeline) error {
	doc, err := definition.Encode(p)
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", p.Name, err)
	}
	now := e.now()
	return e.db.InTx(ctx, func(q state.Q) error {
		if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
			return err
		}
		return state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: p.Enabled, Owner: p.Owner}, now)
	})
}

// BackfillPlan is what Backfill planned.
type BackfillPlan struct {
	// Intervals are the schedule's intervals in [from, to) that have ended.
	Intervals []definition.Interval
	// Created are the ids of the runs created, oldest interval first.
	Created []int64
	// Existing are the intervals skipped because they already have a run.
	Existing int
	// Future is how many intervals in [from, to) have not ended yet and were left out.
	Future int
}

// Backfill plans runs for the pipeline's intervals that start in [from, to) and have ended,
// oldest first; maxActive (0 = the schedule's max_active_runs) caps how many run at once.
// reprocess says what to do with intervals that already have a run.
func (e *Engine) Backfill(ctx context.Context, p *definition.Pipeline, from, to time.Time, reprocess string, maxActive int) (*BackfillPlan, error) {
	switch reprocess {
	case ReprocessNone, ReprocessFailed, ReprocessAll:
	default:
		return nil, fmt.Errorf("reprocess %q: use none, failed or all", reprocess)
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("backfill of %s: --from %s is not before --to %s", p.Name, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if !p.HasSchedule() {
		return nil, errNoSchedule(p)
	}
	sched, err := p.Schedule.Compile()
	if err != nil {
		return nil, fmt.Errorf("pipeline %s schedule: %w", p.Name, err)
	}
	if maxActive <= 0 {
		maxActive = sched.MaxActiveRuns()
	}
	now := e.now()
	plan := &BackfillPlan{}
	for _, iv := range sched.Between(from, to) {
		if iv.End.After(now) {
			plan.Future++
			continue
		}
		plan.Intervals = append(plan.Intervals, iv)
	}
	if len(plan.Intervals) == 0 {
		return plan, nil
	}
	if err := e.RegisterPipeline(ctx, p); err != nil {
		return nil, err
	}
	plan.Created, err = e.createRuns(ctx, p, plan.Intervals, state.TriggerBackfill, maxActive, reprocess)
	if err != nil {
		return nil, err
	}
	plan.Existing = len(plan.Intervals) - len(plan.Created)
	if len(plan.Created) > 0 {
		if err := e.startScheduled(ctx, p.Name, maxActive); err != nil {
			// The runs are planned, and the next tick starts them.
			e.log.Warn("backfill planned; its first runs start at the next tick", "pipeline", p.Name, "error", err)
		}
	}
	return plan, nil
}

// startScheduled starts the pipeline's oldest scheduled runs that fit within max_active_runs
// now, as the next tick would, so that a backfill or a manual run does not wait for it; limit
// is the most that could start (the runs' max_active).
func (e *Engine) startScheduled(ctx context.Context, name string, limit int) error {
	runs, err := state.ScheduledRunsOf(ctx, e.db.Reader(), name, max(limit, 1))
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", name, err)
	}
	return e.promotePipeline(ctx, name, runs)
}

// ErrIntervalExists is returned by RunInterval when the interval has a run and no reprocess
// was asked for.
var ErrIntervalExists = errors.New("the interval already has a run")

// ErrIntervalNotEnded is returned by EndedInterval for an interval that has not ended yet.
var ErrIntervalNotEnded = errors.New("the interval has not ended yet")

// EndedInterval returns the interval of p's schedule that starts at start, with an error
// wrapping ErrIntervalNotEnded, saying when it ends, if it has not ended by the engine's clock.
// Running such an interval is almost always a mistake: its data cannot all exist yet, its
// freshness would lie in the future (hiding stale data from an alert), and once it does come
// due the scheduler skips it, because it already has a run.
func (e *Engine) EndedInterval(p *definition.Pipeline, start time.Time) (definition.Interval, error) {
	iv, _, err := intervalAt(p, start)
	if err != nil {
		return iv, err
	}
	if now := e.now(); iv.End.After(now) {
		return iv, fmt.Errorf("pipeline %s interval %s: %w: it ends at %s, in %s", p.Name, iv, ErrIntervalNotEnded,
			iv.End.UTC().Format(time.RFC3339), iv.End.Sub(now).Round(time.Second))
	}
	return iv, nil
}

// intervalAt is the interval of p's schedule that starts exactly at start.
func intervalAt(p *definition.Pipeline, start time.Time) (definition.Interval, *definition.CompiledSchedule, error) {
	if !p.HasSchedule() {
		return definition.Interval{}, nil, errNoSchedule(p)
	}
	sched, err := p.Schedule.Compile()
	if err != nil {
		return definition.Interval{}, nil, fmt.Errorf("pipeline %s schedule: %w", p.Name, err)
	}
	iv, ok := sched.Next(start)
	if !ok || !iv.Start.Equal(start) {
		hint := "the schedule has no interval there"
		if ok {
			hint = "the next interval starts at " + iv.Start.Format(time.RFC3339)
		}
		return definition.Interval{}, nil, fmt.Errorf("pipeline %s has no interval starting at %s (%s)", p.Name, start.Format(time.RFC3339), hint)
	}
	return iv, sched, nil
}

// RunInterval plans one run of the pipeline for the interval that starts at start. With
// reprocess, an interval that has a finished run gets a new one. It plans an interval that has
// not ended too: callers that must not, check EndedInterval first.
func (e *Engine) RunInterval(ctx context.Context, p *definition.Pipeline, start time.Time, reprocess bool) (int64, definition.Interval, error) {
	iv, sched, err := intervalAt(p, start)
	if err != nil {
		return 0, iv, err
	}
	if err := e.RegisterPipeline(ctx, p); err != nil {
		return 0, iv, err
	}
	mode := ReprocessNone
	if reprocess {
		mode = ReprocessAll
	}
	ids, err := e.createRuns(ctx, p, []definition.Interval{iv}, state.TriggerManual, sched.MaxActiveRuns(), mode)
	if err != nil {
		return 0, iv, err
	}
	if len(ids) == 0 {
		return 0, iv, fmt.Errorf("pipeline %s interval %s: %w (pass --reprocess to run it again)", p.Name, iv, ErrIntervalExists)
	}
	if err := e.startScheduled(ctx, p.Name, sched.MaxActiveRuns()); err != nil {
		e.log.Warn("run planned; it starts at the next tick", "pipeline", p.Name, "run", ids[0], "error", err)
	}
	return ids[0], iv, nil
}

// Wait blocks until every run in ids has finished, calling progress (when not nil) whenever
// the count of finished runs changes. It returns the runs as they finished.
func (e *Engine) Wait(ctx context.Context, ids []int64, poll time.Duration, progress func(done, total int)) ([]state.RunRow, error) {
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	last := -1
	for {
		runs, err := state.RunsByID(ctx, e.db.Reader(), ids)
		if err != nil {
			return nil, err
		}
		done := 0
		for _, r := range runs {
			if r.State == status.RunSuccess || r.State == status.RunFailed {
				done++
			}
		}
		if done != last && progress != nil {
			progress(done, len(ids))
		}
		last = done
		if done == len(ids) {
			return runs, nil
		}
		select {
		case <-ctx.Done():
			return runs, fmt.Errorf("waiting for %d of %d runs: %w", len(ids)-done, len(ids), ctx.Err())
		case <-time.After(poll):
		}
	}
}
