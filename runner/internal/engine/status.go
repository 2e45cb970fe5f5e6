package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// StatusOptions choose what Status returns.
type StatusOptions struct {
	// Pipeline limits the result to one pipeline; empty means all.
	Pipeline string
	// Runs is how many recent runs per pipeline to include (with their activities).
	Runs int
	// Failures is how many recent failed attempts per pipeline to include.
	Failures int
	// Offset and Limit choose a page of the pipelines, in name order: Limit 0 means all. Only
	// the page's pipelines are read in full, so a page costs the same however many pipelines
	// the runner knows.
	Offset, Limit int
}

// Status reads the runner's view of its pipelines from the state database: for `status`, the
// status page and the metrics. It needs no River client, so it works beside a running runner.
func Status(ctx context.Context, db *state.DB, now time.Time, opts StatusOptions) ([]status.Pipeline, error) {
	out, _, err := StatusPage(ctx, db, now, opts)
	return out, err
}

// StatusPage is Status for the page of pipelines opts.Offset and opts.Limit choose; total is
// how many pipelines there are in all (with opts.Pipeline, 1).
func StatusPage(ctx context.Context, db *state.DB, now time.Time, opts StatusOptions) (_ []status.Pipeline, total int, _ error) {
	q := db.Reader()
	all, err := state.Pipelines(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	rows := all[:0:0]
	for _, row := range all {
		if opts.Pipeline == "" || row.Name == opts.Pipeline {
			rows = append(rows, row)
		}
	}
	total = len(rows)
	rows = rows[min(max(opts.Offset, 0), len(rows)):]
	if opts.Limit > 0 && len(rows) > opts.Limit {
		rows = rows[:opts.Limit]
	}
	fresh, err := state.Freshness(ctx, q, opts.Pipeline)
	if err != nil {
		return nil, 0, err
	}
	var out []status.Pipeline
	for _, row := range rows {
		ps := status.Pipeline{Name: row.Name, Owner: row.Owner, Enabled: row.Enabled && !row.Removed, Version: row.Version, Freshness: fresh[row.Name]}
		if doc, err := state.Definition(ctx, q, row.Name, row.Version); err == nil {
			if p, err := definition.DecodePipeline(doc); err == nil {
				ps.Description = p.Description
				if p.HasSchedule() {
					ps.Schedule = p.Schedule.Describe()
				}
				ps.Trigger = p.Trigger.Describe()
				if sched, err := p.Schedule.Compile(); err == nil && ps.Enabled {
					if next := sched.NextRuns(now, 1); len(next) > 0 {
						if iv, ok := sched.Next(next[0]); ok {
							end := iv.End.UTC()
							ps.NextRun = &end
						}
					}
				}
			}
		}
		if ps.Counts, err = state.RunCounts(ctx, q, row.Name); err != nil {
			return nil, 0, err
		}
		runs, err := state.RecentRuns(ctx, q, row.Name, max(opts.Runs, 1))
		if err != nil {
			return nil, 0, err
		}
		for i, r := range runs {
			sr, err := runStatus(ctx, q, r, i < opts.Runs)
			if err != nil {
				return nil, 0, err
			}
			if i == 0 {
				last := sr
				ps.LastRun = &last
			}
			if i < opts.Runs {
				ps.Runs = append(ps.Runs, sr)
			}
		}
		if opts.Failures > 0 {
			if ps.RecentFailures, err = state.RecentFailures(ctx, q, row.Name, opts.Failures); err != nil {
				return nil, 0, err
			}
		}
		out = append(out, ps)
	}
	if opts.Pipeline != "" && total == 0 {
		return nil, 0, fmt.Errorf("pipeline %q: %w", opts.Pipeline, state.ErrNotFound)
	}
	return out, total, nil
}

func runStatus(ctx context.Context, q state.Q, r state.RunRow, withActivities bool) (status.Run, error) {
	sr := status.Run{
		ID: r.ID, Pipeline: r.Pipeline, IntervalStart: r.IntervalStart, IntervalEnd: r.IntervalEnd, Seq: r.Seq,
		Version: r.Version, Trigger: r.Trigger, State: r.State, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	if state.IsEventTrigger(r.Trigger) {
		ev, err := state.RunEventSummary(ctx, q, r.ID, statusSample)
		if err != nil {
			return sr, err
		}
		sr.Event = ev
	}
	if !withActivities {
		return sr, nil
	}
	acts, err := state.Activities(ctx, q, r.ID)
	if err != nil {
		return sr, err
	}
	for _, a := range acts {
		sa := status.Activity{ID: a.Activity, Kind: a.Kind, State: a.State, Attempts: a.Attempts, Error: a.Error}
		if a.Result != "" {
			var res activity.Result
			if json.Unmarshal([]byte(a.Result), &res) == nil {
				sa.Summary, sa.Warnings, sa.Details = res.Summary, res.Warnings, res.Details
			}
		}
		sr.Activities = append(sr.Activities, sa)
	}
	return sr, nil
}
