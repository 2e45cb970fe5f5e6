package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// activityWorker works activity jobs for one driver. b points at the backend, which is built
// after the workers are registered.
type activityWorker[TTx any] struct {
	river.WorkerDefaults[ActivityArgs]
	e *Engine
	b **backend[TTx]
	// rescueAfter is the engine's RescueAfter: the hard limit of an activity without timeout.
	rescueAfter time.Duration
}

func (w *activityWorker[TTx]) Work(ctx context.Context, job *river.Job[ActivityArgs]) error {
	// River keeps the error in the job row (the state database) and logs it: no secret in it.
	return w.e.scrubErr(w.e.workActivity(ctx, job.ID, job.Args, func(ctx context.Context, fn func(txn) error) error {
		return (*w.b).inTx(ctx, job, fn)
	}))
}

// recordMargin is how long after an activity's own timeout River still lets the Work call
// record the outcome.
const recordMargin = 15 * time.Second

// Timeout is River's hard limit on one Work call, and it is also when River's rescuer may
// decide the runner working the job died: it leaves a running job alone until both
// RescueStuckJobsAfter and this timeout have passed since the attempt started (and never
// rescues a job whose timeout is negative, which is why there is always one). So it is the
// activity's own timeout (enforced, with a clear error, by workActivity) plus recordMargin; an
// activity without a timeout is cut at rescueAfter, the moment another runner would take it
// over anyway.
func (w *activityWorker[TTx]) Timeout(job *river.Job[ActivityArgs]) time.Duration {
	if job.Args.Timeout <= 0 {
		return w.rescueAfter
	}
	return job.Args.Timeout + recordMargin
}

// NextRetry backs off exponentially from the pipeline's retry_delay with ±25% jitter, capped
// at 64× the delay or 6 hours, whichever is less.
func (w *activityWorker[TTx]) NextRetry(job *river.Job[ActivityArgs]) time.Time {
	// River compares with the wall clock, not the engine's (possibly injected) schedule clock.
	return time.Now().Add(Backoff(job.Args.RetryDelay, job.Attempt, rand.Float64()))
}

// Backoff is the delay before retry number attempt (1 = the first retry) for a first delay
// of base; jitter in [0, 1) spreads it ±25%.
func Backoff(base time.Duration, attempt int, jitter float64) time.Duration {
	if base <= 0 {
		base = time.Minute
	}
	limit := min(64*base, 6*time.Hour)
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return time.Duration(float64(d) * (0.75 + 0.5*jitter))
}

type inTxFunc func(ctx context.Context, fn func(txn) error) error

