package engine_test

// Benchmarks of the engine against River itself, on both state databases. Run them with
// `make bench` (scripts/bench-runner.sh: -benchtime=1x -count=3, medians and the runner/River
// ratio in a markdown table) or directly:
//
//	go test -run '^$' -bench 'Throughput|PlanYear' -benchtime=1x ./runner/internal/engine/
//
// Every iteration works on a fresh database (a SQLite file in a temporary directory, or a new
// database on the acctest PostgreSQL on 127.0.0.1); opening and migrating it is not timed.

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The settings both systems run with: DESIGN's River facts (100 workers, 1 ms fetch cooldown).
// The poll interval matters for SQLite, which has no LISTEN/NOTIFY: River fetches again when a
// worker slot frees, so the poll is only the fallback when the queue was found empty. The tick
// is the default: a backfill starts its runs itself, and a finishing run its successor, so no
// run waits for a tick (and a short tick would only add its reads to the database's load).
const (
	benchWorkers       = 100
	benchFetchCooldown = time.Millisecond
	benchFetchPoll     = 20 * time.Millisecond
	benchTick          = 15 * time.Second
)

// The throughput workload: a backfill of 400 hourly intervals of a pipeline with 5 independent
// noop activities, all runs allowed at once — 2,000 activities. Five activities per run is a
// typical small pipeline: the per-run work (promotion, finishing the run) is shared by several
// activities, as it is in real pipelines, while every activity still costs its own job, attempt
// and state changes.
const (
	benchRuns         = 400
	benchActsPerRun   = 5
	benchActivities   = benchRuns * benchActsPerRun
	benchPlanRuns     = 365 * 24 // a one-year hourly backfill
	benchPlanActs     = 5
	benchWaitDeadline = 5 * time.Minute
)

var benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// benchPipeline is an hourly pipeline from benchStart with acts independent activities and no
// kind (so noop), no retries.
func benchPipeline(name string, acts int) *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: name, Owner: "bench@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1h", Start: benchStart.Format(time.RFC3339), MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{},
	}
	for i := range acts {
		p.Activities[fmt.Sprintf("a%d", i+1)] = &definition.Activity{}
	}
	return p
}

// benchDatabases runs fn once per state database kind, as a sub-benchmark named for it;
// newURL gives a fresh, empty database each call (b is the benchmark calling it).
func benchDatabases(b *testing.B, fn func(b *testing.B, dialect state.Dialect, newURL func(b *testing.B) string)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, state.SQLite, func(b *testing.B) string {
			return "sqlite://" + filepath.Join(b.TempDir(), "state.db")
		})
	})
	b.Run("postgres", func(b *testing.B) {
		fn(b, state.Postgres, func(b *testing.B) string { return acctest.NewPostgresDatabase(b) })
	})
}

// BenchmarkThroughput runs 2,000 no-op activities through the engine ("runner") and 2,000
// plain no-op River jobs ("river") with the same workers and fetch settings on the same kind
// of database, and reports activities/s and jobs/s; their ratio is the engine's overhead.
// The runner is timed from the backfill call (planning 400 runs included) until every run
// has finished; River from InsertMany until the last job-completed event.
func BenchmarkThroughput(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dialect state.Dialect, newURL func(b *testing.B) string) {
		b.Run("runner", func(b *testing.B) {
			b.StopTimer()
			var planned, promoted time.Duration
			var stmts, commits int64
			for range b.N {
				pl, pr, s, c := benchRunnerOnce(b, newURL(b))
				planned, promoted = planned+pl, promoted+pr
				stmts, commits = stmts+s, commits+c
			}
			reportRate(b, benchActivities, "activities/s")
			// Where the time went: planning the 400 runs, and starting all of them (their
			// root activities queued), which the loop does in one transaction per tick.
			b.ReportMetric(float64(planned.Milliseconds())/float64(b.N), "plan-ms")
			b.ReportMetric(float64(promoted.Milliseconds())/float64(b.N), "all-started-ms")
			b.ReportMetric(float64(benchTick.Milliseconds()), "tick-ms")
			// The hot path's cost (engine.Totals): statements and commits per activity.
			b.ReportMetric(float64(stmts)/float64(b.N*benchActivities), "stmts/activity")
			b.ReportMetric(float64(commits)/float64(b.N*benchActivities), "commits/activity")
		})
		b.Run("river", func(b *testing.B) {
			b.StopTimer()
			for range b.N {
				benchRiverOnce(b, dialect, newURL(b))
			}
			reportRate(b, benchActivities, "jobs/s")
		})
	})
}

