package trigger

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// trigger.after makes one run per upstream run that succeeded after the downstream pipeline was
// first seen, for the same interval, and a restarted runner makes none twice.
func TestAfter_OneRunPerUpstreamSuccessSinceFirstSeen(t *testing.T) {
	ctx := context.Background()
	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := &env{db: db}
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	var ups []state.NewRun
	for d := range 5 {
		s := day.AddDate(0, 0, d)
		ups = append(ups, state.NewRun{Pipeline: "up", IntervalStart: s, IntervalEnd: s.AddDate(0, 0, 1), Version: "v",
			Trigger: state.TriggerSchedule, MaxActive: 1, Activities: map[string]string{"a": "shell"}})
	}
	var ids map[int64]int64
	if err := db.InTx(ctx, func(q state.Q) error {
		ids, err = state.InsertRuns(ctx, q, db.Dialect, ups, day)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	finish := func(i int, runState string) {
		if err := db.InTx(ctx, func(q state.Q) error {
			return state.FinishRun(ctx, q, ids[state.Micros(ups[i].IntervalStart)], runState, time.Now())
		}); err != nil {
			t.Fatal(err)
		}
	}
	finish(0, status.RunSuccess) // before the downstream pipeline existed: not followed
	time.Sleep(10 * time.Millisecond)
	down := &definition.Pipeline{Format: definition.FormatPipeline, Name: "down", Enabled: true,
		Trigger:    &definition.Trigger{After: []string{"up"}},
		Activities: map[string]*definition.Activity{"a": {Shell: &definition.ShellActivity{Command: []string{"true", "{{ ds .Start }}"}}}}}
	e.publish(t, down)
	time.Sleep(10 * time.Millisecond)
	finish(1, status.RunSuccess)
	finish(2, status.RunFailed) // failed: not followed
	finish(3, status.RunSuccess)
	_, stop := e.start(t, nil)
	waitFor(t, "two runs of down", func() bool { return len(runsOf(t, db, "down")) == 2 })
	stop()
	finish(4, status.RunSuccess)
	e.start(t, nil) // a restarted runner: a fresh cursor
	waitFor(t, "three runs of down", func() bool { return len(runsOf(t, db, "down")) == 3 })
	time.Sleep(500 * time.Millisecond) // several polls more
	runs := runsOf(t, db, "down")
	var got []string
	for _, r := range runs {
		got = append(got, r.IntervalStart.Format("2006-01-02")+"/"+r.Trigger)
	}
	if len(runs) != 3 || got[0] != "2026-11-22/after" || got[1] != "2026-11-21/after" || got[2] != "2026-11-19/after" {
		t.Errorf("runs of down %v, want 2026-11-19, 21 and 22 once each", got)
	}
}

func runsOf(t testing.TB, db *state.DB, pipeline string) []state.RunRow {
	t.Helper()
	runs, err := state.RecentRuns(context.Background(), db.Reader(), pipeline, 100)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}
