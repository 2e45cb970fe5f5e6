package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
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

// pipeline is a test pipeline: hourly from t0, with a → {b, c}, c → d.
func pipeline(name string, mut ...func(*definition.Pipeline)) *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: name, Owner: "team@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: t0.Format(time.RFC3339), MaxActiveRuns: 2},
		Defaults: definition.Defaults{Retries: 2, RetryDelay: "10ms"},
		Activities: map[string]*definition.Activity{
			"a": {}, "b": {DependsOn: []string{"a"}}, "c": {DependsOn: []string{"a"}}, "d": {DependsOn: []string{"c"}},
		},
	}
	for _, f := range mut {
		f(p)
	}
	return p
}

type harness struct {
	e   *engine.Engine
	db  *state.DB
	now atomic.Pointer[time.Time]
}

func start(t *testing.T, url string, execs map[string]activity.Executor, mut ...func(*engine.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	h := &harness{db: db}
	now := t0.Add(24 * time.Hour)
	h.now.Store(&now)
	if execs == nil {
		execs = map[string]activity.Executor{}
	}
	if execs[activity.KindNoop] == nil {
		execs[activity.KindNoop] = activity.Noop
	}
	opts := engine.Options{
		DB: db, Executors: execs, Now: func() time.Time { return *h.now.Load() },
		Workers: 4, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, Tick: 20 * time.Millisecond,
	}
	for _, f := range mut {
		f(&opts)
	}
	h.e, err = engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.e.Stop(ctx); err != nil {
			t.Errorf("stopping the engine: %v", err)
		}
	})
	return h
}

func wait(t *testing.T, h *harness, ids []int64) []state.RunRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runs, err := h.e.Wait(ctx, ids, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func activityStates(t *testing.T, h *harness, runID int64) map[string]string {
	t.Helper()
	acts, err := state.Activities(context.Background(), h.db.Reader(), runID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range acts {
		out[a.Activity] = a.State
	}
	return out
}

func TestBackfillRunsEveryIntervalOnce(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		var mu sync.Mutex
		order := map[int64][]string{}
		rec := activity.ExecutorFunc(func(_ context.Context, task *activity.Task) (*activity.Result, error) {
			mu.Lock()
			order[task.RunID] = append(order[task.RunID], task.ActivityID)
			mu.Unlock()
			return &activity.Result{Summary: "ok"}, nil
		})
		h := start(t, url, map[string]activity.Executor{activity.KindNoop: rec})
		p := pipeline("hourly")
		plan, err := h.e.Backfill(context.Background(), p, t0, t0.Add(6*time.Hour), engine.ReprocessNone, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Created) != 6 {
			t.Fatalf("created %d runs, want 6", len(plan.Created))
		}
		runs := wait(t, h, plan.Created)
		for i, r := range runs {
			if r.State != status.RunSuccess {
				t.Errorf("run %d: %s", r.ID, r.State)
			}
			if want := t0.Add(time.Duration(i) * time.Hour); !r.IntervalStart.Equal(want) {
				t.Errorf("run %d starts %s, want %s", r.ID, r.IntervalStart, want)
			}
			got := order[r.ID]
			if len(got) != 4 || got[0] != "a" || pos(got, "c") > pos(got, "d") {
				t.Errorf("run %d ran %v: want a first, c before d, each once", r.ID, got)
			}
		}
		// Planning the same range again creates nothing.
		again, err := h.e.Backfill(context.Background(), p, t0, t0.Add(6*time.Hour), engine.ReprocessNone, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Created) != 0 || again.Existing != 6 {
			t.Fatalf("second backfill created %d, existing %d; want 0 and 6", len(again.Created), again.Existing)
		}
	})
}

func pos(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

func TestRetriesThenFailureMarksDependentsUpstreamFailed(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		var calls atomic.Int32
		flaky := activity.ExecutorFunc(func(_ context.Context, task *activity.Task) (*activity.Result, error) {
			if task.ActivityID == "c" {
				calls.Add(1)
				return nil, errors.New("boom")
			}
			return &activity.Result{}, nil
		})
		h := start(t, url, map[string]activity.Executor{activity.KindNoop: flaky})
		p := pipeline("failing")
		id, _, err := h.e.RunInterval(context.Background(), p, t0, false)
		if err != nil {
			t.Fatal(err)
		}
		runs := wait(t, h, []int64{id})
		if runs[0].State != status.RunFailed {
			t.Fatalf("run state %s, want failed", runs[0].State)
		}
		if got := calls.Load(); got != 3 {
			t.Errorf("c ran %d times, want 3 (1 + 2 retries)", got)
		}
		got := activityStates(t, h, id)
		want := map[string]string{"a": status.ActivitySuccess, "b": status.ActivitySuccess, "c": status.ActivityFailed, "d": status.ActivityUpstreamFailed}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("activity %s: %s, want %s", k, got[k], v)
			}
		}
		atts, err := state.Attempts(context.Background(), h.db.Reader(), id, "c")
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 3 || atts[2].Error != "boom" {
			t.Errorf("attempts of c: %+v", atts)
		}
		// The same interval again is refused without --reprocess, accepted with it.
		if _, _, err := h.e.RunInterval(context.Background(), p, t0, false); !errors.Is(err, engine.ErrIntervalExists) {
			t.Errorf("second run: %v, want ErrIntervalExists", err)
		}
		id2, _, err := h.e.RunInterval(context.Background(), p, t0, true)
		if err != nil {
			t.Fatal(err)
		}
		r2 := wait(t, h, []int64{id2})
		if r2[0].Seq != 1 {
			t.Errorf("reprocessed run seq %d, want 1", r2[0].Seq)
		}
	})
}