// workActivity runs one attempt of one activity instance. Its outcome is recorded in one
// transaction with what comes next (dependents queued, the run finished, the next run
// started), so a runner killed at any point leaves either the old or the new state. A failure
// for good completes the job in that transaction too; a success leaves it to River's batched
// completer once Work returns, and a job run again after a crash in between finds its
// instance final and completes without running.
func (e *Engine) workActivity(ctx context.Context, jobID int64, args ActivityArgs, inTx inTxFunc) error {
	log := e.log.With("pipeline", args.Pipeline, "run", args.RunID, "activity", args.Activity)
	var (
		run       state.RunRow
		inst      state.ActivityRow
		p         *definition.Pipeline
		def       *definition.Activity
		rendered  *definition.Activity
		renderErr error
		attempt   int // 0 until the attempt is recorded as started
		data      definition.TemplateData
	)
	startAttempt := func(t txn) error {
		var err error
		attempt, err = state.StartAttempt(ctx, t.Q(), run.ID, args.Activity, e.opts.RunnerID, e.now())
		return err
	}
	// The hot path: a job that carries its run's version and interval, of an activity with no
	// precondition, starts with one statement (PostgreSQL) and no read of the run: run holds
	// what the job carries (partial: reloaded when a failure needs the rest).
	partial := false
	if fp := e.hotPipeline(ctx, args); fp != nil {
		// Group-committed with the other activities starting now: one statement on
		// PostgreSQL for all of them, committed alone, without BEGIN and COMMIT.
		st, err := e.starts.Do(ctx, state.Start{RunID: args.RunID, Activity: args.Activity, JobID: jobID})
		if err != nil {
			return fmt.Errorf("pipeline %s run %d activity %s: %w", args.Pipeline, args.RunID, args.Activity, err)
		}
		if st.ok {
			inst, attempt, partial = st.row, st.row.Attempts, true
		}
		if partial {
			p, def = fp, fp.Activities[args.Activity]
			run = state.RunRow{ID: args.RunID, Pipeline: args.Pipeline, Version: args.Version,
				IntervalStart: state.FromMicros(args.IntervalStart), IntervalEnd: state.FromMicros(args.IntervalEnd)}
			data = templateData(run, p)
			rendered, renderErr = activity.Render(def, data)
		}
		// Not started: the instance is final (a duplicate job) or gone; the path below says.
	}
	// Load; settle jobs with nothing left to do (a duplicate or a job of a finished
	// instance); and, when no precondition must be poked first, record the attempt's start in
	// the same transaction: one round of the database less per activity.
	done := false
	if !partial {
		if err := inTx(ctx, func(t txn) error {
			var err error
			if run, err = state.GetRun(ctx, t.Q(), args.RunID); err != nil {
				return err
			}
			if inst, err = state.GetActivity(ctx, t.Q(), args.RunID, args.Activity); err != nil {
				return err
			}
			if p, err = e.pipeline(ctx, t.Q(), run.Pipeline, run.Version); err != nil {
				return err
			}
			if isFinal(inst.State) {
				done = true
				return t.CompleteJob(ctx)
			}
			if def = p.Activities[args.Activity]; def == nil {
				return nil
			}
			data = templateData(run, p)
			if state.IsEventTrigger(run.Trigger) {
				if err := withEvent(ctx, t.Q(), run, &data); err != nil {
					return err
				}
			}
			if rendered, renderErr = activity.Render(def, data); renderErr != nil || mustPoke(rendered, inst) {
				return nil
			}
			return startAttempt(t)
		}); err != nil {
			return fmt.Errorf("pipeline %s run %d activity %s: %w", args.Pipeline, args.RunID, args.Activity, err)
		}
	}
	if done {
		log.Info("activity already finished; job completed without running it again", "state", inst.State)
		return nil
	}
	if def == nil {
		return e.fail(ctx, inTx, run, p, args.Activity, 0, "", fmt.Errorf("pipeline %s version %s has no activity %s", p.Name, p.Version, args.Activity))
	}
	if renderErr != nil {
		if partial { // the attempt was started: it fails
			full, err := e.fullRun(ctx, run)
			if err != nil {
				return err
			}
			return e.fail(ctx, inTx, full, p, args.Activity, attempt, "", activity.Permanent(fmt.Errorf("rendering templates: %w", renderErr)))
		}
		return e.fail(ctx, inTx, run, p, args.Activity, 0, "", activity.Permanent(fmt.Errorf("rendering templates: %w", renderErr)))
	}

	// wait_for: poke once per job execution; snooze (which frees the worker and costs no
	// attempt) until the precondition holds or its timeout passes.
	if mustPoke(rendered, inst) {
		wait, failed, err := e.poke(ctx, inTx, run, p, args, inst, rendered.WaitFor, log)
		switch {
		case err != nil:
			return err
		case failed:
			return nil // recorded as failed, job completed
		case wait > 0:
			return river.JobSnooze(wait)
		}
	}

	kind := inst.Kind
	exec := e.opts.Executors[kind]
	if attempt == 0 {
		if err := inTx(ctx, startAttempt); err != nil {
			return fmt.Errorf("pipeline %s run %d activity %s: %w", args.Pipeline, args.RunID, args.Activity, err)
		}
	}
	maxAttempts := p.Defaults.Retries + 1
	if def.Retries != nil {
		maxAttempts = *def.Retries + 1
	}
	maxAttempts += inst.AttemptBase // a cleared instance gets its retries again
	logBuf := activity.NewLogBuffer(e.opts.LogLimit)
	started := time.Now()
	var (
		res *activity.Result
		err error
	)
	switch {
	case attempt > maxAttempts:
		// Every attempt was used up by runners that died mid-attempt. No retry will end what
		// the last of them left (a transient cluster): the executor does it now.
		err = activity.Permanent(fmt.Errorf("%d attempts started and none finished (the runner stopped during each)", attempt-1))
		if ab, ok := exec.(activity.Abandoner); ok {
			if aerr := ab.Abandon(ctx, &activity.Task{
				Pipeline: p.Name, RunID: run.ID, ActivityID: args.Activity, Attempt: attempt,
				Interval: definition.Interval{Start: data.Start, End: data.End}, Activity: rendered,
				Params: p.Parameters, Log: logBuf, Logger: log,
			}); aerr != nil {
				err = fmt.Errorf("%w (and %w)", err, aerr)
			}
		}
	case exec == nil:
		err = activity.Permanent(fmt.Errorf("this runner has no executor for %s activities", kind))
	default:
		log.Info("attempt started", "attempt", attempt, "of", maxAttempts, "kind", kind)
		actx, cancel := ctx, context.CancelFunc(func() {})
		if args.Timeout > 0 {
			actx, cancel = context.WithTimeoutCause(ctx, args.Timeout, fmt.Errorf("timed out after %s", args.Timeout))
		}
		res, err = exec.Execute(actx, &activity.Task{
			Pipeline: p.Name, RunID: run.ID, ActivityID: args.Activity, Attempt: attempt,
			Interval: definition.Interval{Start: data.Start, End: data.End}, Activity: rendered,
			Params: p.Parameters, Log: logBuf, Logger: log,
		})
		if err != nil && actx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", context.Cause(actx), err)
		}
		cancel()
	}
	// The executor's error and log text are stored, logged and sent: scrub them here, once.
	err = e.scrubErr(err)
	logText := e.scrub(logBuf.String())
	elapsed := time.Since(started)
	if err == nil {
		if e.opts.Metrics != nil {
			e.opts.Metrics.AttemptFinished(p.Name, args.Activity, kind, "success", elapsed)
		}
		return e.succeed(ctx, run, p, args.Activity, attempt, res, logText, log)
	}
	if partial {
		// What follows a failure reports the run (notifications, metrics): read all of it.
		full, rerr := e.fullRun(ctx, run)
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		run = full
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		// The runner is stopping: leave the attempt unfinished for the next runner, and
		// snooze without counting it.
		log.Warn("attempt interrupted by shutdown", "attempt", attempt)
		return river.JobSnooze(0)
	}
	final := activity.IsPermanent(err) || attempt >= maxAttempts
	if e.opts.Metrics != nil {
		outcome := "retry"
		if final {
			outcome = "failed"
		}
		e.opts.Metrics.AttemptFinished(p.Name, args.Activity, kind, outcome, elapsed)
	}
	if final {
		return e.fail(ctx, inTx, run, p, args.Activity, attempt, logText, err)
	}
	log.Warn("attempt failed; will retry", "attempt", attempt, "of", maxAttempts, "error", err)
	if terr := inTx(ctx, func(t txn) error {
		if err := state.FinishAttempt(ctx, t.Q(), run.ID, args.Activity, attempt, status.ActivityFailed, err.Error(), logText, e.now()); err != nil {
			return err
		}
		return state.SetActivityState(ctx, t.Q(), run.ID, args.Activity, status.ActivityRetrying, "", err.Error(), e.now())
	}); terr != nil {
		return errors.Join(err, terr)
	}
	return fmt.Errorf("pipeline %s run %d activity %s attempt %d: %w", p.Name, run.ID, args.Activity, attempt, err)
}

