package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// A 10-year backfill at 1-minute intervals planned 5,260,320 runs without asking (issue 11,
// item 6). The count that decides whether it may is made first, walking the schedule without
// building any run.
func TestCountBackfill_TenYearsOfMinutesIsCountedWithoutPlanning(t *testing.T) {
	ctx := context.Background()
	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	from := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := to.Add(30 * time.Second) // the last interval, 23:59–00:00, has ended; the next not
	e, err := engine.New(engine.Options{DB: db, Executors: map[string]activity.Executor{definition.KindShell: activity.Noop}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline("minutely", func(p *definition.Pipeline) {
		p.Schedule = definition.Schedule{Every: "1m", Start: from.Format(time.RFC3339), MaxActiveRuns: 1}
	})
	began := time.Now()
	c, err := e.CountBackfill(ctx, p, from, to.Add(2*time.Minute), 0)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if c.Runs != 5_260_320 || c.Future != 2 {
		t.Errorf("CountBackfill = %+v, want 5260320 runs and 2 future", c)
	}
	t.Logf("counted %d intervals in %s", c.Runs, took)
	if c, _ := e.CountBackfill(ctx, p, from, to, engine.DefaultBackfillMaxRuns); c.Runs != engine.DefaultBackfillMaxRuns+1 {
		t.Errorf("CountBackfill stopping at the limit = %+v, want limit+1", c)
	}
	// Nothing was planned.
	if ps, err := engine.Status(ctx, db, now, engine.StatusOptions{}); err != nil || len(ps) != 0 {
		t.Errorf("counting planned something: %v, %v", ps, err)
	}
}
