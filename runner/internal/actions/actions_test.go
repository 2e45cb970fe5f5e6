package actions_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/actions"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// drivers runs a test against both state databases.
func drivers(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, acctest.NewPostgresDatabase(t)) })
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// pipeline: hourly from t0, a → {b, c}, c → d; no retries, so a failure is final at once.
func pipeline() *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "orders", Owner: "team@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: t0.Format(time.RFC3339), MaxActiveRuns: 4},
		Defaults: definition.Defaults{Retries: 0, RetryDelay: "10ms"},
		Activities: map[string]*definition.Activity{
			"a": {}, "b": {DependsOn: []string{"a"}}, "c": {DependsOn: []string{"a"}}, "d": {DependsOn: []string{"c"}},
		},
	}
	p.Version = mustVersion(p)
	return p
}

func mustVersion(p *definition.Pipeline) string {
	if _, err := definition.Encode(p); err != nil { // sets p.Version
		panic(err)
	}
	return p.Version
}

type fixture struct {
	db    *state.DB
	eng   *engine.Engine
	svc   *actions.Service
	failC atomic.Bool
	runs  atomic.Int64 // attempts executed
}

// setup opens the database and an engine whose executor fails activity c while failC is set.
// start says whether the engine works jobs.
func setup(t *testing.T, url string, start bool, mut ...func(*engine.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	f := &fixture{db: db}
	exec := activity.ExecutorFunc(func(_ context.Context, task *activity.Task) (*activity.Result, error) {
		f.runs.Add(1)
		if task.ActivityID == "c" && f.failC.Load() {
			return nil, errors.New("c broke <b>on purpose</b>")
		}
		return &activity.Result{Summary: "did " + task.ActivityID}, nil
	})
	now := t0.Add(48 * time.Hour)
	opts := engine.Options{
		DB: db, Executors: map[string]activity.Executor{activity.KindNoop: exec, definition.KindShell: exec}, Now: func() time.Time { return now },
		Workers: 4, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, Tick: 20 * time.Millisecond,
	}
	for _, m := range mut {
		m(&opts)
	}
	eng, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.eng = eng
	f.svc = &actions.Service{DB: db, Engine: eng, Now: func() time.Time { return now }}
	if start {
		if err := eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = eng.Stop(sctx)
		})
	}
	return f
}

func (f *fixture) wait(t *testing.T, id int64, want string) state.RunRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runs, err := f.eng.Wait(ctx, []int64{id}, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("waiting for run %d: %v", id, err)
	}
	if runs[0].State != want {
		t.Fatalf("run %d: state %s, want %s", id, runs[0].State, want)
	}
	return runs[0]
}

func (f *fixture) states(t *testing.T, id int64) map[string]string {
	t.Helper()
	acts, err := state.Activities(context.Background(), f.db.Reader(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range acts {
		out[a.Activity] = fmt.Sprintf("%s/%d", a.State, a.Attempts)
	}
	return out
}

func (f *fixture) log(t *testing.T) []state.ActionRecord {
	t.Helper()
	recs, err := state.Actions(context.Background(), f.db.Reader(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// The heart of "clear and rerun": a failed activity and everything downstream run again, in
// the same run, and the run ends as their new outcome says; what is upstream is not run again;
// the old attempts stay in the history, and the retries count afresh.
func TestClear_RerunsTheFailedActivityAndItsDownstreamOnly(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		f := setup(t, url, true)
		ctx := context.Background()
		f.failC.Store(true)
		res, err := f.svc.Trigger(ctx, pipeline(), actions.TriggerRequest{Actor: "cli:alice@host", Start: t0})
		if err != nil {
			t.Fatal(err)
		}
		f.wait(t, res.RunID, status.RunFailed)
		want := map[string]string{"a": "success/1", "b": "success/1", "c": "failed/1", "d": "upstream_failed/0"}
		if got := f.states(t, res.RunID); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after the first run: %v, want %v", got, want)
		}

		// d cannot be cleared alone: its dependency c has not succeeded.
		if _, err := f.svc.ClearActivity(ctx, "api:bob", res.RunID, "d"); !errors.Is(err, actions.ErrConflict) || !strings.Contains(err.Error(), "clear c instead") {
			t.Fatalf("clearing d: %v, want a conflict naming c", err)
		}
		f.failC.Store(false)
		cleared, err := f.svc.ClearActivity(ctx, "web:carol", res.RunID, "c")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(cleared) != "[c d]" {
			t.Fatalf("cleared %v, want [c d]", cleared)
		}
		f.wait(t, res.RunID, status.RunSuccess)
		want = map[string]string{"a": "success/1", "b": "success/1", "c": "success/2", "d": "success/1"}
		if got := f.states(t, res.RunID); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after the clear: %v, want %v", got, want)
		}
		atts, err := state.Attempts(ctx, f.db.Reader(), res.RunID, "c")
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 2 || atts[0].State != status.ActivityFailed || atts[1].State != status.ActivitySuccess {
			t.Fatalf("attempts of c: %+v, want the failed one kept and a successful second", atts)
		}
		// A clear of a successful activity reruns it and its downstream again.
		if cleared, err = f.svc.ClearActivity(ctx, "web:carol", res.RunID, "a"); err != nil || fmt.Sprint(cleared) != "[a b c d]" {
			t.Fatalf("clearing a: %v %v", cleared, err)
		}
		f.wait(t, res.RunID, status.RunSuccess)
		want = map[string]string{"a": "success/2", "b": "success/2", "c": "success/3", "d": "success/2"}
		if got := f.states(t, res.RunID); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after clearing a: %v, want %v", got, want)
		}

		log := f.log(t)
		var lines []string
		for i := len(log) - 1; i >= 0; i-- {
			a := log[i]
			lines = append(lines, fmt.Sprintf("%s %s %s %d %s %s", a.Actor, a.Action, a.Pipeline, a.RunID, a.Activity, a.Outcome))
		}
		wantLog := []string{
			fmt.Sprintf("cli:alice@host trigger orders %d  ok", res.RunID),
			fmt.Sprintf("api:bob clear orders %d d error", res.RunID),
			fmt.Sprintf("web:carol clear orders %d c ok", res.RunID),
			fmt.Sprintf("web:carol clear orders %d a ok", res.RunID),
		}
		if strings.Join(lines, "\n") != strings.Join(wantLog, "\n") {
			t.Fatalf("action log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLog, "\n"))
		}
		if !strings.Contains(log[2].Error, "clear c instead") || log[0].At.IsZero() {
			t.Errorf("refused clear recorded as %+v", log[2])
		}
	})
}

func TestClear_RefusesWhatCannotBeCleared(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		f := setup(t, url, false)
		ctx := context.Background()
		res, err := f.svc.Trigger(ctx, pipeline(), actions.TriggerRequest{Actor: "a", Start: t0})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			run  int64
			act  string
			want error
			text string
		}{
			{res.RunID, "a", actions.ErrConflict, "only a finished activity can be cleared"}, // the run started at once: a is queued
			{res.RunID + 1000, "a", actions.ErrNotFound, "not found"},
		} {
			_, err := f.svc.ClearActivity(ctx, "a", tc.run, tc.act)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("clear %d %s: %v, want %v mentioning %q", tc.run, tc.act, err, tc.want, tc.text)
			}
		}
	})
}