// hotPipeline returns the definition a job's activity runs on when the job can take the hot
// path: it carries its run's version (decoded once per version, then cached), and the activity
// exists and has no wait_for precondition. Otherwise nil: the job takes the path that reads
// the run first.
func (e *Engine) hotPipeline(ctx context.Context, args ActivityArgs) *definition.Pipeline {
	if args.Version == "" || args.IntervalEnd == 0 {
		return nil
	}
	p, err := e.pipeline(ctx, e.db.Reader(), args.Pipeline, args.Version)
	if err != nil {
		return nil // the other path reports it
	}
	if a := p.Activities[args.Activity]; a == nil || a.WaitFor != nil {
		return nil
	}
	if p.Trigger != nil {
		// A run an event made sees the event in its templates (.Event): read with the run.
		return nil
	}
	return p
}

// fullRun reads the run a hot-path job carried only part of.
func (e *Engine) fullRun(ctx context.Context, partial state.RunRow) (state.RunRow, error) {
	run, err := state.GetRun(ctx, e.db.Reader(), partial.ID)
	if err != nil {
		return partial, fmt.Errorf("pipeline %s run %d: %w", partial.Pipeline, partial.ID, err)
	}
	return run, nil
}

// templateData is what an activity's templates of a run see: the interval in the schedule's
// time zone, the parameters, the pipeline and the run.
func templateData(run state.RunRow, p *definition.Pipeline) definition.TemplateData {
	data := definition.TemplateData{Start: run.IntervalStart, End: run.IntervalEnd, Params: p.Parameters, Pipeline: p.Name, RunID: activity.RunIDString(run.ID)}
	if p.Schedule.Timezone != "" {
		if loc, err := definition.LoadTimezone(p.Schedule.Timezone); err == nil {
			data.Start, data.End = data.Start.In(loc), data.End.In(loc)
		}
	}
	return data
}

