package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/notify"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/precond"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

func fileRegistry(t *testing.T) registry.Registry {
	t.Helper()
	reg, err := registry.Open(context.Background(), "file://"+t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func put(t testing.TB, reg registry.Registry, p *definition.Pipeline) {
	t.Helper()
	data, err := definition.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), registry.PipelineKey(p.Name), data); err != nil {
		t.Fatal(err)
	}
}

func shellPipeline(name string, mut ...func(*definition.Pipeline)) *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: name, Owner: "o@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1h", Start: t0.Format(time.RFC3339), Catchup: true, MaxActiveRuns: 3},
		Parameters: map[string]string{"tag": "v1"},
		Activities: map[string]*definition.Activity{"only": {Shell: &definition.ShellActivity{Command: []string{"true"}}}},
	}
	for _, f := range mut {
		f(p)
	}
	return p
}

func countRuns(t *testing.T, db *state.DB, pipeline string) (total, success int) {
	t.Helper()
	runs, err := state.RecentRuns(context.Background(), db.Reader(), pipeline, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.State == status.RunSuccess {
			success++
		}
	}
	return len(runs), success
}

// TestSchedulerFollowsTheInjectedClock: catch-up runs for every ended interval, then one more
// per hour as the clock moves; never two runs of one interval.
func TestSchedulerFollowsTheInjectedClock(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		reg := fileRegistry(t)
		put(t, reg, shellPipeline("sched"))
		noop := map[string]activity.Executor{definition.KindShell: activity.Noop}
		h := start(t, url, noop, func(o *engine.Options) { o.Registry, o.Schedule = reg, true })
		h.setNow(t0.Add(5*time.Hour + 10*time.Minute))
		waitRuns(t, h, "sched", 5)
		h.setNow(t0.Add(7*time.Hour + 1*time.Minute))
		waitRuns(t, h, "sched", 7)
		time.Sleep(200 * time.Millisecond) // several more ticks at the same time
		if total, _ := countRuns(t, h.db, "sched"); total != 7 {
			t.Errorf("%d runs, want 7", total)
		}
	})
}

func (h *harness) setNow(t time.Time) { h.now.Store(&t) }

