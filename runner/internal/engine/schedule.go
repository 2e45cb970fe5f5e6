package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// MaxPlanPerTick bounds how many runs one tick creates for one pipeline: a schedule published
// with a start years ago plans its catch-up over a few ticks instead of one huge transaction.
const MaxPlanPerTick = 10000

// Due returns the intervals the scheduler creates runs for at now, oldest first. last is the
// start of the newest interval it created a run for before (hasLast false when none).
//
// With catchup, that is every interval after last that has ended by now (from the schedule's
// start when there is no last). Without catchup, only the newest interval that has ended, if
// it is after last: the past is not run unless a backfill asks for it, and a runner that was
// down for three days runs the latest day only (as Airflow does with catchup=False).
func Due(s *definition.CompiledSchedule, now, last time.Time, hasLast bool, limit int) []definition.Interval {
	if !s.Catchup() {
		due := s.DueAt(now)
		if len(due) == 0 {
			return nil
		}
		iv := due[len(due)-1]
		if hasLast && !iv.Start.After(last) {
			return nil
		}
		return []definition.Interval{iv}
	}
	from := s.Start()
	if hasLast {
		from = last.Add(time.Nanosecond)
	}
	var out []definition.Interval
	for iv := range s.Intervals(from) {
		if iv.End.After(now) || len(out) >= limit {
			break
		}
		out = append(out, iv)
	}
	return out
}

// scheduleDue reads the registry, records every valid pipeline's newest version, and creates
// the due runs of the enabled ones. A document that cannot be read or is invalid is logged and
// skipped: the others keep running.
//
// A document is read only when the listing shows it changed: the registry lists each key with
// a stamp (an S3 ETag, a file's size, modification time and inode), and a document read
// before under the same stamp is taken from this runner's cache, with nothing to store again
// while the state database still holds its version. A tick over 1,000 unchanged documents in
// S3 is then one ListObjectsV2 request instead of 1,001. (A stamped listing needs nothing of
// the provider and cannot disagree with the documents, as an index kept beside them could
// after an interrupted apply or an edit by hand.)
func (e *Engine) scheduleDue(ctx context.Context) error {
	if e.opts.Registry == nil {
		return errors.New("no registry configured: pass --registry or set SLUICE_REGISTRY")
	}
	entries, err := e.listPipelines(ctx)
	if err != nil {
		return fmt.Errorf("listing pipelines in %s: %w", e.opts.Registry.URL(), err)
	}
	known, err := state.Pipelines(ctx, e.db.Reader())
	if err != nil {
		return err
	}
	stored := make(map[string]state.PipelineRow, len(known))
	for _, k := range known {
		stored[k.Name] = k
	}
	present := map[string]bool{}
	listed := make(map[string]bool, len(entries))
	now := e.now()
	paused, err := state.PausedPipelines(ctx, e.db.Reader())
	if err != nil {
		return err
	}
	for _, en := range entries {
		key := en.Key
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		listed[key] = true
		p, doc, fresh, err := e.readChanged(ctx, en)
		if err != nil {
			// The document is there but cannot be read or used: its pipeline is not removed
			// (the status page names the document; it keeps its runs and its last known state).
			present[strings.TrimSuffix(strings.TrimPrefix(key, registry.PipelinesPrefix), ".json")] = true
			e.log.Error("skipping a pipeline document", "key", key, "error", err)
			continue
		}
		present[p.Name] = true
		if row, ok := stored[p.Name]; fresh || !ok || row.Removed || row.Version != p.Version {
			if err := e.db.InTx(ctx, func(q state.Q) error {
				if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
					return err
				}
				return state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: p.Enabled, Owner: p.Owner}, now)
			}); err != nil {
				return err
			}
		}
		if _, isPaused := paused[p.Name]; !p.Enabled || isPaused || !p.HasSchedule() {
			continue // paused; or a pipeline with only a trigger, which gets its runs from package trigger
		}
		if err := e.scheduleOne(ctx, p, now); err != nil {
			e.log.Error("scheduling failed", "pipeline", p.Name, "error", err)
		}
	}
	e.docsMu.Lock()
	for key := range e.docs {
		if !listed[key] {
			delete(e.docs, key)
		}
	}
	e.docsMu.Unlock()
	return e.db.InTx(ctx, func(q state.Q) error { return state.MarkRemoved(ctx, q, present) })
}

