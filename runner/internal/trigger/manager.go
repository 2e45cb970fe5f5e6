package trigger

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// Options configure a Manager.
type Options struct {
	DB *state.DB
	// Queue opens the queue at a URL.
	Queue func(url string) Queue
	// Kinds maps a pipeline's activity ids to their kinds (engine.ActivityKinds).
	Kinds func(p *definition.Pipeline) (map[string]string, error)
	// Started is called after runs were recorded, to start them without waiting for the next
	// tick (engine.PromoteNow); nil waits for the tick.
	Started func(ctx context.Context) error
	// Refresh is how often the pipelines are read again (the engine records them every tick);
	// default 5s.
	Refresh time.Duration
	// AfterPoll is how often trigger.after looks for upstream runs that succeeded; default 1s.
	AfterPoll time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Manager runs a consumer per queue that enabled pipelines listen on, and the runs of
// trigger.after.
type Manager struct {
	opts Options
	rec  *Recorder
	log  *slog.Logger

	defs      map[string]*definition.Pipeline // by version
	consumers map[string]*running             // by queue URL
	cursors   map[string]afterCursor          // trigger.after: by "downstream upstream"
	promote   chan struct{}
}

// afterCursor is how far trigger.after has read an upstream's successful runs: the newest
// finish time, and the runs that finished at that very time (read again by the next >= query,
// and skipped without a transaction).
type afterCursor struct {
	since time.Time
	at    map[int64]bool
}

type running struct {
	c      *consumer
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Manager.
func New(opts Options) *Manager {
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.AfterPoll <= 0 {
		opts.AfterPoll = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{
		opts: opts, log: opts.Logger,
		rec:  &Recorder{DB: opts.DB, Kinds: opts.Kinds, Now: opts.Now},
		defs: map[string]*definition.Pipeline{}, consumers: map[string]*running{}, cursors: map[string]afterCursor{},
		promote: make(chan struct{}, 1),
	}
}

// Run consumes until ctx ends, then waits for the consumers to stop.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if m.opts.Started != nil {
		wg.Add(1)
		go func() { defer wg.Done(); m.promoter(ctx) }()
	}
	refresh := time.NewTicker(m.opts.Refresh)
	defer refresh.Stop()
	after := time.NewTicker(m.opts.AfterPoll)
	defer after.Stop()
	var afterPipelines []*definition.Pipeline
	for {
		ps, err := m.pipelines(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Error("reading the triggered pipelines failed", "error", err)
		}
		if err == nil {
			afterPipelines = m.reconcile(ctx, ps)
		}
	inner:
		for {
			select {
			case <-ctx.Done():
				for _, r := range m.consumers {
					r.cancel()
					<-r.done
				}
				wg.Wait()
				return nil
			case <-refresh.C:
				break inner
			case <-after.C:
				m.afterRuns(ctx, afterPipelines)
			}
		}
	}
}

// promoter starts recorded runs, one call at a time, coalescing requests.
func (m *Manager) promoter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.promote:
			if err := m.opts.Started(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("starting triggered runs failed; the next tick starts them", "error", err)
			}
		}
	}
}

func (m *Manager) started(context.Context) {
	select {
	case m.promote <- struct{}{}:
	default:
	}
}

