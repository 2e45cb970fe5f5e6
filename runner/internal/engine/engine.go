// Package engine runs pipelines on River: it turns schedules and backfills into runs, each
// activity instance into a River job once its dependencies succeeded, and records every step
// in the runner's tables in the same transaction as the job change that causes it (see
// package state).
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/groupcommit"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// Notifier delivers a notification to one target (an SNS topic ARN or a webhook URL).
type Notifier interface {
	Notify(ctx context.Context, target string, n Notification) error
}

// Metrics receives what the engine measures; nil means none.
type Metrics interface {
	RunStarted(pipeline string)
	RunFinished(pipeline, state string, d time.Duration)
	AttemptFinished(pipeline, activity, kind, outcome string, d time.Duration)
}

// Options configure an Engine.
type Options struct {
	DB *state.DB
	// Registry is where published pipelines are read (serve). May be nil for commands that
	// only work runs already planned.
	Registry registry.Registry
	// Executors by activity kind (definition.Kind*; activity.KindNoop for tests/benchmarks).
	Executors map[string]activity.Executor
	// Poker checks wait_for preconditions.
	Poker activity.Poker
	// Notifier sends notifications; nil drops them with a log line.
	Notifier Notifier
	// NotifyPermanent tells a notification error that retrying cannot fix.
	NotifyPermanent func(error) bool
	Metrics         Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Workers is how many activities run at once in this process (River MaxWorkers).
	Workers int
	// FetchCooldown is River's minimum time between fetches: lower is lower latency and more
	// database load (River's default, 100ms, caps a runner at Workers×10 jobs/s).
	FetchCooldown time.Duration
	// FetchPollInterval is how often River polls for jobs when not notified (SQLite has no
	// LISTEN/NOTIFY).
	FetchPollInterval time.Duration
	// RescueAfter is how long a job must have been running before River may assume its runner
	// died and run it again elsewhere (PostgreSQL). An activity with a timeout is rescued after
	// the longer of RescueAfter and its timeout (plus a margin); one without a timeout is
	// cancelled after RescueAfter.
	RescueAfter time.Duration
	// Tick is how often the loop schedules, promotes and checks lateness.
	Tick time.Duration
	// Schedule makes the loop read the registry and create runs from schedules (serve).
	Schedule bool
	// LogLimit bounds each attempt's stored log.
	LogLimit int
	// Secrets are scrubbed from every error and log text the engine stores or returns to River;
	// nil scrubs nothing.
	Secrets redact.Scrubber
	Logger  *slog.Logger
	// Processes reaps, at Start, the process groups that dead runners on this machine left
	// (package procgroup); nil reaps nothing.
	Processes Reaper
	// ProcessGrace is how long the running jobs of a dead PostgreSQL runner wait, once found
	// orphaned, before they are released for another attempt: a runner on another machine
	// cannot see the dead runner's processes, so it gives them the time they need to be gone
	// (killed by their guard, or by a runner that lost its liveness connection and stopped).
	ProcessGrace time.Duration
	// UnhealthyAfter is how many ticks in a row must fail before Unhealthy reports the runner
	// unhealthy (/healthz); default DefaultUnhealthyAfter.
	UnhealthyAfter int
	// RunnerID names this runner in attempts and its liveness lock, so it must be unique among
	// live runners; default host-pid-random.
	RunnerID string
}

// Reaper ends what dead runners on this machine left running, and tells which dead runners
// ran here: *procgroup.Registry.
type Reaper interface {
	Reap(ctx context.Context) ([]procgroup.Reaped, error)
	// Register records this runner id as this process, for KnownDead on other runners here.
	Register(runnerID string) error
	// Unregister removes that record when the runner stops.
	Unregister(runnerID string)
	// KnownDead says whether runner id ran on this machine, is dead, and left no process
	// (after reaping it): its jobs need no grace.
	KnownDead(ctx context.Context, runnerID string) bool
}

