package trigger

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// Message is one received SQS message.
type Message struct {
	ID      string
	Receipt string
	Body    string
	// Receives is how many times SQS has delivered it (ApproximateReceiveCount).
	Receives int
}

// Queue is the part of SQS a consumer uses (*SQS on a real queue).
type Queue interface {
	// Receive long-polls for up to max messages, waiting up to wait, hiding them for visibility.
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error)
	// Delete deletes messages by their receipts.
	Delete(ctx context.Context, msgs []Message) error
	// Extend hides messages for another d.
	Extend(ctx context.Context, msgs []Message, d time.Duration) error
}

// consumer reads one queue for the pipelines that listen on it.
type consumer struct {
	url    string
	q      Queue
	rec    *Recorder
	log    *slog.Logger
	now    func() time.Time
	onRuns func(ctx context.Context) // after runs were recorded: start them now

	mu        sync.Mutex
	listeners []*Listener

	pending map[string]*pending // received and not yet deleted, by message id
	open    map[string]*batch   // the batch collecting events, by pipeline
	ready   []*batch            // full or timed-out batches, recorded together by flushReady
}

// pending is a message held while the runs of its events are being made.
type pending struct {
	msg      Message
	batches  int  // batches holding its events and not committed yet
	failed   bool // a batch failed: never delete it, let it come back
	extended time.Time
}

type batch struct {
	l     *Listener
	items []Item
	msgs  map[string]*pending
	first time.Time
}

func (c *consumer) setListeners(ls []*Listener) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = ls
}

func (c *consumer) current() []*Listener {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listeners
}