func TestPermanentErrorSkipsRetries(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		var calls atomic.Int32
		exec := activity.ExecutorFunc(func(_ context.Context, _ *activity.Task) (*activity.Result, error) {
			calls.Add(1)
			return nil, activity.Permanent(errors.New("bad input"))
		})
		h := start(t, url, map[string]activity.Executor{activity.KindNoop: exec})
		id, _, err := h.e.RunInterval(context.Background(), pipeline("perm"), t0, false)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, h, []int64{id})
		if calls.Load() != 1 {
			t.Errorf("ran %d times, want 1", calls.Load())
		}
	})
}

func TestTimeoutPerAttempt(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		slow := activity.ExecutorFunc(func(ctx context.Context, _ *activity.Task) (*activity.Result, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("interrupted: %w", ctx.Err())
		})
		h := start(t, url, map[string]activity.Executor{activity.KindNoop: slow})
		p := pipeline("slow", func(p *definition.Pipeline) {
			p.Defaults = definition.Defaults{Retries: 0, Timeout: "200ms"}
			p.Activities = map[string]*definition.Activity{"only": {}}
		})
		id, _, err := h.e.RunInterval(context.Background(), p, t0, false)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, h, []int64{id})
		atts, err := state.Attempts(context.Background(), h.db.Reader(), id, "only")
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 1 || atts[0].State != status.ActivityFailed || !contains(atts[0].Error, "timed out after 200ms") {
			t.Fatalf("attempts: %+v", atts)
		}
	})
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || index(s, sub) >= 0) }

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestMaxActiveRuns(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		var running, peak atomic.Int32
		exec := activity.ExecutorFunc(func(_ context.Context, _ *activity.Task) (*activity.Result, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(30 * time.Millisecond)
			running.Add(-1)
			return &activity.Result{}, nil
		})
		h := start(t, url, map[string]activity.Executor{activity.KindNoop: exec}, func(o *engine.Options) { o.Workers = 8 })
		p := pipeline("capped", func(p *definition.Pipeline) {
			p.Activities = map[string]*definition.Activity{"only": {}}
		})
		plan, err := h.e.Backfill(context.Background(), p, t0, t0.Add(8*time.Hour), engine.ReprocessNone, 2)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, h, plan.Created)
		if peak.Load() > 2 {
			t.Errorf("%d runs at once, want at most 2", peak.Load())
		}
	})
}