// Engine schedules and executes runs.
type Engine struct {
	opts   Options
	db     *state.DB
	client client
	log    *slog.Logger

	// kicks wakes the loop to start the scheduled runs of the kicked pipelines (kick).
	kicks  chan struct{}
	kickMu sync.Mutex
	kicked map[string]bool

	// starts and successes group-commit the hot path's two writes (batch.go).
	starts    *groupcommit.Batcher[state.Start, started]
	successes *groupcommit.Batcher[*success, struct{}]

	defsMu sync.Mutex
	defs   map[string]*definition.Pipeline // by version

	leftOut sync.Map // "pipeline interval" already reported as overlapping an existing run

	// docs are the pipeline documents read from the registry, by key, with the stamp they
	// were read under (scheduleDue reads a document again only when its stamp changes).
	docsMu sync.Mutex
	docs   map[string]publishedDoc

	lastTick   time.Time
	lastTickMu sync.Mutex
	health     tickHealth
	loopDone   chan struct{}
	cancelLoop context.CancelFunc

	// live is this runner's liveness lock (PostgreSQL); suspects are the runners whose jobs
	// were seen orphaned, with when that was first seen (under suspectsMu: Tick may also be
	// called directly).
	live        *state.Liveness
	suspectsMu  sync.Mutex
	suspects    map[string]time.Time
	lastOrphans time.Time // when rescueOrphans last looked
	fatal       chan error
	stopOnce    sync.Once
	stopErr     error
}

