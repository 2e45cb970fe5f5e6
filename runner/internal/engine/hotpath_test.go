package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The statement budget of the hot path, per activity, counted by the engine over everything
// its job transactions do for a backfill: starting the runs, starting and finishing each
// activity, queueing the dependents, finishing the runs (River's own fetching and completing
// are not counted: River does the same for plain jobs). Activities starting or finishing
// together share their statements and commits (group commit), as River's jobs share its
// fetches and completions: with as many workers as `make bench` gives River (100), the budget
// is 4 statements and 2 commits per activity on both databases.
//
// A runner working one activity at a time shares nothing. Its figures are held to a looser
// bound, only to catch a regression: SQLite, without data-modifying CTEs, runs the parts of
// each step one by one (in-process calls, in the same transaction; its commits are what
// cost).
var lonelyBudget = map[state.Dialect]float64{state.Postgres: 4, state.SQLite: 8}

// TestStatementsPerActivity counts the statements and commits per activity of a backfill of a
// pipeline with dependencies (a → {b, c}, c → d) and holds them to the budgets.
func TestStatementsPerActivity(t *testing.T) {
	for _, tc := range []struct {
		workers, runs int
		budget        func(state.Dialect) float64
	}{
		{100, 50, func(state.Dialect) float64 { return 4 }},
		{1, 6, func(d state.Dialect) float64 { return lonelyBudget[d] }},
	} {
		t.Run(fmt.Sprintf("%d workers", tc.workers), func(t *testing.T) {
			drivers(t, func(t *testing.T, url string) {
				h := start(t, url, nil, func(o *engine.Options) { o.Workers = tc.workers })
				p := pipeline("counted")
				plan, err := h.e.Backfill(context.Background(), p, t0, t0.Add(time.Duration(tc.runs)*time.Hour), engine.ReprocessNone, tc.runs)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range wait(t, h, plan.Created) {
					if r.State != status.RunSuccess {
						t.Fatalf("run %d: %s", r.ID, r.State)
					}
					for act, s := range activityStates(t, h, r.ID) {
						if s != status.ActivitySuccess {
							t.Fatalf("run %d activity %s: %s", r.ID, act, s)
						}
					}
				}
				stmts, commits := h.e.Totals()
				acts := float64(tc.runs * len(p.Activities))
				perAct, commitsPerAct := float64(stmts)/acts, float64(commits)/acts
				t.Logf("%s, %d workers: %d statements and %d commits for %.0f activities: %.2f statements and %.2f commits per activity",
					h.db.Dialect, tc.workers, stmts, commits, acts, perAct, commitsPerAct)
				if budget := tc.budget(h.db.Dialect); perAct > budget {
					t.Errorf("%.2f statements per activity, budget %.0f", perAct, budget)
				}
				// At most two per activity (start, finish), plus the one transaction per 50
				// runs that the backfill started them in, and one of the loop's first tick,
				// which may start some of them first.
				if limit := int64(2*acts) + int64(tc.runs+49)/50 + 1; commits > limit {
					t.Errorf("%d commits for %.0f activities: more than 2 per activity, 1 per 50 runs started and 1 of a tick", commits, acts)
				}
			})
		})
	}
}

// TestDependentsQueuedByTheLastDependency: d depends on b and c, which finish at the same
// time many times over; d must run exactly once per run, queued by whichever of b and c
// finished last (the run row orders them), and every run must finish.
func TestDependentsQueuedByTheLastDependency(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		h := start(t, url, nil)
		p := pipeline("diamond", func(p *definition.Pipeline) {
			p.Activities = map[string]*definition.Activity{
				"a": {}, "b": {DependsOn: []string{"a"}}, "c": {DependsOn: []string{"a"}}, "d": {DependsOn: []string{"b", "c"}},
			}
		})
		const runs = 20
		plan, err := h.e.Backfill(context.Background(), p, t0, t0.Add(runs*time.Hour), engine.ReprocessNone, runs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range wait(t, h, plan.Created) {
			if r.State != status.RunSuccess {
				t.Fatalf("run %d: %s", r.ID, r.State)
			}
			atts, err := state.Attempts(context.Background(), h.db.Reader(), r.ID, "d")
			if err != nil {
				t.Fatal(err)
			}
			if len(atts) != 1 {
				t.Errorf("run %d: d ran %d times, want once", r.ID, len(atts))
			}
		}
	})
}