// mustPoke says whether the instance's wait_for precondition is still to be checked: it has
// one and no attempt has started (a retry does not wait again).
func mustPoke(rendered *definition.Activity, inst state.ActivityRow) bool {
	return rendered.WaitFor != nil && inst.State != status.ActivityRunning && inst.State != status.ActivityRetrying
}

// poke checks a wait_for precondition. It returns how long to snooze (0 when the condition
// holds and the activity may run), or failed = true once it has failed the activity (timeout,
// or a check that can never succeed).
func (e *Engine) poke(ctx context.Context, inTx inTxFunc, run state.RunRow, p *definition.Pipeline, args ActivityArgs, inst state.ActivityRow, w *definition.WaitFor, log interface {
	Info(string, ...any)
},
) (wait time.Duration, failed bool, err error) {
	if e.opts.Poker == nil {
		return 0, true, e.fail(ctx, inTx, run, p, args.Activity, 0, "", activity.Permanent(errors.New("wait_for: this runner has no precondition checker")))
	}
	ok, perr := e.opts.Poker.Poke(ctx, w)
	if perr != nil && activity.IsPermanent(perr) {
		return 0, true, e.fail(ctx, inTx, run, p, args.Activity, 0, "", fmt.Errorf("wait_for: %w", perr))
	}
	if ok {
		return 0, false, nil
	}
	// Waiting is measured on the wall clock: the engine's clock decides which intervals are
	// due and may be injected, but a poke timeout is real time passing.
	now := time.Now().UTC()
	waitStarted := now
	if inst.WaitStarted != nil {
		waitStarted = *inst.WaitStarted
	}
	timeout := 24 * time.Hour
	if w.Timeout != "" {
		if d, perr := definition.ParseDuration(w.Timeout); perr == nil {
			timeout = d
		}
	}
	if now.Sub(waitStarted) >= timeout {
		why := "the precondition still does not hold"
		if perr != nil {
			why = "the last check failed: " + perr.Error()
		}
		return 0, true, e.fail(ctx, inTx, run, p, args.Activity, 0, "", activity.Permanent(fmt.Errorf("wait_for timed out after %s: %s", timeout, why)))
	}
	interval := time.Minute
	if w.PokeInterval != "" {
		if d, perr := definition.ParseDuration(w.PokeInterval); perr == nil && d > 0 {
			interval = d
		}
	}
	// Back off: the poke interval, doubling per poke, capped at 8× and at the time left.
	wait = interval
	for i := 0; i < inst.Pokes && wait < 8*interval; i++ {
		wait *= 2
	}
	wait = min(wait, 8*interval, timeout-now.Sub(waitStarted))
	if err := inTx(ctx, func(t txn) error {
		return state.SetWaiting(ctx, t.Q(), run.ID, args.Activity, waitStarted)
	}); err != nil {
		return 0, false, err
	}
	log.Info("waiting for a precondition", "next_poke_in", wait.String(), "pokes", inst.Pokes+1, "check_error", errString(perr))
	return max(wait, time.Millisecond), false, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func isFinal(s string) bool {
	return s == status.ActivitySuccess || s == status.ActivityFailed || s == status.ActivityUpstreamFailed
}

// succeed records a successful attempt and queues the activities it made ready, in one
// transaction shared with the other activities of this runner succeeding at the same time
// (recordSuccesses): on PostgreSQL one statement records the attempts, the instances and the
// runs' progress (whose row locks order activities of a run finishing at once), then the ready
// dependents' jobs are inserted. A run is read, and finished, only when its last activity
// finishes. The job itself is completed by River after Work returns, in
// River's batches: should the runner die before that, the job runs again, finds its instance
// final and completes at once.
func (e *Engine) succeed(ctx context.Context, run state.RunRow, p *definition.Pipeline, act string, attempt int, res *activity.Result, logText string, log interface {
	Info(string, ...any)
},
) error {
	if res == nil {
		res = &activity.Result{}
	}
	resJSON, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("activity %s: encoding the result: %w", act, err)
	}
	if _, err := e.successes.Do(ctx, &success{run: run, p: p, act: act, attempt: attempt, result: string(resJSON), log: logText, res: res}); err != nil {
		return fmt.Errorf("pipeline %s run %d activity %s: recording success: %w", p.Name, run.ID, act, err)
	}
	log.Info("activity succeeded", "attempt", attempt, "summary", res.Summary)
	return nil
}