// New builds an Engine on opts.DB. Call Start to work jobs.
func New(opts Options) (*Engine, error) {
	if opts.DB == nil {
		return nil, errors.New("engine: no state database")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.Tick <= 0 {
		opts.Tick = 15 * time.Second
	}
	if opts.FetchCooldown <= 0 {
		opts.FetchCooldown = 100 * time.Millisecond
	}
	if opts.FetchPollInterval <= 0 {
		opts.FetchPollInterval = time.Second
	}
	if opts.FetchPollInterval < opts.FetchCooldown {
		opts.FetchPollInterval = opts.FetchCooldown
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UnhealthyAfter <= 0 {
		opts.UnhealthyAfter = DefaultUnhealthyAfter
	}
	if opts.RunnerID == "" {
		host, _ := os.Hostname()
		// The random part keeps two engines of one process (tests) and a restarted process
		// that got the same pid apart.
		opts.RunnerID = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.Uint32()&0xffff)
	}
	e := &Engine{opts: opts, db: opts.DB, log: opts.Logger, defs: map[string]*definition.Pipeline{}, docs: map[string]publishedDoc{},
		suspects: map[string]time.Time{}, fatal: make(chan error, 1), kicks: make(chan struct{}, 1), kicked: map[string]bool{}}
	e.newBatchers()
	if opts.Registry != nil {
		e.opts.Registry = &watchedRegistry{Registry: opts.Registry, health: &e.health, log: opts.Logger}
	}
	workers := river.NewWorkers()
	cfg := &river.Config{
		FetchCooldown:        opts.FetchCooldown,
		FetchPollInterval:    opts.FetchPollInterval,
		RescueStuckJobsAfter: opts.RescueAfter,
		// Each worker sets its own timeout (an activity's comes from its definition, see
		// activityWorker.Timeout); River's client-wide default of one minute would cut long
		// activities short.
		JobTimeout: -1,
		Queues:     map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:    workers,
		Logger:     opts.Logger.With("component", "river"),
		ID:         opts.RunnerID,
		// Completed jobs are kept a week: long enough that the unique-args check still sees a
		// finished instance, and the runner's tables keep the history anyway.
		CompletedJobRetentionPeriod: 7 * 24 * time.Hour,
	}
	if opts.DB.Dialect == state.Postgres {
		var b *backend[pgx.Tx]
		river.AddWorker(workers, &activityWorker[pgx.Tx]{e: e, b: &b, rescueAfter: opts.RescueAfter})
		river.AddWorker(workers, &notifyWorker{e: e})
		nb, err := newPgxBackend(opts.DB, cfg)
		if err != nil {
			return nil, err
		}
		b = nb
		e.client = nb
	} else {
		cfg.PollOnly = true // SQLite has no LISTEN/NOTIFY
		var b *backend[*sql.Tx]
		river.AddWorker(workers, &activityWorker[*sql.Tx]{e: e, b: &b, rescueAfter: opts.RescueAfter})
		river.AddWorker(workers, &notifyWorker{e: e})
		nb, err := newSQLiteBackend(opts.DB, cfg)
		if err != nil {
			return nil, err
		}
		b = nb
		e.client = nb
	}
	return e, nil
}

// Start reaps what dead runners on this machine left running, releases jobs a dead process of
// this runner left running (SQLite only: the file lock proves that process is gone), starts
// River's workers, and the loop.
func (e *Engine) Start(ctx context.Context) error {
	reaped := e.reap(ctx)
	if e.opts.Processes != nil {
		if err := e.opts.Processes.Register(e.opts.RunnerID); err != nil {
			// Only costs a peer on this machine the process grace when this runner dies.
			e.log.Warn("could not record this runner for its peers on this machine", "error", err)
		}
	}
	if e.db.Dialect == state.SQLite {
		// The dead runner ran on this machine (the file lock is local) and its process groups
		// were just reaped: its attempts' processes are known dead, and the jobs may run again
		// at once. When reaping failed, they wait the process grace instead.
		at := "CURRENT_TIMESTAMP"
		if !reaped {
			at = fmt.Sprintf("datetime('now', '+%d seconds')", int(e.opts.ProcessGrace.Seconds()+0.999))
		}
		n, err := e.db.Reader().Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = `+at+` WHERE state = 'running'`)
		if err != nil {
			return fmt.Errorf("releasing jobs of a previous runner: %w", err)
		}
		if n > 0 {
			e.log.Warn("released jobs a previous runner process left running", "jobs", n)
		}
	}
	if e.db.Dialect == state.Postgres {
		// Before River works any job, so that every job this runner attempts is covered.
		live, err := state.HoldLiveness(ctx, e.db, e.opts.RunnerID)
		if err != nil {
			return err
		}
		e.live = live
	}
	if err := e.client.Start(ctx); err != nil {
		if e.live != nil {
			e.live.Close(ctx)
		}
		return fmt.Errorf("starting River: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancelLoop = cancel
	e.loopDone = make(chan struct{})
	go e.loop(loopCtx)
	return nil
}

// reap ends the process groups dead runners on this machine left, and says whether it could.
func (e *Engine) reap(ctx context.Context) bool {
	if e.opts.Processes == nil {
		return true
	}
	reaped, err := e.opts.Processes.Reap(ctx)
	for _, r := range reaped {
		e.log.Warn("ended the processes of an attempt whose runner died", "pipeline", r.Owner.Pipeline, "run", r.Owner.RunID,
			"activity", r.Owner.Activity, "attempt", r.Owner.Attempt, "pgid", r.PGID, "processes", r.Processes)
	}
	if err != nil {
		e.log.Error("could not end every process a dead runner left; its jobs wait the process grace", "error", err, "grace", e.opts.ProcessGrace)
		return false
	}
	return true
}

// Stop stops the loop and River, letting running activities finish within ctx; when ctx ends
// first, they are cancelled (and retried by the next runner).
func (e *Engine) Stop(ctx context.Context) error {
	if e.cancelLoop != nil {
		e.cancelLoop()
		<-e.loopDone
	}
	return e.stopRiver(ctx, false)
}

// stopRiver stops River once, then releases the liveness lock: only when no job of this
// runner runs any more may others take its jobs for orphans.
func (e *Engine) stopRiver(ctx context.Context, cancelWork bool) error {
	e.stopOnce.Do(func() {
		var err error
		if cancelWork {
			err = e.client.StopAndCancel(ctx)
		} else if err = e.client.Stop(ctx); errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = e.client.StopAndCancel(context.WithoutCancel(ctx))
		}
		if err != nil {
			e.stopErr = fmt.Errorf("stopping River: %w", err)
		}
		if e.live != nil {
			e.live.Close(context.WithoutCancel(ctx))
		}
		if e.opts.Processes != nil {
			// From now on a peer here cannot tell this runner's death: it waits the grace.
			e.opts.Processes.Unregister(e.opts.RunnerID)
		}
	})
	return e.stopErr
}

// Fatal reports the error that stopped the engine on its own: the loss of its liveness
// connection, after which other runners may take its jobs over. The caller should exit.
func (e *Engine) Fatal() <-chan error { return e.fatal }

func (e *Engine) now() time.Time { return e.opts.Now().UTC() }

// LastTick is when the loop last completed a tick (for /healthz).
func (e *Engine) LastTick() time.Time {
	e.lastTickMu.Lock()
	defer e.lastTickMu.Unlock()
	return e.lastTick
}

func (e *Engine) loop(ctx context.Context) {
	defer close(e.loopDone)
	t := time.NewTicker(e.opts.Tick)
	defer t.Stop()
	for {
		if e.live != nil {
			// Bounded by a tick (at least 5 s, so that a busy database is not taken for a lost
			// one): a connection that hangs in a network partition must be noticed about as
			// fast as a closed one, since ProcessGrace counts on it.
			pctx, cancel := context.WithTimeout(ctx, max(e.opts.Tick, 5*time.Second))
			err := e.live.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				// Other runners may now take this runner for dead and rerun its jobs: stop
				// working them at once rather than run an attempt twice.
				e.log.Error("liveness connection lost; stopping all work", "error", err)
				if serr := e.stopRiver(ctx, true); serr != nil {
					e.log.Error("stopping River", "error", serr)
				}
				e.fatal <- err
				return
			}
		}
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("tick failed", "error", err)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				break wait
			case <-e.kicks:
				e.promoteKicked(ctx)
			}
		}
	}
}

// kick asks the loop to start the scheduled runs of the pipeline now, without waiting for the
// next tick: a finishing run freed a slot that it could not fill itself (tryStartNext). Kicks
// are gathered, so a burst of them costs one promotion per pipeline.
func (e *Engine) kick(pipeline string) {
	e.kickMu.Lock()
	e.kicked[pipeline] = true
	e.kickMu.Unlock()
	select {
	case e.kicks <- struct{}{}:
	default: // a kick is pending already: it takes this pipeline too
	}
}

// promoteKicked starts the scheduled runs of the kicked pipelines that fit.
func (e *Engine) promoteKicked(ctx context.Context) {
	e.kickMu.Lock()
	names := make([]string, 0, len(e.kicked))
	for p := range e.kicked {
		names = append(names, p)
	}
	clear(e.kicked)
	e.kickMu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		if err := e.startScheduled(ctx, name, promoteBatch); err != nil && ctx.Err() == nil {
			e.log.Error("starting the next runs failed; the next tick tries again", "pipeline", name, "error", err)
		}
	}
}

// Tick does one round of the loop: read the registry and create due runs (when scheduling),
// start scheduled runs within their max_active_runs, and notify lateness.
//
// A tick that fails is recorded (Ticks, Unhealthy) and counted (sluice_tick_failures_total).
func (e *Engine) Tick(ctx context.Context) error {
	var errs []error
	e.health.beginTick()
	if e.opts.Schedule {
		if err := e.scheduleDue(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := e.promote(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := e.checkLate(ctx); err != nil {
		errs = append(errs, err)
	}
	if e.live != nil {
		if err := e.rescueOrphans(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	e.lastTickMu.Lock()
	e.lastTick = e.now()
	e.lastTickMu.Unlock()
	err := errors.Join(errs...)
	e.recordTick(ctx, err)
	return err
}

// pipeline returns the definition of a pipeline version, decoding it once.
func (e *Engine) pipeline(ctx context.Context, q state.Q, name, version string) (*definition.Pipeline, error) {
	e.defsMu.Lock()
	p := e.defs[version]
	e.defsMu.Unlock()
	if p != nil {
		return p, nil
	}
	doc, err := state.Definition(ctx, q, name, version)
	if err != nil {
		return nil, err
	}
	p, err = decodeStored(doc)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s version %s: %w", name, version, err)
	}
	e.defsMu.Lock()
	e.defs[version] = p
	e.defsMu.Unlock()
	return p, nil
}

// decodeStored decodes a stored definition: what the registry held when a run was planned,
// or what a test or benchmark stored through PutPipeline.
func decodeStored(doc []byte) (*definition.Pipeline, error) {
	p, err := definition.DecodePipeline(doc)
	if err != nil {
		return nil, fmt.Errorf("decoding the stored definition: %w", err)
	}
	return p, nil
}

// Totals are the statements and commits the engine's job transactions have made so far:
// starting runs, starting and finishing activities, queueing their dependents. Divided by the
// activities worked, they are the hot path's cost (River's own fetches and completions, and
// the loop's reads, are not in them).
func (e *Engine) Totals() (statements, commits int64) { return e.client.totals() }

// SetMetrics sets where the engine reports runs and attempts; call it before Start.
func (e *Engine) SetMetrics(m Metrics) { e.opts.Metrics = m }

// orphanGrace is how long a runner's jobs must have looked orphaned before they are
// released: long enough for a runner that merely lost its liveness connection to notice at its
// next tick and cancel its work first.
func (e *Engine) orphanGrace() time.Duration { return max(2*e.opts.Tick, 2*time.Second) }

// rescueOrphans releases the running jobs of runners that died (their liveness lock is gone)
// once they have looked so for orphanGrace. River's rescuer remains the fallback, e.g. for a
// runner that died holding its lock on a connection that PostgreSQL has not yet seen close.
func (e *Engine) rescueOrphans(ctx context.Context) error {
	e.suspectsMu.Lock()
	defer e.suspectsMu.Unlock()
	now := time.Now()
	// At most once a second: a short tick (tests, benchmarks) need not query pg_locks as often.
	if now.Sub(e.lastOrphans) < time.Second {
		return nil
	}
	e.lastOrphans = now
	orphans, err := state.OrphanedJobs(ctx, e.db.Reader(), e.opts.RunnerID)
	if err != nil {
		return err
	}
	for owner := range e.suspects {
		if _, still := orphans[owner]; !still {
			delete(e.suspects, owner)
		}
	}
	var errs []error
	for owner, ids := range orphans {
		first, seen := e.suspects[owner]
		if !seen {
			e.suspects[owner] = now
			continue
		}
		if now.Sub(first) < e.orphanGrace() {
			continue
		}
		// Released to run after the process grace: the dead runner may be on another machine,
		// where its processes cannot be seen; they are given the time to be gone. A runner
		// that ran on this machine and whose processes are known gone needs no grace.
		at, grace := now.Add(e.opts.ProcessGrace), e.opts.ProcessGrace
		if e.opts.Processes != nil && e.opts.Processes.KnownDead(ctx, owner) {
			at, grace = now, 0
		}
		n, err := state.ReleaseJobs(ctx, e.db.Reader(), owner, ids, at)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		delete(e.suspects, owner)
		if n > 0 {
			e.log.Warn("released the jobs of a dead runner", "runner", owner, "jobs", n, "retried_after", grace)
		}
	}
	return errors.Join(errs...)
}
