package precond_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/precond"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

type stateRuns struct{ db *state.DB }

func (s stateRuns) Covered(ctx context.Context, pipeline string, from, to time.Time) (bool, time.Time, error) {
	return state.Covered(ctx, s.db.Reader(), pipeline, from, to)
}

// A daily report waits for the hourly loads of its day: it holds once all 24 have succeeded.
func TestPoke_PipelineHoldsOnceTheUpstreamRunsCoverTheInterval(t *testing.T) {
	ctx := context.Background()
	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := precond.New(storage.New(nil), noConns(t), precond.WithRuns(stateRuns{db}))
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	w := &definition.WaitFor{Pipeline: &definition.WaitForPipeline{Name: "hourly_load",
		Start: day.Format(time.RFC3339), End: day.AddDate(0, 0, 1).Format(time.RFC3339)}}
	var runs []state.NewRun
	for h := range 24 {
		s := day.Add(time.Duration(h) * time.Hour)
		runs = append(runs, state.NewRun{Pipeline: "hourly_load", IntervalStart: s, IntervalEnd: s.Add(time.Hour), Version: "v",
			Trigger: state.TriggerSchedule, MaxActive: 1, Activities: map[string]string{"a": "shell"}})
	}
	var ids map[int64]int64
	if err := db.InTx(ctx, func(q state.Q) error {
		ids, err = state.InsertRuns(ctx, q, db.Dialect, runs, day)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for h, r := range runs {
		if poke(t, p, w) {
			t.Fatalf("holds with %d of 24 hours done", h)
		}
		if err := db.InTx(ctx, func(q state.Q) error {
			return state.FinishRun(ctx, q, ids[state.Micros(r.IntervalStart)], status.RunSuccess, day)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !poke(t, p, w) {
		t.Error("does not hold with every hour done")
	}
}

func TestPoke_PipelineWithBadBoundsOrNoStateFailsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		p    activity.Poker
		w    definition.WaitForPipeline
		want string
	}{
		{precond.New(storage.New(nil), noConns(t)), definition.WaitForPipeline{Name: "a", Start: "2026-11-18T00:00:00Z", End: "2026-11-19T00:00:00Z"}, "no state database"},
		{precond.New(storage.New(nil), noConns(t), precond.WithRuns(stateRuns{})), definition.WaitForPipeline{Name: "a", Start: "yesterday", End: "2026-11-19T00:00:00Z"}, "wait_for.pipeline.start"},
		{precond.New(storage.New(nil), noConns(t), precond.WithRuns(stateRuns{})), definition.WaitForPipeline{Name: "a", Start: "2026-11-19T00:00:00Z", End: "2026-11-18T00:00:00Z"}, "not after start"},
	} {
		_, err := tc.p.Poke(context.Background(), &definition.WaitFor{Pipeline: &tc.w})
		if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want a permanent one containing %q", tc.w, err, tc.want)
		}
	}
}