// pipelines returns the enabled pipelines that have a trigger, decoding each version once.
func (m *Manager) pipelines(ctx context.Context) ([]*definition.Pipeline, error) {
	var docs map[string][]byte
	if err := m.opts.DB.InTx(ctx, func(q state.Q) error {
		var err error
		docs, err = state.TriggeredPipelines(ctx, q)
		return err
	}); err != nil {
		return nil, err
	}
	var out []*definition.Pipeline
	for name, doc := range docs {
		p, err := definition.DecodePipeline(doc)
		if err != nil {
			m.log.Error("skipping the trigger of a pipeline whose document cannot be read", "pipeline", name, "error", err)
			continue
		}
		if cached := m.defs[p.Version]; cached != nil {
			p = cached
		} else {
			m.defs[p.Version] = p
		}
		if p.Trigger != nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// reconcile starts a consumer for every queue listened on, updates the listeners of running
// ones, and stops those nobody listens on any more. It returns the pipelines with
// trigger.after.
func (m *Manager) reconcile(ctx context.Context, ps []*definition.Pipeline) []*definition.Pipeline {
	byQueue := map[string][]*Listener{}
	var after []*definition.Pipeline
	for _, p := range ps {
		if len(p.Trigger.After) > 0 {
			after = append(after, p)
		}
		if p.Trigger.SQS == nil {
			continue
		}
		l, err := NewListener(p)
		if err != nil {
			m.log.Error("skipping a trigger that cannot be used", "pipeline", p.Name, "error", err)
			continue
		}
		byQueue[l.QueueURL()] = append(byQueue[l.QueueURL()], l)
	}
	for url, r := range m.consumers {
		if _, ok := byQueue[url]; !ok {
			r.cancel()
			<-r.done
			delete(m.consumers, url)
			m.log.Info("stopped consuming a trigger queue: no enabled pipeline listens on it", "queue", url)
		}
	}
	for url, ls := range byQueue {
		if r, ok := m.consumers[url]; ok {
			r.c.setListeners(ls)
			continue
		}
		c := &consumer{url: url, q: m.opts.Queue(url), rec: m.rec, log: m.log, now: m.opts.Now, onRuns: m.started}
		c.setListeners(ls)
		cctx, cancel := context.WithCancel(ctx)
		r := &running{c: c, cancel: cancel, done: make(chan struct{})}
		go func() { defer close(r.done); c.run(cctx) }()
		m.consumers[url] = r
		names := make([]string, len(ls))
		for i, l := range ls {
			names[i] = l.Pipeline.Name
		}
		m.log.Info("consuming a trigger queue", "queue", url, "pipelines", names)
	}
	return after
}

// afterBatch bounds the upstream runs one poll turns into runs per pipeline pair.
const afterBatch = 500

// afterRuns makes a run of each trigger.after pipeline for every upstream run that succeeded
// since the downstream pipeline was first seen: one run per upstream run, for the same
// interval, exactly once (the upstream run is the dedupe key).
func (m *Manager) afterRuns(ctx context.Context, ps []*definition.Pipeline) {
	made := false
	for _, p := range ps {
		for _, up := range p.Trigger.After {
			key := p.Name + " " + up
			cur, ok := m.cursors[key]
			if !ok {
				first, seen, err := state.FirstSeen(ctx, m.opts.DB.Reader(), p.Name)
				if err != nil || !seen {
					continue
				}
				cur = afterCursor{since: first}
			}
			runs, err := state.SucceededRunsSince(ctx, m.opts.DB.Reader(), up, cur.since, afterBatch)
			if err != nil {
				m.log.Error("reading the upstream runs of trigger.after failed", "pipeline", p.Name, "upstream", up, "error", err)
				continue
			}
			loc := time.UTC
			if tz := p.Schedule.Timezone; tz != "" {
				if l, err := definition.LoadTimezone(tz); err == nil {
					loc = l
				}
			}
			for _, r := range runs {
				if r.FinishedAt.Equal(cur.since) && cur.at[r.ID] {
					continue
				}
				ev := Event{Kind: KindNotification, Time: *r.FinishedAt, Notification: &Notification{
					Format: NotificationFormat, Event: "success", State: "success", Pipeline: up, Version: r.Version, RunID: r.ID,
					IntervalStart: r.IntervalStart.Format(time.RFC3339Nano), IntervalEnd: r.IntervalEnd.Format(time.RFC3339Nano),
				}}
				res, err := m.rec.Record(ctx, p, state.TriggerAfter, []Item{{Event: ev}}, 0, loc)
				if err != nil {
					m.log.Error("recording a run of trigger.after failed; retrying at the next poll", "pipeline", p.Name, "upstream", up, "upstream_run", r.ID, "error", err)
					break
				}
				if !r.FinishedAt.Equal(cur.since) {
					cur = afterCursor{since: *r.FinishedAt, at: map[int64]bool{}}
				}
				if cur.at == nil {
					cur.at = map[int64]bool{}
				}
				cur.at[r.ID] = true
				if res.RunID != 0 {
					made = true
					m.log.Info("run created after an upstream run succeeded", "pipeline", p.Name, "run", res.RunID, "upstream", up,
						"upstream_run", strconv.FormatInt(r.ID, 10), "interval_start", r.IntervalStart)
				}
			}
			m.cursors[key] = cur
		}
	}
	if made {
		m.started(ctx)
	}
}