func reportRate(b *testing.B, perOp int, unit string) {
	b.Helper()
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), unit)
	b.ReportMetric(benchWorkers, "workers")
	b.ReportMetric(float64(benchFetchCooldown.Milliseconds()), "cooldown-ms")
}

// benchCounter counts finished runs and successful attempts through engine.Metrics, and
// closes done when the last run finished, so the benchmark does not poll the database (which,
// on SQLite, would take the one connection from the workers).
type benchCounter struct {
	want      int64
	started   atomic.Int64 // runs started
	lastStart atomic.Int64 // when the last run was started, Unix ns
	runs      atomic.Int64
	failed    atomic.Int64
	succeeded atomic.Int64
	done      chan struct{}
}

func (c *benchCounter) RunStarted(string) {
	if c.started.Add(1) == c.want {
		c.lastStart.Store(time.Now().UnixNano())
	}
}

func (c *benchCounter) RunFinished(_, runState string, _ time.Duration) {
	if runState != status.RunSuccess {
		c.failed.Add(1)
	}
	if c.runs.Add(1) == c.want {
		close(c.done)
	}
}

func (c *benchCounter) AttemptFinished(_, _, _, outcome string, _ time.Duration) {
	if outcome == "success" {
		c.succeeded.Add(1)
	}
}

// benchRunnerOnce backfills benchRuns intervals on a fresh database and waits for every run;
// only the backfill and the wait are timed. It returns how long the backfill call took and
// when (from its start) the last run was started by the loop.
func benchRunnerOnce(b *testing.B, url string) (planned, promoted time.Duration, stmts, commits int64) {
	b.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	counter := &benchCounter{want: benchRuns, done: make(chan struct{})}
	now := benchStart.Add(2 * 365 * 24 * time.Hour)
	e, err := engine.New(engine.Options{
		DB:        db,
		Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop},
		Metrics:   counter,
		Now:       func() time.Time { return now },
		Workers:   benchWorkers, FetchCooldown: benchFetchCooldown, FetchPollInterval: benchFetchPoll, Tick: benchTick,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := e.Stop(stopCtx); err != nil {
			b.Errorf("stopping the engine: %v", err)
		}
	}()
	p := benchPipeline("throughput", benchActsPerRun)

	b.StartTimer()
	began := time.Now()
	plan, err := e.Backfill(ctx, p, benchStart, benchStart.Add(benchRuns*time.Hour), engine.ReprocessNone, benchRuns)
	if err != nil {
		b.Fatal(err)
	}
	planned = time.Since(began)
	select {
	case <-counter.done:
	case <-time.After(benchWaitDeadline):
		b.Fatalf("after %s, %d of %d runs finished", benchWaitDeadline, counter.runs.Load(), benchRuns)
	}
	// RunFinished may be reported inside the finishing transaction: make sure every run is
	// committed as finished before the clock stops.
	waitCtx, cancel := context.WithTimeout(ctx, benchWaitDeadline)
	defer cancel()
	runs, err := e.Wait(waitCtx, plan.Created, time.Millisecond, nil)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}

	if len(plan.Created) != benchRuns {
		b.Fatalf("backfill created %d runs, want %d", len(plan.Created), benchRuns)
	}
	for _, r := range runs {
		if r.State != status.RunSuccess {
			b.Fatalf("run %d finished %s", r.ID, r.State)
		}
	}
	if got := counter.succeeded.Load(); got != benchActivities || counter.failed.Load() != 0 {
		b.Fatalf("%d activities succeeded and %d runs failed; want %d and 0", got, counter.failed.Load(), benchActivities)
	}
	stmts, commits = e.Totals()
	return planned, time.Unix(0, counter.lastStart.Load()).Sub(began), stmts, commits
}