// Mark failed: a run that has not finished fails now, with every unfinished activity naming
// who failed it; a finished run cannot be.
func TestMarkFailed_FailsAnUnfinishedRunOnce(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		f := setup(t, url, false)
		ctx := context.Background()
		res, err := f.svc.Trigger(ctx, pipeline(), actions.TriggerRequest{Actor: "a", Start: t0})
		if err != nil {
			t.Fatal(err)
		}
		failed, err := f.svc.MarkRunFailed(ctx, "web:alice", res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(failed) != "[a b c d]" {
			t.Errorf("failed %v", failed)
		}
		r, err := state.GetRun(ctx, f.db.Reader(), res.RunID)
		if err != nil || r.State != status.RunFailed || r.FinishedAt == nil {
			t.Fatalf("run after mark failed: %+v %v", r, err)
		}
		act, err := state.GetActivity(ctx, f.db.Reader(), res.RunID, "c")
		if err != nil || act.State != status.ActivityFailed || act.Error != "marked failed by web:alice" {
			t.Errorf("activity c: %+v %v", act, err)
		}
		if _, err := f.svc.MarkRunFailed(ctx, "web:alice", res.RunID); !errors.Is(err, actions.ErrConflict) || !strings.Contains(err.Error(), "is failed") {
			t.Errorf("second mark failed: %v, want a conflict", err)
		}
		// The engine, started now, runs nothing of the failed run: its queued jobs settle.
		if err := f.eng.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.eng.Stop(context.Background()) }()
		time.Sleep(300 * time.Millisecond) // a few fetch cycles: nothing must run
		if n := f.runs.Load(); n != 0 {
			t.Errorf("%d attempts ran after the run was marked failed", n)
		}
	})
}

func TestTrigger_RefusalsAreRecordedAndTyped(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		f := setup(t, url, false)
		ctx := context.Background()
		p := pipeline()
		if _, err := f.svc.Trigger(ctx, p, actions.TriggerRequest{Actor: "x", Start: t0}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			req  actions.TriggerRequest
			want error
			text string
		}{
			{actions.TriggerRequest{Actor: "x", Start: t0}, actions.ErrConflict, "already has a run"},
			{actions.TriggerRequest{Actor: "x", Start: t0.Add(30 * time.Minute)}, actions.ErrInvalid, "no interval starting at"},
			{actions.TriggerRequest{Actor: "x", Start: t0.Add(72 * time.Hour)}, actions.ErrConflict, "has not ended yet"},
		} {
			_, err := f.svc.Trigger(ctx, p, tc.req)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("trigger %s: %v, want %v with %q", tc.req.Start, err, tc.want, tc.text)
			}
		}
		// With reprocess, the interval runs again (seq 1).
		res, err := f.svc.Trigger(ctx, p, actions.TriggerRequest{Actor: "x", Start: t0, Reprocess: true})
		if err == nil {
			t.Fatalf("reprocess of a run that is still scheduled planned run %d: want a conflict", res.RunID)
		}
		recs := f.log(t)
		if len(recs) != 5 {
			t.Fatalf("%d actions recorded, want 5", len(recs))
		}
		if recs[1].Outcome != actions.OutcomeError || !strings.Contains(recs[1].Error, "has not ended yet") {
			t.Errorf("refusal recorded as %+v", recs[1])
		}
	})
}