// dependents maps each activity that depends on act directly to all its dependencies: the
// candidates act's success may make ready.
func dependents(p *definition.Pipeline, act string) map[string][]string {
	out := map[string][]string{}
	for id, a := range p.Activities {
		if slices.Contains(a.DependsOn, act) {
			out[id] = a.DependsOn
		}
	}
	return out
}

// fail records a failed activity for good: dependents become upstream_failed, the job is
// completed (the engine, not River, decided), and the run finishes when nothing is left.
func (e *Engine) fail(ctx context.Context, inTx inTxFunc, run state.RunRow, p *definition.Pipeline, act string, attempt int, logText string, cause error) error {
	msg := e.scrub(cause.Error())
	err := inTx(ctx, func(t txn) error {
		q := t.Q()
		if err := state.LockRun(ctx, q, e.db.Dialect, run.ID); err != nil {
			return err
		}
		now := e.now()
		if attempt > 0 {
			if err := state.FinishAttempt(ctx, q, run.ID, act, attempt, status.ActivityFailed, msg, logText, now); err != nil {
				return err
			}
		}
		if err := state.SetActivityState(ctx, q, run.ID, act, status.ActivityFailed, "", msg, now); err != nil {
			return err
		}
		acts, err := state.Activities(ctx, q, run.ID)
		if err != nil {
			return err
		}
		states := map[string]string{}
		for _, a := range acts {
			states[a.Activity] = a.State
		}
		finals := 1
		for _, dep := range downstream(p, act) {
			if states[dep] == status.ActivityPending {
				if err := state.SetActivityState(ctx, q, run.ID, dep, status.ActivityUpstreamFailed, "", "upstream activity "+act+" failed", now); err != nil {
					return err
				}
				finals++
			}
		}
		if err := state.AddFinals(ctx, q, run.ID, finals); err != nil {
			return err
		}
		if err := t.CompleteJob(ctx); err != nil {
			return err
		}
		return e.advance(ctx, t, run, p, now)
	})
	if err != nil {
		return fmt.Errorf("pipeline %s run %d activity %s: recording failure (%s): %w", p.Name, run.ID, act, msg, err)
	}
	e.log.Error("activity failed", "pipeline", p.Name, "run", run.ID, "activity", act, "attempt", attempt, "error", msg)
	return nil
}

// downstream lists every activity that depends on act, directly or not.
func downstream(p *definition.Pipeline, act string) []string {
	seen := map[string]bool{}
	var out []string
	var visit func(string)
	visit = func(id string) {
		for other, a := range p.Activities {
			if seen[other] {
				continue
			}
			for _, d := range a.DependsOn {
				if d == id {
					seen[other] = true
					out = append(out, other)
					visit(other)
					break
				}
			}
		}
	}
	visit(act)
	return out
}