// benchNoopArgs is a plain River job with nothing to do.
type benchNoopArgs struct{}

func (benchNoopArgs) Kind() string { return "bench_noop" }

type benchNoopWorker struct {
	river.WorkerDefaults[benchNoopArgs]
}

func (benchNoopWorker) Work(context.Context, *river.Job[benchNoopArgs]) error { return nil }

// benchRiverOnce inserts benchActivities no-op jobs with InsertMany into a fresh database and
// waits until River reported each completed. The database is opened with state.Open, which
// migrates River's tables with rivermigrate (the runner's tables beside them stay empty), so
// River gets exactly the connections the engine gets: on SQLite one connection in WAL mode, on
// PostgreSQL a pool of at least 10.
func benchRiverOnce(b *testing.B, dialect state.Dialect, url string) {
	b.Helper()
	db, err := state.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if dialect == state.Postgres {
		benchRiverJobs(b, riverpgxv5.New(db.Pool), false)
	} else {
		benchRiverJobs(b, riversqlite.New(db.SQL), true)
	}
}

func benchRiverJobs[TTx any](b *testing.B, driver riverdriver.Driver[TTx], pollOnly bool) {
	b.Helper()
	ctx := context.Background()
	workers := river.NewWorkers()
	river.AddWorker(workers, &benchNoopWorker{})
	c, err := river.NewClient(driver, &river.Config{
		FetchCooldown:     benchFetchCooldown,
		FetchPollInterval: benchFetchPoll,
		PollOnly:          pollOnly,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: benchWorkers}},
		Workers:           workers,
		Logger:            slog.New(slog.DiscardHandler), // as the engine, which is given none
	})
	if err != nil {
		b.Fatal(err)
	}
	events, unsubscribe := c.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: 2 * benchActivities, // a full channel drops events; this one never fills
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed},
	})
	defer unsubscribe()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := c.Stop(stopCtx); err != nil {
			b.Errorf("stopping River: %v", err)
		}
	}()
	params := make([]river.InsertManyParams, benchActivities)
	for i := range params {
		params[i] = river.InsertManyParams{Args: benchNoopArgs{}}
	}

	b.StartTimer()
	if _, err := c.InsertMany(ctx, params); err != nil {
		b.Fatal(err)
	}
	deadline := time.After(benchWaitDeadline)
	for completed := 0; completed < benchActivities; {
		select {
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted {
				b.Fatalf("job %d: %s", ev.Job.ID, ev.Kind)
			}
			completed++
		case <-deadline:
			b.Fatalf("after %s, %d of %d jobs completed", benchWaitDeadline, completed, benchActivities)
		}
	}
	b.StopTimer()
}

// BenchmarkPlanYear plans a one-year hourly backfill (8,760 runs × 5 activities) on a fresh
// database with the engine not started: what `sluice-runner backfill` does before any work.
// Besides time and allocations it reports the peak of live heap above the level before the
// call (sampled every millisecond) and the cost per run.
func BenchmarkPlanYear(b *testing.B) {
	benchDatabases(b, func(b *testing.B, _ state.Dialect, newURL func(b *testing.B) string) {
		b.ReportAllocs()
		b.StopTimer()
		var peak uint64
		for range b.N {
			peak = max(peak, benchPlanOnce(b, newURL(b)))
		}
		perOp := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(perOp.Microseconds())/1e3, "ms/plan")
		b.ReportMetric(float64(perOp.Microseconds())/benchPlanRuns, "µs/run")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	})
}