func (c *consumer) pipelineNames() string {
	var names []string
	for _, l := range c.current() {
		names = append(names, l.Pipeline.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// visibility is the longest visibility timeout the listeners ask for.
func (c *consumer) visibility() time.Duration {
	v := time.Duration(0)
	for _, l := range c.current() {
		v = max(v, l.sqs.Visibility())
	}
	if v == 0 {
		v = time.Minute
	}
	return v
}

// longPoll is SQS's longest receive wait.
const longPoll = 20 * time.Second

// run consumes until ctx ends. Held messages are not deleted on the way out: they come back
// when their visibility times out, and their recorded events make nothing a second time.
func (c *consumer) run(ctx context.Context) {
	c.pending = map[string]*pending{}
	c.open = map[string]*batch{}
	backoff := time.Second
	for ctx.Err() == nil {
		c.flushDue(ctx, false)
		c.extendDue(ctx)
		wait := longPoll
		if len(c.pending) > 0 {
			wait = min(wait, c.visibility()/2)
		}
		if d, ok := c.nextDeadline(); ok {
			wait = min(wait, max(0, d.Sub(c.now())))
		}
		var msgs []Message
		var err error
		if wait < time.Second {
			// SQS waits in whole seconds: within a second of a batch's deadline, ask without
			// waiting, and pause briefly when nothing came.
			msgs, err = c.q.Receive(ctx, 10, 0, c.visibility())
			if err == nil && len(msgs) == 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(min(wait, 50*time.Millisecond)):
				}
			}
		} else {
			msgs, err = c.q.Receive(ctx, 10, wait.Truncate(time.Second), c.visibility())
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Error("receiving from a trigger queue failed; retrying", "queue", c.url, "pipelines", c.pipelineNames(), "error", err, "retry_in", backoff.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		for _, m := range msgs {
			c.handle(ctx, m)
		}
		c.flushReady(ctx)
	}
}

func (c *consumer) nextDeadline() (time.Time, bool) {
	var d time.Time
	for _, b := range c.open {
		at := b.first.Add(b.l.maxWait)
		if d.IsZero() || at.Before(d) {
			d = at
		}
	}
	return d, !d.IsZero()
}

// handle takes one message: its events go into the batches of the pipelines they are for.
func (c *consumer) handle(ctx context.Context, m Message) {
	if p, ok := c.pending[m.ID]; ok {
		// Delivered again while held (its visibility ran out, or SQS delivered it twice): the
		// newest receipt is the one that deletes it.
		p.msg.Receipt = m.Receipt
		return
	}
	parsed, err := Parse(m.Body)
	if err != nil {
		c.log.Error("unusable trigger message left on the queue for its redrive policy (dead-letter queue)",
			"queue", c.url, "pipelines", c.pipelineNames(), "message_id", m.ID, "receives", m.Receives, "error", err)
		return
	}
	if parsed.Ignored != "" {
		c.log.Info("trigger message holds nothing to run; deleted", "queue", c.url, "message_id", m.ID, "why", parsed.Ignored)
		c.deleteNow(ctx, []Message{m})
		return
	}
	type take struct {
		l     *Listener
		items []Item
	}
	var takes []take
	taken := make([]bool, len(parsed.Events))
	for _, l := range c.current() {
		var items []Item
		for i, ev := range parsed.Events {
			if parts, ok := l.Match(&ev); ok {
				items = append(items, Item{Event: ev, Parts: parts})
				taken[i] = true
			}
		}
		if len(items) > 0 {
			takes = append(takes, take{l, items})
		}
	}
	if len(takes) > 0 {
		var left []Event
		for i, ev := range parsed.Events {
			if !taken[i] {
				left = append(left, ev)
			}
		}
		if len(left) > 0 {
			// The message is deleted once its other events made their runs: say what is not run.
			c.log.Warn("some events of a trigger message match no pipeline listening on its queue; they make no run",
				"queue", c.url, "message_id", m.ID, "events", describe(left), "pipelines", c.pipelineNames())
		}
	}
	if len(takes) == 0 {
		var filters []string
		for _, l := range c.current() {
			filters = append(filters, l.filterText())
		}
		c.log.Warn("trigger message matches no pipeline listening on its queue; left on the queue for its redrive policy (dead-letter queue)",
			"queue", c.url, "message_id", m.ID, "receives", m.Receives, "shape", parsed.Shape, "events", describe(parsed.Events),
			"pipelines", strings.Join(filters, "; "))
		return
	}
	p := &pending{msg: m, extended: c.now()}
	c.pending[m.ID] = p
	for _, t := range takes {
		for _, it := range t.items {
			b := c.open[t.l.Pipeline.Name]
			if b == nil {
				b = &batch{l: t.l, msgs: map[string]*pending{}, first: c.now()}
				c.open[t.l.Pipeline.Name] = b
			}
			if b.msgs[m.ID] == nil {
				b.msgs[m.ID] = p
				p.batches++
			}
			b.items = append(b.items, it)
			if len(b.items) >= b.l.maxEvents {
				delete(c.open, t.l.Pipeline.Name)
				c.ready = append(c.ready, b)
			}
		}
	}
}

func describe(evs []Event) string {
	var out []string
	for i, e := range evs {
		if i == 3 {
			out = append(out, "…")
			break
		}
		if e.Kind == KindNotification {
			out = append(out, "notification of "+e.Notification.Pipeline)
		} else {
			out = append(out, "s3://"+e.Bucket+"/"+e.Key)
		}
	}
	return strings.Join(out, ", ")
}

// flushDue records the batches whose max_wait has passed (all of them when all is set).
func (c *consumer) flushDue(ctx context.Context, all bool) {
	now := c.now()
	for name, b := range c.open {
		if all || !now.Before(b.first.Add(b.l.maxWait)) {
			delete(c.open, name)
			c.ready = append(c.ready, b)
		}
	}
	c.flushReady(ctx)
}

// flushReady records the ready batches, one transaction per pipeline, then deletes in one go
// the messages none of whose events wait any more.
func (c *consumer) flushReady(ctx context.Context) {
	if len(c.ready) == 0 {
		return
	}
	byPipeline := map[string][]*batch{}
	var order []string
	for _, b := range c.ready {
		name := b.l.Pipeline.Name
		if byPipeline[name] == nil {
			order = append(order, name)
		}
		byPipeline[name] = append(byPipeline[name], b)
	}
	c.ready = c.ready[:0]
	var done []Message
	for _, name := range order {
		done = append(done, c.flush(ctx, byPipeline[name])...)
	}
	c.deleteNow(ctx, done)
}

// flush records batches of one pipeline, a run each, in one transaction, and returns the
// messages that may be deleted now.
func (c *consumer) flush(ctx context.Context, bs []*batch) []Message {
	l := bs[0].l
	p := l.Pipeline
	in := make([]Batch, len(bs))
	events := 0
	for i, b := range bs {
		in[i] = Batch{Items: b.items, Messages: len(b.msgs)}
		events += len(b.items)
	}
	var msgs []Message
	for _, b := range bs {
		for _, pm := range b.msgs {
			msgs = append(msgs, pm.msg)
		}
	}
	stop := c.keepVisible(ctx, msgs)
	res, err := c.rec.RecordAll(ctx, p, state.TriggerSQS, in, l.loc)
	stop()
	var done []Message
	made := false
	for i, b := range bs {
		for _, pm := range b.msgs {
			pm.batches--
			if err != nil {
				pm.failed = true
			}
			if pm.batches == 0 {
				delete(c.pending, pm.msg.ID)
				if !pm.failed {
					done = append(done, pm.msg)
				}
			}
		}
		if err != nil {
			continue
		}
		r := res[i]
		if r.RunID == 0 {
			c.log.Info("events already made their run; deleting the redelivered messages", "pipeline", p.Name, "queue", c.url,
				"events", len(b.items), "messages", len(b.msgs))
			continue
		}
		made = true
		c.log.Info("triggered run created", "pipeline", p.Name, "run", r.RunID, "interval_start", r.Interval.Start,
			"interval_end", r.Interval.End, "events", r.Fresh, "duplicates", r.Duplicates, "messages", len(b.msgs), "queue", c.url)
	}
	if err != nil && (ctx.Err() == nil || !errors.Is(err, context.Canceled)) {
		c.log.Error("recording triggered runs failed; their messages come back when their visibility times out",
			"pipeline", p.Name, "queue", c.url, "runs", len(bs), "events", events, "error", err)
	}
	if made && c.onRuns != nil {
		c.onRuns(ctx)
	}
	return done
}

// keepVisible extends the visibility of msgs every half timeout until the returned stop is
// called: a recording slower than that (a locked pipeline, a slow state database) must not let
// the messages go back to the queue while their runs are being committed. A second consumer
// receiving them would make nothing (the dedupe keys), but would wait on the same lock.
func (c *consumer) keepVisible(ctx context.Context, msgs []Message) (stop func()) {
	if len(msgs) == 0 {
		return func() {}
	}
	vis := c.visibility()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(vis / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := c.q.Extend(ctx, msgs, vis); err != nil && ctx.Err() == nil {
				c.log.Warn("extending the visibility of trigger messages being recorded failed; another consumer may receive them (their events make one run all the same)",
					"queue", c.url, "messages", len(msgs), "error", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func (c *consumer) deleteNow(ctx context.Context, msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	if err := c.q.Delete(context.WithoutCancel(ctx), msgs); err != nil {
		// Harmless for exactly-once: the messages come back and find their events recorded.
		c.log.Warn("deleting trigger messages failed; they will be delivered again and make nothing", "queue", c.url, "messages", len(msgs), "error", err)
	}
}

// extendDue extends the visibility of held messages at half their timeout, so that a batch
// waiting for max_wait (or being recorded) keeps its messages from other consumers.
func (c *consumer) extendDue(ctx context.Context) {
	vis := c.visibility()
	now := c.now()
	var due []Message
	var held []*pending
	for _, p := range c.pending {
		if now.Sub(p.extended) >= vis/2 {
			due = append(due, p.msg)
			held = append(held, p)
		}
	}
	if len(due) == 0 {
		return
	}
	if err := c.q.Extend(ctx, due, vis); err != nil {
		c.log.Warn("extending the visibility of held trigger messages failed; another consumer may receive them (their events make one run all the same)",
			"queue", c.url, "messages", len(due), "error", err)
		return
	}
	for _, p := range held {
		p.extended = now
	}
}