func TestBackfill_CountsThenPlansWithinTheLimit(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		f := setup(t, url, false)
		ctx := context.Background()
		p := pipeline()
		req := actions.BackfillRequest{Actor: "web:alice", From: t0, To: t0.Add(72 * time.Hour)}
		c, err := f.svc.CountBackfill(ctx, p, req)
		if err != nil {
			t.Fatal(err)
		}
		if c.Runs != 48 || c.Future != 24 {
			t.Fatalf("count %+v, want 48 ended and 24 future (now is t0+48h)", c)
		}
		req.MaxRuns = 10
		_, err = f.svc.Backfill(ctx, p, req)
		var tooMany *actions.TooManyRunsError
		if !errors.As(err, &tooMany) || tooMany.Runs != 48 || tooMany.Limit != 10 || !errors.Is(err, actions.ErrConflict) {
			t.Fatalf("backfill over max runs: %v", err)
		}
		req.MaxRuns = 48
		res, err := f.svc.Backfill(ctx, p, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != 48 || res.Future != 24 {
			t.Fatalf("backfill planned %+v", res)
		}
		if _, err := f.svc.Backfill(ctx, p, actions.BackfillRequest{Actor: "x", From: t0, To: t0, Reprocess: "some"}); !errors.Is(err, actions.ErrInvalid) {
			t.Errorf("bad request: %v", err)
		}
		recs := f.log(t)
		if recs[1].Detail != "from 2026-11-01T00:00:00Z to 2026-11-04T00:00:00Z, reprocess none: 48 run(s) planned, 0 already had one, 24 not ended" {
			t.Errorf("backfill recorded as %q", recs[1].Detail)
		}
	})
}

// Pause stops the schedule from creating runs (and only that); unpause lets it catch up.
func TestPause_StopsTheScheduleUntilUnpaused(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		dir := t.TempDir()
		reg, err := registry.Open(context.Background(), "file://"+dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline()
		p.Schedule.Catchup = true
		for _, a := range p.Activities { // a published document must name each activity's kind
			a.Shell = &definition.ShellActivity{Command: []string{"true"}}
		}
		p.Version = mustVersion(p)
		if probs := definition.ValidatePipeline(p); len(probs) > 0 {
			t.Fatal(definition.Problems(probs))
		}
		doc, err := definition.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := reg.Put(ctx, registry.PipelineKey(p.Name), doc); err != nil {
			t.Fatal(err)
		}
		f := setup(t, url, false, func(o *engine.Options) { o.Registry, o.Schedule = reg, true })
		if _, err := f.svc.SetPaused(ctx, "web:alice", "orders", true); !errors.Is(err, actions.ErrNotFound) {
			t.Fatalf("pausing a pipeline the runner has not seen: %v, want not found", err)
		}
		if err := f.eng.RegisterPipeline(ctx, p); err != nil {
			t.Fatal(err)
		}
		if changed, err := f.svc.SetPaused(ctx, "web:alice", "orders", true); err != nil || !changed {
			t.Fatalf("pause: %v %v", changed, err)
		}
		if changed, err := f.svc.SetPaused(ctx, "web:alice", "orders", true); err != nil || changed {
			t.Fatalf("pause again: %v %v, want no change", changed, err)
		}
		if err := f.eng.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			runs, err := state.RecentRuns(ctx, f.db.Reader(), "orders", 1000)
			if err != nil {
				t.Fatal(err)
			}
			return len(runs)
		}
		if n := count(); n != 0 {
			t.Fatalf("a paused pipeline got %d runs", n)
		}
		paused, err := state.PausedPipelines(ctx, f.db.Reader())
		if err != nil || paused["orders"].By != "web:alice" {
			t.Fatalf("paused: %+v %v", paused, err)
		}
		if _, err := f.svc.SetPaused(ctx, "api:bob", "orders", false); err != nil {
			t.Fatal(err)
		}
		if err := f.eng.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 48 {
			t.Fatalf("after unpause: %d runs, want the 48 hourly intervals of two days (catchup)", n)
		}
		recs := f.log(t)
		var got []string
		for _, r := range recs {
			got = append(got, r.Actor+" "+r.Action+" "+r.Outcome+" "+r.Detail)
		}
		want := []string{"api:bob unpause ok unpaused", "web:alice pause ok already paused", "web:alice pause ok paused", "web:alice pause error pause"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("log %q, want %q", got, want)
		}
	})
}
