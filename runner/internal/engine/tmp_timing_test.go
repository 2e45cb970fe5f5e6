package engine

import (
	"context"
	"testing"
	"time"
	"fmt"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

func TestTmpTiming(t *testing.T) {
	ctx := context.Background()
	db, err := state.Open(ctx, acctest.NewPostgresDatabase(t))
	if err != nil { t.Fatal(err) }
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(2 * 365 * 24 * time.Hour)
	e, err := New(Options{DB: db, Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop}, Now: func() time.Time { return now }})
	if err != nil { t.Fatal(err) }
	p := &definition.Pipeline{Format: definition.FormatPipeline, Name: "x", Owner: "o@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: start.Format(time.RFC3339), MaxActiveRuns: 1}, Activities: map[string]*definition.Activity{}}
	for i := range 5 { p.Activities[fmt.Sprintf("a%d", i)] = &definition.Activity{} }
	sched, _ := p.Schedule.Compile()
	ivs := sched.Between(start, start.Add(400*time.Hour))
	t0 := time.Now()
	if err := e.RegisterPipeline(ctx, p); err != nil { t.Fatal(err) }
	t1 := time.Now()
	ids, err := e.createRuns(ctx, p, ivs, state.TriggerBackfill, 400, ReprocessNone)
	if err != nil { t.Fatal(err) }
	t2 := time.Now()
	runs, _ := state.ScheduledRunsOf(ctx, db.Reader(), "x", 400)
	t3 := time.Now()
	for len(runs) > 0 {
		batch := runs[:min(50, len(runs))]
		runs = runs[len(batch):]
		s0, _ := e.client.totals()
		b0 := time.Now()
		if err := e.client.inTx(ctx, nil, func(tx txn) error { _, err := e.startRuns(ctx, tx, "x", batch); return err }); err != nil { t.Fatal(err) }
		s1, _ := e.client.totals()
		t.Logf("batch: %v, %d stmts", time.Since(b0), s1-s0)
	}
	t4 := time.Now()
	t.Logf("register %v create %v (%d) scheduled %v start %v", t1.Sub(t0), t2.Sub(t1), len(ids), t3.Sub(t2), t4.Sub(t3))
}