// publishedDoc is a pipeline document as read under a stamp.
type publishedDoc struct {
	stamp string
	p     *definition.Pipeline
	doc   []byte
}

// listPipelines lists the pipeline documents, with stamps when the registry has them (an
// empty stamp is never trusted).
func (e *Engine) listPipelines(ctx context.Context) ([]registry.Entry, error) {
	if sl, ok := e.opts.Registry.(registry.StampLister); ok {
		return sl.ListStamped(ctx, registry.PipelinesPrefix)
	}
	keys, err := e.opts.Registry.List(ctx, registry.PipelinesPrefix)
	entries := make([]registry.Entry, len(keys))
	for i, k := range keys {
		entries[i] = registry.Entry{Key: k}
	}
	return entries, err
}

// readChanged returns the pipeline of a listed document: from the cache when its stamp is the
// one it was read under, else read, checked and cached (fresh). A document that fails is not
// cached: it is read again next tick, so that the status page keeps naming it.
func (e *Engine) readChanged(ctx context.Context, en registry.Entry) (p *definition.Pipeline, doc []byte, fresh bool, err error) {
	e.docsMu.Lock()
	c, ok := e.docs[en.Key]
	e.docsMu.Unlock()
	if ok && en.Stamp != "" && c.stamp == en.Stamp {
		return c.p, c.doc, false, nil
	}
	p, doc, err = e.readPublished(ctx, en.Key)
	e.docsMu.Lock()
	defer e.docsMu.Unlock()
	if err != nil {
		delete(e.docs, en.Key)
		return nil, nil, false, err
	}
	e.docs[en.Key] = publishedDoc{stamp: en.Stamp, p: p, doc: doc}
	return p, doc, true, nil
}

// readPublished reads and checks one published pipeline.
func (e *Engine) readPublished(ctx context.Context, key string) (*definition.Pipeline, []byte, error) {
	doc, err := e.opts.Registry.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", key, err)
	}
	p, err := definition.DecodePipeline(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	if probs := definition.ValidatePipeline(p); len(probs) > 0 {
		return nil, nil, fmt.Errorf("%s: pipeline %s is invalid: %w", key, p.Name, definition.Problems(probs))
	}
	if registry.PipelineKey(p.Name) != key {
		return nil, nil, fmt.Errorf("%s holds pipeline %q: the key must be %s", key, p.Name, registry.PipelineKey(p.Name))
	}
	return p, doc, nil
}

func (e *Engine) scheduleOne(ctx context.Context, p *definition.Pipeline, now time.Time) error {
	sched, err := p.Schedule.Compile()
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	var last time.Time
	var hasLast bool
	if err := e.db.InTx(ctx, func(q state.Q) error {
		last, hasLast, err = state.LastScheduled(ctx, q, p.Name)
		return err
	}); err != nil {
		return err
	}
	due := Due(sched, now, last, hasLast, MaxPlanPerTick)
	if len(due) == 0 {
		return nil
	}
	created, err := e.createRuns(ctx, p, due, state.TriggerSchedule, sched.MaxActiveRuns(), reprocessNone)
	if err != nil {
		return err
	}
	if len(created) > 0 {
		e.log.Info("scheduled runs", "pipeline", p.Name, "runs", len(created), "first", due[0].Start, "last", due[len(due)-1].Start)
	}
	return nil
}

// Reprocess modes of a backfill.
const (
	ReprocessNone   = "none"   // only intervals without a run
	ReprocessFailed = "failed" // also intervals whose newest run failed
	ReprocessAll    = "all"    // every interval, again
)