// TestLostLivenessStopsTheRunner: when the connection holding a PostgreSQL runner's liveness
// lock dies, other runners may take its jobs for orphans, so the runner cancels its running
// attempts and reports a fatal error instead of working on.
func TestLostLivenessStopsTheRunner(t *testing.T) {
	url := acctest.NewPostgresDatabase(t)
	running, cancelled := make(chan struct{}), make(chan struct{})
	block := activity.ExecutorFunc(func(ctx context.Context, _ *activity.Task) (*activity.Result, error) {
		close(running)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	h := start(t, url, map[string]activity.Executor{definition.KindShell: block})
	if _, _, err := h.e.RunInterval(context.Background(), pipeline("live", func(p *definition.Pipeline) {
		p.Activities = map[string]*definition.Activity{"wait": {Shell: &definition.ShellActivity{Command: []string{"true"}}}}
	}), t0, false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("the activity never started")
	}
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminated %d liveness connections (%v), want 1", n, err)
	}
	select {
	case err := <-h.e.Fatal():
		if !strings.Contains(err.Error(), "lost its liveness connection") {
			t.Errorf("fatal error: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no fatal error after the liveness connection died")
	}
	select {
	case <-cancelled:
	case <-time.After(20 * time.Second):
		t.Fatal("the running attempt was not cancelled")
	}
}

// A PostgreSQL runner that dies mid-attempt may run on another machine, where its processes
// cannot be seen: its job is retried only after the process grace, not as soon as its death
// is noticed, so that its processes (killed by their guard) are gone before the retry starts.
func TestDeadRunnersAttemptIsRetriedOnlyAfterTheProcessGrace(t *testing.T) {
	const grace = 1500 * time.Millisecond
	waited := retryOfDeadRunner(t, func(o *engine.Options) { o.ProcessGrace = grace })
	// Noticed dead after the orphan check's 2 s, then the grace.
	if waited < 2*time.Second+grace {
		t.Errorf("the attempt was retried %s after its runner died, want at least 2s + the %s grace", waited.Round(time.Millisecond), grace)
	}
}

// A dead runner that ran on the same machine, and whose processes are known gone (reaped),
// needs no grace: its job is retried as soon as its death is noticed.
func TestDeadRunnersAttemptIsRetriedAtOnceWhenItsProcessesAreKnownDead(t *testing.T) {
	waited := retryOfDeadRunner(t, func(o *engine.Options) {
		o.ProcessGrace, o.Processes = time.Hour, &fakeReaper{dead: map[string]bool{"dead": true}}
	})
	if waited > 30*time.Second {
		t.Errorf("the attempt was retried %s after its runner died, want no process grace (1h)", waited.Round(time.Millisecond))
	}
}

// retryOfDeadRunner lets a runner "dead" die on PostgreSQL in the middle of an attempt, starts
// a peer with peerOpts, and returns how long after the death the peer retried the attempt.
func retryOfDeadRunner(t *testing.T, peerOpts func(*engine.Options)) time.Duration {
	t.Helper()
	url := acctest.NewPostgresDatabase(t)
	running, release := make(chan struct{}), make(chan struct{})
	// The dead runner's attempt: it ignores cancellation, as a process nobody can reach would.
	stuck := activity.ExecutorFunc(func(context.Context, *activity.Task) (*activity.Result, error) {
		close(running)
		<-release
		return &activity.Result{}, nil
	})
	dead := start(t, url, map[string]activity.Executor{definition.KindShell: stuck}, func(o *engine.Options) { o.RunnerID = "dead" })
	t.Cleanup(func() { // before dead's Stop (cleanups run last-in first-out)
		close(release)
		select { // it stops on its own once the attempt returns, having lost its liveness lock
		case err := <-dead.e.Fatal():
			t.Logf("the dead runner stopped: %v", err)
		case <-time.After(10 * time.Second):
		}
	})
	if _, _, err := dead.e.RunInterval(context.Background(), pipeline("grace", func(p *definition.Pipeline) {
		p.Activities = map[string]*definition.Activity{"work": {Shell: &definition.ShellActivity{Command: []string{"true"}}}}
	}), t0, false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("the activity never started")
	}
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// The dead runner's liveness lock goes, as when its process dies.
	if _, err := c.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	died := time.Now()
	retried := make(chan time.Time, 1)
	ok := activity.ExecutorFunc(func(context.Context, *activity.Task) (*activity.Result, error) {
		retried <- time.Now()
		return &activity.Result{}, nil
	})
	start(t, url, map[string]activity.Executor{definition.KindShell: ok}, func(o *engine.Options) {
		o.RunnerID = "peer"
		peerOpts(o)
	})
	select {
	case at := <-retried:
		return at.Sub(died)
	case <-time.After(40 * time.Second):
		t.Fatal("the dead runner's attempt was never retried")
	}
	return 0
}

// fakeReaper stands in for procgroup.Registry: it counts its calls and fails with err; every
// runner in dead is known dead.
type fakeReaper struct {
	calls atomic.Int32
	err   error
	dead  map[string]bool
}

func (r *fakeReaper) Register(string) error { return nil }
func (r *fakeReaper) Unregister(string)     {}
func (r *fakeReaper) KnownDead(_ context.Context, id string) bool {
	return r.dead[id]
}

func (r *fakeReaper) Reap(context.Context) ([]procgroup.Reaped, error) {
	r.calls.Add(1)
	return []procgroup.Reaped{{Owner: procgroup.Owner{Pipeline: "p", RunID: 1, Activity: "a", Attempt: 1}, PGID: 4242, Processes: 2}}, r.err
}

// On SQLite, a restarted runner reaps what its dead predecessor left before it hands the
// predecessor's running jobs back: at once when reaping succeeded (the processes are known
// dead), after the process grace when it failed.
func TestStart_SQLiteReapsBeforeReleasingAndWaitsTheGraceWhenReapingFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reapErr error
		delayed bool
	}{{"reaped", nil, false}, {"reaping failed", errors.New("processes [4243] are still alive"), true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			url := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
			db, err := state.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			// A job the dead process was working, in a queue this runner does not work (so it
			// stays as released).
			if _, err := db.Reader().Exec(ctx, `INSERT INTO river_job (kind, max_attempts, state, attempt, attempted_at, queue)
				VALUES ('test', 5, 'running', 1, CURRENT_TIMESTAMP, 'elsewhere')`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			r := &fakeReaper{err: tc.reapErr}
			h := start(t, url, nil, func(o *engine.Options) { o.Processes, o.ProcessGrace = r, time.Hour })
			if n := r.calls.Load(); n != 1 {
				t.Errorf("Reap called %d times at start, want 1", n)
			}
			rows, err := h.db.Reader().Query(ctx, `SELECT state, scheduled_at > datetime('now', '+50 minutes') FROM river_job WHERE queue = 'elsewhere'`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var st string
			var later bool
			for rows.Next() {
				if err := rows.Scan(&st, &later); err != nil {
					t.Fatal(err)
				}
			}
			if st != "available" || later != tc.delayed {
				t.Errorf("the dead runner's job: %s, scheduled after the grace: %v; want available, %v", st, later, tc.delayed)
			}
		})
	}
}