// benchPlanOnce times one year's backfill and returns the peak heap growth during it.
func benchPlanOnce(b *testing.B, url string) uint64 {
	b.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := benchStart.Add(2 * 365 * 24 * time.Hour)
	e, err := engine.New(engine.Options{
		DB:        db,
		Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop},
		Now:       func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	p := benchPipeline("year", benchPlanActs)
	to := benchStart.Add(benchPlanRuns * time.Hour)

	runtime.GC()
	sampler := startHeapSampler()
	b.StartTimer()
	plan, err := e.Backfill(ctx, p, benchStart, to, engine.ReprocessNone, 0)
	b.StopTimer()
	peak := sampler.stop()
	if err != nil {
		b.Fatal(err)
	}
	if len(plan.Created) != benchPlanRuns || plan.Existing != 0 || plan.Future != 0 {
		b.Fatalf("planned %d runs (%d existing, %d future), want %d new", len(plan.Created), plan.Existing, plan.Future, benchPlanRuns)
	}
	// The backfill starts its first run at once (max_active_runs 1): its activities are queued.
	rows, err := db.Reader().Query(ctx, `SELECT COUNT(*) FROM sluice_activities WHERE state IN ($1, $2)`, status.ActivityPending, status.ActivityQueued)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var acts int
	if !rows.Next() {
		b.Fatal("counting activities: no row")
	}
	if err := rows.Scan(&acts); err != nil {
		b.Fatal(err)
	}
	if acts != benchPlanRuns*benchPlanActs {
		b.Fatalf("planned %d pending or queued activities, want %d", acts, benchPlanRuns*benchPlanActs)
	}
	return peak
}

// heapSampler records the highest live-heap size seen (runtime/metrics, which does not stop
// the world) above the level when it started.
type heapSampler struct {
	base   uint64
	peak   atomic.Uint64
	quit   chan struct{}
	finish sync.WaitGroup
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{base: readHeap(), quit: make(chan struct{})}
	h.finish.Add(1)
	go func() {
		defer h.finish.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := readHeap(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.quit:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() uint64 {
	close(h.quit)
	h.finish.Wait()
	if v := readHeap(); v > h.peak.Load() {
		h.peak.Store(v)
	}
	if p := h.peak.Load(); p > h.base {
		return p - h.base
	}
	return 0
}

// The idle-wait workload: a year of daily catchup, one run at a time, of a pipeline of three
// noop activities in a chain (a1 → a2 → a3). Every run can only start when the one before
// finished and every activity only when the one before it succeeded, so the wall time is the
// sum of the hand-overs: a run or an activity that waited for the next tick would show here as
// a tick per run.
const (
	idleRuns     = 365
	idleActs     = 3
	idleJobs     = idleRuns * idleActs
	idleTick     = 15 * time.Second // the default: no wait may depend on it
	idleDeadline = 5 * time.Minute
)

// idlePipeline is a daily pipeline from benchStart with a chain of idleActs noop activities
// and max_active_runs = 1.
func idlePipeline() *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "idle", Owner: "bench@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1d", Start: benchStart.Format(time.RFC3339), MaxActiveRuns: 1, Catchup: true},
		Activities: map[string]*definition.Activity{},
	}
	for i := range idleActs {
		a := &definition.Activity{}
		if i > 0 {
			a.DependsOn = []string{fmt.Sprintf("a%d", i)}
		}
		p.Activities[fmt.Sprintf("a%d", i+1)] = a
	}
	return p
}

// BenchmarkIdleWait runs a one-year daily backfill (365 runs × a chain of 3 noop activities,
// max_active_runs = 1) with the default 15 s tick ("runner"), against 1,095 plain River jobs
// each queued by the one before it ("river"), and reports the wall time per run (3 jobs).
func BenchmarkIdleWait(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dialect state.Dialect, newURL func(b *testing.B) string) {
		b.Run("runner", func(b *testing.B) {
			b.StopTimer()
			for range b.N {
				benchIdleRunnerOnce(b, newURL(b))
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*idleRuns), "ms/run")
			b.ReportMetric(float64(idleTick.Milliseconds()), "tick-ms")
		})
		b.Run("river", func(b *testing.B) {
			b.StopTimer()
			for range b.N {
				benchIdleRiverOnce(b, dialect, newURL(b))
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*idleRuns), "ms/run")
		})
	})
}