func waitRuns(t *testing.T, h *harness, pipeline string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		total, success := countRuns(t, h.db, pipeline)
		if success >= n {
			if total != n {
				t.Fatalf("%d runs, want %d", total, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs succeeded in time (%d exist)", success, n, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentPlanningIsUnique: two engines on one PostgreSQL database plan the same 200
// catch-up intervals at the same moment; the unique (pipeline, interval, seq) key leaves exactly
// one run per interval, and max_active_runs holds across both (SQLite is one runner by design:
// its file is locked).
func TestConcurrentPlanningIsUnique(t *testing.T) {
	url := acctest.NewPostgresDatabase(t)
	reg := fileRegistry(t)
	put(t, reg, shellPipeline("raced", func(p *definition.Pipeline) { p.Schedule.MaxActiveRuns = 1 }))
	var engines []*engine.Engine
	for range 2 {
		db, err := state.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		e, err := engine.New(engine.Options{DB: db, Registry: reg, Schedule: true,
			Executors: map[string]activity.Executor{definition.KindShell: activity.Noop},
			Now:       func() time.Time { return t0.Add(200 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(engines))
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.Tick(context.Background())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := state.OpenReadOnly(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := state.RecentRuns(context.Background(), db.Reader(), "raced", 100000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	running := 0
	for _, r := range runs {
		seen[r.IntervalStart.Unix()]++
		if r.State == status.RunRunning {
			running++
		}
	}
	if len(runs) != 200 || len(seen) != 200 {
		t.Errorf("%d runs over %d intervals, want 200 and 200", len(runs), len(seen))
	}
	if running != 1 {
		t.Errorf("%d runs started, want 1 (max_active_runs = 1 across both schedulers)", running)
	}
}

// TestRunsFinishOnTheVersionTheyStartedWith: a new version published while a run is running
// applies to the next run only.
func TestRunsFinishOnTheVersionTheyStartedWith(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		reg := fileRegistry(t)
		release := make(chan struct{})
		var mu sync.Mutex
		seen := map[int64][]string{}
		exec := activity.ExecutorFunc(func(ctx context.Context, task *activity.Task) (*activity.Result, error) {
			mu.Lock()
			seen[task.RunID] = append(seen[task.RunID], task.ActivityID+"="+task.Activity.Shell.Command[1])
			mu.Unlock()
			if task.ActivityID == "first" && task.Interval.Start.Equal(t0) {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return &activity.Result{}, nil
		})
		v1 := shellPipeline("versioned", func(p *definition.Pipeline) {
			p.Schedule.Catchup = false
			p.Activities = map[string]*definition.Activity{
				"first":  {Shell: &definition.ShellActivity{Command: []string{"echo", "{{ .Params.tag }}"}}},
				"second": {DependsOn: []string{"first"}, Shell: &definition.ShellActivity{Command: []string{"echo", "{{ .Params.tag }}"}}},
			}
		})
		h := start(t, url, map[string]activity.Executor{definition.KindShell: exec})
		id1, _, err := h.e.RunInterval(context.Background(), v1, t0, false)
		if err != nil {
			t.Fatal(err)
		}
		v2 := shellPipeline("versioned", func(p *definition.Pipeline) {
			p.Schedule.Catchup = false
			p.Parameters["tag"] = "v2"
			p.Activities = v1.Activities
		})
		put(t, reg, v2)
		id2, _, err := h.e.RunInterval(context.Background(), v2, t0.Add(time.Hour), false)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, h, []int64{id2})
		close(release)
		runs := wait(t, h, []int64{id1, id2})
		if runs[0].Version == runs[1].Version {
			t.Fatalf("both runs on version %s", runs[0].Version)
		}
		mu.Lock()
		defer mu.Unlock()
		if got := seen[id1]; len(got) != 2 || got[0] != "first=v1" || got[1] != "second=v1" {
			t.Errorf("run 1 (started on v1) ran %v", got)
		}
		if got := seen[id2]; len(got) != 2 || got[1] != "second=v2" {
			t.Errorf("run 2 (started on v2) ran %v", got)
		}
	})
}

// TestWaitForPokesUntilTheKeyExists uses the real precondition checker on a file:// key.
func TestWaitForPokesUntilTheKeyExists(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		dir := t.TempDir()
		ready := filepath.Join(dir, "_READY")
		var ran sync.Map
		exec := activity.ExecutorFunc(func(_ context.Context, task *activity.Task) (*activity.Result, error) {
			ran.Store(task.ActivityID, true)
			return &activity.Result{}, nil
		})
		h := start(t, url, map[string]activity.Executor{definition.KindShell: exec}, func(o *engine.Options) {
			o.Poker = precond.New(storage.New(nil), nil)
		})
		p := shellPipeline("waiting", func(p *definition.Pipeline) {
			p.Activities = map[string]*definition.Activity{
				"gated": {WaitFor: &definition.WaitFor{S3KeyExists: "file://" + ready, PokeInterval: "50ms", Timeout: "1m"},
					Shell: &definition.ShellActivity{Command: []string{"true"}}},
				"never": {WaitFor: &definition.WaitFor{S3KeyExists: "file://" + filepath.Join(dir, "_NEVER"), PokeInterval: "50ms", Timeout: "300ms"},
					Shell: &definition.ShellActivity{Command: []string{"true"}}},
			}
		})
		id, _, err := h.e.RunInterval(context.Background(), p, t0, false)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
		if _, ok := ran.Load("gated"); ok {
			t.Fatal("gated ran before its key existed")
		}
		if err := os.WriteFile(ready, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		runs := wait(t, h, []int64{id})
		acts, err := state.Activities(context.Background(), h.db.Reader(), id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]state.ActivityRow{}
		for _, a := range acts {
			got[a.Activity] = a
		}
		if g := got["gated"]; g.State != status.ActivitySuccess || g.Pokes < 2 {
			t.Errorf("gated: %s after %d pokes", g.State, g.Pokes)
		}
		if n := got["never"]; n.State != status.ActivityFailed || !contains(n.Error, "wait_for timed out after 300ms") {
			t.Errorf("never: %s %q", n.State, n.Error)
		}
		if _, ok := ran.Load("never"); ok {
			t.Error("never ran although its precondition never held")
		}
		if runs[0].State != status.RunFailed {
			t.Errorf("run %s, want failed", runs[0].State)
		}
	})
}

// TestFailureNotifiesTheWebhook: the notification job is queued with the run's end and
// delivered by the real sender to a webhook on 127.0.0.1.
func TestFailureNotifiesTheWebhook(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		hook, got := webhookSink(t)
		fail := activity.ExecutorFunc(func(context.Context, *activity.Task) (*activity.Result, error) {
			return nil, activity.Permanent(errBoom)
		})
		sender := notify.New(notify.Options{})
		h := start(t, url, map[string]activity.Executor{definition.KindShell: fail}, func(o *engine.Options) {
			o.Notifier = webhookNotifier{sender}
		})
		p := shellPipeline("alerting", func(p *definition.Pipeline) {
			p.Notify = &definition.Notify{OnFailure: []string{hook}}
		})
		id, _, err := h.e.RunInterval(context.Background(), p, t0, false)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, h, []int64{id})
		select {
		case m := <-got:
			if m["event"] != "failure" || m["pipeline"] != "alerting" || m["activity"] != "only" || m["owner"] != "o@example.com" {
				t.Errorf("notification: %v", m)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no notification")
		}
	})
}

type webhookNotifier struct{ s *notify.Sender }

func (n webhookNotifier) Notify(ctx context.Context, target string, m engine.Notification) error {
	return n.s.Send(ctx, target, notify.Message{Event: m.Event, Pipeline: m.Pipeline, Owner: m.Owner, RunID: m.RunID,
		IntervalStart: m.IntervalStart, IntervalEnd: m.IntervalEnd, Activity: m.Activity, Error: m.Error})
}

var errBoom = &boomError{}

type boomError struct{}

func (*boomError) Error() string { return "boom" }

// TestLateNotifiesScheduledRunsOnly: on_late fires once for a scheduled run still unfinished
// `after` its interval ended, and never for a manual run of an even older interval.
func TestLateNotifiesScheduledRunsOnly(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		hook, got := webhookSink(t)
		release := make(chan struct{})
		block := activity.ExecutorFunc(func(ctx context.Context, _ *activity.Task) (*activity.Result, error) {
			select {
			case <-release:
				return &activity.Result{}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		reg := fileRegistry(t)
		late := func(p *definition.Pipeline) {
			p.Notify = &definition.Notify{OnLate: &definition.OnLate{After: "30m", Targets: []string{hook}}}
		}
		put(t, reg, shellPipeline("sla", late))
		// Two scheduled intervals have ended: [t0, t0+1h) is 70 minutes late, [t0+1h, t0+2h) 10.
		now := t0.Add(2*time.Hour + 10*time.Minute)
		h := start(t, url, map[string]activity.Executor{definition.KindShell: block}, func(o *engine.Options) {
			o.Registry, o.Schedule, o.Notifier = reg, true, webhookNotifier{notify.New(notify.Options{})}
			o.Now = func() time.Time { return now }
		})
		t.Cleanup(func() { close(release) }) // runs before the engine stops
		// A manual run of the same late interval, of a pipeline with the same on_late: not scheduled.
		if _, _, err := h.e.RunInterval(context.Background(), shellPipeline("sla_manual", late), t0, false); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m["event"] != "late" || m["pipeline"] != "sla" || m["interval_start"] != t0.Format(time.RFC3339) {
				t.Errorf("notification: %v", m)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no late notification")
		}
		time.Sleep(300 * time.Millisecond) // many more ticks: no second message for that run, none for the others
		select {
		case m := <-got:
			t.Errorf("unexpected notification: %v", m)
		default:
		}
	})
}

// webhookSink is a webhook on 127.0.0.1 that hands each JSON message it receives to the
// returned channel.
func webhookSink(t *testing.T) (string, <-chan map[string]any) {
	t.Helper()
	got := make(chan map[string]any, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		got <- m
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook", got
}