// advance queues newly ready activities, or finishes the run when every activity is final.
func (e *Engine) advance(ctx context.Context, t txn, run state.RunRow, p *definition.Pipeline, now time.Time) error {
	acts, err := state.Activities(ctx, t.Q(), run.ID)
	if err != nil {
		return err
	}
	states := map[string]string{}
	allFinal, anyFailed := true, false
	var failed []string
	var firstErr string
	for _, a := range acts {
		states[a.Activity] = a.State
		if !isFinal(a.State) {
			allFinal = false
		}
		if a.State == status.ActivityFailed {
			anyFailed = true
			failed = append(failed, a.Activity)
			if firstErr == "" {
				firstErr = a.Error
			}
		}
	}
	if !allFinal {
		return e.queueReady(ctx, t, run, p, states)
	}
	final := status.RunSuccess
	if anyFailed {
		final = status.RunFailed
	}
	if err := state.FinishRun(ctx, t.Q(), run.ID, final, now); err != nil {
		return err
	}
	if final == status.RunSuccess {
		if err := state.PutFreshness(ctx, t.Q(), p.Name, state.FreshnessPipeline, run.IntervalEnd, now); err != nil {
			return err
		}
	}
	e.runFinished(t, run, final, now)
	// The run freed one slot of its pipeline.
	if err := e.tryStartNext(ctx, t, run.Pipeline, 1); err != nil {
		return err
	}
	if p.Notify == nil {
		return nil
	}
	if final == status.RunFailed {
		return e.queueNotifications(ctx, t, p.Notify.OnFailure, e.notification(EventFailure, p, run, strings.Join(failed, ", "), firstErr))
	}
	n := e.notification(EventSuccess, p, run, "", "")
	if err := runOutputs(ctx, t.Q(), run, p, &n); err != nil {
		return err
	}
	return e.queueNotifications(ctx, t, p.Notify.OnSuccess, n)
}

// runFinished counts and logs a run that ended, once the transaction ending it commits.
func (e *Engine) runFinished(t txn, run state.RunRow, final string, now time.Time) {
	t.AfterCommit(func() {
		if e.opts.Metrics != nil {
			started := run.CreatedAt
			if run.StartedAt != nil {
				started = *run.StartedAt
			}
			e.opts.Metrics.RunFinished(run.Pipeline, final, now.Sub(started))
		}
		e.log.Info("run finished", "pipeline", run.Pipeline, "run", run.ID, "interval", run.IntervalStart, "state", final)
	})
}

// tryStartNext hands the slots that finishing runs freed (freed of them) to the pipeline's
// next scheduled runs, in the finishing transaction: a catchup or a backfill with
// max_active_runs = 1 goes from one run to the next at once instead of waiting for the next
// tick. Scheduled runs beyond those are not waiting for a slot: whoever created them starts
// them (the tick, a backfill, a kick).
//
// Starting runs needs the pipeline's promotion lock. When another transaction holds it (a
// backfill starting its runs, say), waiting here would stall the finishing transaction (and
// with it a whole batch of successes): the loop is kicked instead, once this commits, to
// start them then (Engine.kick).
func (e *Engine) tryStartNext(ctx context.Context, t txn, pipeline string, freed int) error {
	next, err := state.ScheduledRunsOf(ctx, t.Q(), pipeline, max(freed, 1))
	if err != nil || len(next) == 0 {
		return err
	}
	locked, err := state.TryLockPipeline(ctx, t.Q(), e.db.Dialect, pipeline)
	if err != nil {
		return err
	}
	if !locked {
		t.AfterCommit(func() { e.kick(pipeline) })
		return nil
	}
	_, err = e.startRuns(ctx, t, pipeline, next)
	return err
}

// notifyWorker sends one notification.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	e *Engine
}

// Timeout bounds one delivery attempt.
func (w *notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return time.Minute }

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	n := w.e.opts.Notifier
	if n == nil {
		w.e.log.Warn("no notifier configured; dropping a notification", "target", job.Args.Target, "event", job.Args.Message.Event)
		return nil
	}
	if err := n.Notify(ctx, job.Args.Target, job.Args.Message); err != nil {
		if w.e.opts.NotifyPermanent != nil && w.e.opts.NotifyPermanent(err) {
			w.e.log.Error("notification failed; not retrying", "pipeline", job.Args.Message.Pipeline, "event", job.Args.Message.Event, "error", err)
			return river.JobCancel(w.e.scrubErr(err))
		}
		return w.e.scrubErr(fmt.Errorf("notifying %s of %s: %w", job.Args.Message.Pipeline, job.Args.Message.Event, err))
	}
	return nil
}