func benchIdleRunnerOnce(b *testing.B, url string) {
	b.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	counter := &benchCounter{want: idleRuns, done: make(chan struct{})}
	now := benchStart.Add(idleRuns * 24 * time.Hour)
	e, err := engine.New(engine.Options{
		DB:        db,
		Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop},
		Metrics:   counter,
		Now:       func() time.Time { return now },
		Workers:   benchWorkers, FetchCooldown: benchFetchCooldown, FetchPollInterval: benchFetchPoll, Tick: idleTick,
	})
	if err != nil {
		b.Fatal(err)
	}
	// Planned before the engine starts, so that its first tick (at Start) starts the first
	// run; every later run must be started by the one before it.
	plan, err := e.Backfill(ctx, idlePipeline(), benchStart, now, engine.ReprocessNone, 0)
	if err != nil {
		b.Fatal(err)
	}
	if len(plan.Created) != idleRuns {
		b.Fatalf("backfill created %d runs, want %d", len(plan.Created), idleRuns)
	}
	b.StartTimer()
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case <-counter.done:
	case <-time.After(idleDeadline):
		b.Fatalf("after %s, %d of %d runs finished (a run waiting for the %s tick?)", idleDeadline, counter.runs.Load(), idleRuns, idleTick)
	}
	b.StopTimer()
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.Stop(stopCtx); err != nil {
		b.Errorf("stopping the engine: %v", err)
	}
	if got := counter.succeeded.Load(); got != idleJobs || counter.failed.Load() != 0 {
		b.Fatalf("%d activities succeeded and %d runs failed; want %d and 0", got, counter.failed.Load(), idleJobs)
	}
}

// benchChainArgs is a plain River job that queues the next one of the chain until n reaches
// the end.
type benchChainArgs struct {
	N int `json:"n"`
}

func (benchChainArgs) Kind() string { return "bench_chain" }

type benchChainWorker[TTx any] struct {
	river.WorkerDefaults[benchChainArgs]
	done chan struct{}
}

func (w *benchChainWorker[TTx]) Work(ctx context.Context, job *river.Job[benchChainArgs]) error {
	if job.Args.N+1 == idleJobs {
		close(w.done)
		return nil
	}
	c, err := river.ClientFromContextSafely[TTx](ctx)
	if err != nil {
		return err
	}
	_, err = c.Insert(ctx, benchChainArgs{N: job.Args.N + 1}, nil)
	return err
}

func benchIdleRiverOnce(b *testing.B, dialect state.Dialect, url string) {
	b.Helper()
	db, err := state.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if dialect == state.Postgres {
		benchRiverChain(b, riverpgxv5.New(db.Pool), false)
	} else {
		benchRiverChain(b, riversqlite.New(db.SQL), true)
	}
}

func benchRiverChain[TTx any](b *testing.B, driver riverdriver.Driver[TTx], pollOnly bool) {
	b.Helper()
	ctx := context.Background()
	w := &benchChainWorker[TTx]{done: make(chan struct{})}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	c, err := river.NewClient(driver, &river.Config{
		FetchCooldown:     benchFetchCooldown,
		FetchPollInterval: benchFetchPoll,
		PollOnly:          pollOnly,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: benchWorkers}},
		Workers:           workers,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := c.Stop(stopCtx); err != nil {
			b.Errorf("stopping River: %v", err)
		}
	}()
	b.StartTimer()
	if _, err := c.Insert(ctx, benchChainArgs{}, nil); err != nil {
		b.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(idleDeadline):
		b.Fatalf("after %s the chain of %d River jobs had not finished", idleDeadline, idleJobs)
	}
	b.StopTimer()
}