// ReprocessModes lists the reprocess modes.
func ReprocessModes() []string { return []string{ReprocessNone, ReprocessFailed, ReprocessAll} }

const reprocessNone = ReprocessNone

// createRuns creates scheduled runs for the intervals, in one transaction, oldest first, and
// returns the ids it created. An interval that has a run gets a new one (seq+1) only when
// reprocess asks for it; otherwise the unique (pipeline, interval, seq) key keeps it at one
// even when several runners plan the same interval at once.
func (e *Engine) createRuns(ctx context.Context, p *definition.Pipeline, ivs []definition.Interval, trigger string, maxActive int, reprocess string) ([]int64, error) {
	if len(ivs) == 0 {
		return nil, nil
	}
	kinds, err := e.activityKinds(p)
	if err != nil {
		return nil, err
	}
	doc, err := definition.Encode(p)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", p.Name, err)
	}
	now := e.now()
	var ids []int64
	err = e.db.InTx(ctx, func(q state.Q) error {
		ids = ids[:0]
		if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
			return err
		}
		met, err := state.OverlappingRuns(ctx, q, p.Name, ivs[0].Start, ivs[len(ivs)-1].End)
		if err != nil {
			return err
		}
		existing := make(map[int64]state.RunRow, len(met))
		for _, r := range met {
			existing[state.Micros(r.IntervalStart)] = r // ordered by seq: the newest wins
		}
		overlaps := newOverlapIndex(met)
		runs := make([]state.NewRun, 0, len(ivs))
		for _, iv := range ivs {
			if r, ok := overlaps.other(iv); ok && reprocess != ReprocessAll {
				e.reportLeftOut(p.Name, iv, r)
				continue
			}
			seq := 0
			if prev, ok := existing[state.Micros(iv.Start)]; ok {
				switch {
				case reprocess == ReprocessAll && prev.State != status.RunScheduled && prev.State != status.RunRunning,
					reprocess == ReprocessFailed && prev.State == status.RunFailed:
					seq = prev.Seq + 1
				default:
					continue
				}
			}
			runs = append(runs, state.NewRun{
				Pipeline: p.Name, IntervalStart: iv.Start, IntervalEnd: iv.End, Seq: seq,
				Version: p.Version, Trigger: trigger, MaxActive: maxActive, Activities: kinds,
			})
		}
		created, err := state.InsertRuns(ctx, q, e.db.Dialect, runs, now)
		if err != nil {
			return err
		}
		for _, r := range runs {
			if id, ok := created[state.Micros(r.IntervalStart)]; ok {
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}

// overlapIndex finds existing runs whose interval overlaps a new one without being the same
// interval. Runs made under earlier schedule rules (before the DST fixes, or of an earlier
// version of the schedule) can cut time differently from today's intervals; a new run over
// any instant they already cover would load that data twice.
type overlapIndex struct {
	runs   []state.RunRow // by interval start
	maxEnd []time.Time    // maxEnd[i]: the latest end among runs[:i+1]
}

func newOverlapIndex(runs []state.RunRow) overlapIndex {
	idx := overlapIndex{runs: runs, maxEnd: make([]time.Time, len(runs))}
	for i, r := range runs {
		idx.maxEnd[i] = r.IntervalEnd
		if i > 0 && idx.maxEnd[i-1].After(r.IntervalEnd) {
			idx.maxEnd[i] = idx.maxEnd[i-1]
		}
	}
	return idx
}

// other returns a run that overlaps iv and does not start where iv starts.
func (x overlapIndex) other(iv definition.Interval) (state.RunRow, bool) {
	j := sort.Search(len(x.runs), func(i int) bool { return !x.runs[i].IntervalStart.Before(iv.End) })
	for j--; j >= 0 && x.maxEnd[j].After(iv.Start); j-- {
		r := x.runs[j]
		if r.IntervalEnd.After(iv.Start) && !r.IntervalStart.Equal(iv.Start) {
			return r, true
		}
	}
	return state.RunRow{}, false
}

// reportLeftOut logs, once per runner and interval, an interval left out because an existing
// run already covers part of it.
func (e *Engine) reportLeftOut(pipeline string, iv definition.Interval, r state.RunRow) {
	if _, seen := e.leftOut.LoadOrStore(pipeline+" "+iv.String(), true); seen {
		return
	}
	e.log.Warn("interval left out: an existing run already covers part of it, and running it would load that data twice; backfill with --reprocess all to run today's intervals over it",
		"pipeline", pipeline, "interval", iv.String(), "run", r.ID,
		"run_interval", definition.Interval{Start: r.IntervalStart.In(iv.Start.Location()), End: r.IntervalEnd.In(iv.Start.Location())}.String())
}

// activityKinds maps each activity id to its kind, refusing an activity the runner cannot run.
func (e *Engine) activityKinds(p *definition.Pipeline) (map[string]string, error) {
	out := make(map[string]string, len(p.Activities))
	for id, a := range p.Activities {
		kind, err := e.kindOf(p.Name, id, a)
		if err != nil {
			return nil, err
		}
		out[id] = kind
	}
	return out, nil
}

func (e *Engine) kindOf(pipeline, id string, a *definition.Activity) (string, error) {
	kinds := a.Kinds()
	kind := activity.KindNoop
	switch len(kinds) {
	case 0:
	case 1:
		kind = kinds[0]
	default:
		return "", fmt.Errorf("pipeline %s activity %s has several kinds (%s): exactly one is allowed", pipeline, id, strings.Join(kinds, ", "))
	}
	if _, ok := e.opts.Executors[kind]; !ok {
		if kind == activity.KindNoop {
			return "", fmt.Errorf("pipeline %s activity %s has no kind: set one of %s", pipeline, id, strings.Join(definition.ActivityKinds(), ", "))
		}
		return "", fmt.Errorf("pipeline %s activity %s: this runner has no executor for %s", pipeline, id, kind)
	}
	return kind, nil
}

// promote starts scheduled runs, oldest interval first per pipeline, while the pipeline has
// fewer running runs than the run's max_active. Starting a run queues its root activities.
func (e *Engine) promote(ctx context.Context) error {
	var runs []state.RunRow
	if err := e.db.InTx(ctx, func(q state.Q) error {
		var err error
		runs, err = state.ScheduledRuns(ctx, q, 5000)
		return err
	}); err != nil {
		return err
	}
	byPipeline := map[string][]state.RunRow{}
	var names []string
	for _, r := range runs {
		if byPipeline[r.Pipeline] == nil {
			names = append(names, r.Pipeline)
		}
		byPipeline[r.Pipeline] = append(byPipeline[r.Pipeline], r)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if err := e.promotePipeline(ctx, name, byPipeline[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// promoteBatch is how many runs one transaction starts at most: big enough to start a
// backfill quickly, small enough that workers see the first runs' activities early (a
// committed batch is visible to them while the next one is being written).
const promoteBatch = 50

func (e *Engine) promotePipeline(ctx context.Context, name string, runs []state.RunRow) error {
	for len(runs) > 0 {
		batch := runs[:min(promoteBatch, len(runs))]
		runs = runs[len(batch):]
		full := false
		if err := e.client.inTx(ctx, nil, func(t txn) error {
			if err := state.LockPipeline(ctx, t.Q(), e.db.Dialect, name); err != nil {
				return err
			}
			var err error
			full, err = e.startRuns(ctx, t, name, batch)
			return err
		}); err != nil {
			return err
		}
		if full {
			return nil
		}
	}
	return nil
}

// startRuns starts the runs of one pipeline that fit within max_active, oldest first, and
// queues their root activities, with a handful of statements for the whole batch. full is
// true when a run had to wait for a slot. The caller holds the pipeline's promotion lock
// (LockPipeline or TryLockPipeline), so that max_active_runs holds with several runners.
func (e *Engine) startRuns(ctx context.Context, t txn, name string, batch []state.RunRow) (full bool, err error) {
	q := t.Q()
	running, err := state.CountRunning(ctx, q, name)
	if err != nil {
		return false, err
	}
	var ids []int64
	for _, r := range batch {
		if running >= r.MaxActive {
			full = true
			break
		}
		ids = append(ids, r.ID)
		running++
	}
	started, err := state.StartRuns(ctx, q, e.db.Dialect, ids, e.now())
	if err != nil {
		return false, err
	}
	isStarted := make(map[int64]bool, len(started))
	for _, id := range started {
		isStarted[id] = true
	}
	var jobs []readyJob
	for _, r := range batch {
		if !isStarted[r.ID] {
			continue // waiting for a slot, or another runner started it
		}
		p, err := e.pipeline(ctx, q, r.Pipeline, r.Version)
		if err != nil {
			return false, err
		}
		// A run that has just started has every activity pending (runs are created so).
		states := make(map[string]string, len(p.Activities))
		for id := range p.Activities {
			states[id] = status.ActivityPending
		}
		ready, err := readyJobs(r, p, states)
		if err != nil {
			return false, err
		}
		jobs = append(jobs, ready...)
		if e.opts.Metrics != nil {
			e.opts.Metrics.RunStarted(r.Pipeline)
		}
		e.log.Info("run started", "pipeline", r.Pipeline, "run", r.ID, "interval", r.IntervalStart, "version", r.Version)
	}
	return full, e.queueJobs(ctx, t, jobs)
}

// readyJob is the job of an activity instance whose dependencies all succeeded.
type readyJob struct {
	run      state.RunRow
	activity string
	params   river.InsertManyParams
}

// readyJobs lists the jobs of every pending activity of the run whose dependencies all
// succeeded, given the activities' states; it marks them queued in states.
func readyJobs(r state.RunRow, p *definition.Pipeline, states map[string]string) ([]readyJob, error) {
	order, err := definition.TopoOrder(p.Activities)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", p.Name, err)
	}
	var out []readyJob
	for _, id := range order {
		if states[id] != status.ActivityPending {
			continue
		}
		ready := true
		for _, dep := range p.Activities[id].DependsOn {
			if states[dep] != status.ActivitySuccess {
				ready = false
				break
			}
		}
		if !ready {
			continue
		}
		args, opts, err := jobFor(r, p, id)
		if err != nil {
			return nil, err
		}
		out = append(out, readyJob{run: r, activity: id, params: river.InsertManyParams{Args: args, InsertOpts: opts}})
		states[id] = status.ActivityQueued
	}
	return out, nil
}

// queueJobs inserts the jobs in one statement and marks their instances queued in another.
func (e *Engine) queueJobs(ctx context.Context, t txn, jobs []readyJob) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = j.params
	}
	jobIDs, err := t.InsertMany(ctx, params)
	if err != nil {
		return fmt.Errorf("pipeline %s run %d activity %s and %d more: %w", jobs[0].run.Pipeline, jobs[0].run.ID, jobs[0].activity, len(jobs)-1, err)
	}
	queued := make([]state.Queued, len(jobs))
	for i, j := range jobs {
		queued[i] = state.Queued{RunID: j.run.ID, Activity: j.activity, JobID: jobIDs[i]}
	}
	_, err = state.QueueActivities(ctx, t.Q(), e.db.Dialect, queued)
	return err
}

// queueReady queues every pending activity of the run whose dependencies all succeeded, given
// the activities' current states.
func (e *Engine) queueReady(ctx context.Context, t txn, r state.RunRow, p *definition.Pipeline, states map[string]string) error {
	jobs, err := readyJobs(r, p, states)
	if err != nil {
		return err
	}
	return e.queueJobs(ctx, t, jobs)
}

// crashAllowance is how many more River attempts a job gets than the activity's retries: an
// attempt cut short by a dying runner is counted by River but decided on by the engine, which
// fails the activity once its own attempt count is used up.
const crashAllowance = 10

func jobFor(r state.RunRow, p *definition.Pipeline, id string) (ActivityArgs, *river.InsertOpts, error) {
	a := p.Activities[id]
	retries := p.Defaults.Retries
	if a.Retries != nil {
		retries = *a.Retries
	}
	timeout := a.Timeout
	if timeout == "" {
		timeout = p.Defaults.Timeout
	}
	args := ActivityArgs{RunID: r.ID, Activity: id, Pipeline: r.Pipeline, Version: r.Version,
		IntervalStart: state.Micros(r.IntervalStart), IntervalEnd: state.Micros(r.IntervalEnd)}
	if timeout != "" {
		d, err := definition.ParseDuration(timeout)
		if err != nil {
			return args, nil, fmt.Errorf("pipeline %s activity %s timeout: %w", p.Name, id, err)
		}
		args.Timeout = d
	}
	args.RetryDelay = time.Minute
	if p.Defaults.RetryDelay != "" {
		d, err := definition.ParseDuration(p.Defaults.RetryDelay)
		if err != nil {
			return args, nil, fmt.Errorf("pipeline %s defaults.retry_delay: %w", p.Name, err)
		}
		args.RetryDelay = d
	}
	return args, &river.InsertOpts{
		MaxAttempts: retries + 1 + crashAllowance,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}, nil
}

// checkLate notifies on_late targets of scheduled runs that have not succeeded `after` their
// interval ended, once per run. Backfills and manual runs are left out, as Airflow leaves them
// out of SLA misses: an operator who reprocesses last month knows it is late, and an alert per
// day of it would only be noise.
func (e *Engine) checkLate(ctx context.Context) error {
	var runs []state.RunRow
	if err := e.db.InTx(ctx, func(q state.Q) error {
		var err error
		runs, err = state.UnfinishedRuns(ctx, q)
		return err
	}); err != nil {
		return err
	}
	now := e.now()
	for _, r := range runs {
		if r.LateNotified || r.Trigger != state.TriggerSchedule {
			continue
		}
		var p *definition.Pipeline
		if err := e.db.InTx(ctx, func(q state.Q) error {
			var err error
			p, err = e.pipeline(ctx, q, r.Pipeline, r.Version)
			return err
		}); err != nil {
			return err
		}
		if p.Notify == nil || p.Notify.OnLate == nil {
			continue
		}
		after, err := definition.ParseDuration(p.Notify.OnLate.After)
		if err != nil {
			continue // refused at plan time; nothing to do here
		}
		if now.Sub(r.IntervalEnd) < after {
			continue
		}
		if err := e.client.inTx(ctx, nil, func(t txn) error {
			ok, err := state.MarkLateNotified(ctx, t.Q(), r.ID)
			if err != nil || !ok {
				return err
			}
			n := e.notification(EventLate, p, r, "", "")
			n.Late = now.Sub(r.IntervalEnd)
			return e.queueNotifications(ctx, t, p.Notify.OnLate.Targets, n)
		}); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) notification(event string, p *definition.Pipeline, r state.RunRow, act, errText string) Notification {
	return Notification{
		Event: event, Pipeline: p.Name, Owner: p.Owner, RunID: r.ID, Version: r.Version,
		IntervalStart: r.IntervalStart, IntervalEnd: r.IntervalEnd, Activity: act, Error: errText,
	}
}

func (e *Engine) queueNotifications(ctx context.Context, t txn, targets []string, n Notification) error {
	for _, target := range targets {
		if _, _, err := t.Insert(ctx, NotifyArgs{Target: target, Message: n}, &river.InsertOpts{MaxAttempts: 8}); err != nil {
			return err
		}
	}
	return nil
}
