package trigger

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Listener is a pipeline's trigger.sqs, compiled: which events of its queue are for it, and how
// they are batched.
type Listener struct {
	Pipeline  *definition.Pipeline
	sqs       *definition.SQSTrigger
	pattern   *definition.KeyPattern
	loc       *time.Location
	after     map[string]bool
	maxEvents int
	maxWait   time.Duration
}

// NewListener compiles the trigger.sqs of p.
func NewListener(p *definition.Pipeline) (*Listener, error) {
	if p.Trigger == nil || p.Trigger.SQS == nil {
		return nil, fmt.Errorf("pipeline %s has no trigger.sqs", p.Name)
	}
	s := p.Trigger.SQS
	l := &Listener{Pipeline: p, sqs: s, loc: time.UTC, after: map[string]bool{}}
	if s.Pattern != "" {
		kp, err := definition.CompileKeyPattern(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s trigger.sqs.pattern: %w", p.Name, err)
		}
		l.pattern = kp
	}
	if tz := p.Schedule.Timezone; tz != "" {
		loc, err := definition.LoadTimezone(tz)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s schedule.timezone: %w", p.Name, err)
		}
		l.loc = loc
	}
	for _, a := range s.After {
		l.after[a] = true
	}
	l.maxEvents, l.maxWait = s.Batching()
	return l, nil
}

// QueueURL is the queue the pipeline listens on.
func (l *Listener) QueueURL() string { return l.sqs.QueueURL }

// Match says whether ev is for the pipeline, with the named parts of its key.
func (l *Listener) Match(ev *Event) (parts map[string]string, ok bool) {
	if ev.Kind == KindNotification {
		return nil, l.after[ev.Notification.Pipeline]
	}
	s := l.sqs
	if len(s.After) > 0 && s.Bucket == "" && s.Prefix == "" && s.Suffix == "" && s.Pattern == "" {
		return nil, false // listens to notifications only
	}
	if s.Bucket != "" && ev.Bucket != s.Bucket {
		return nil, false
	}
	if !strings.HasPrefix(ev.Key, s.Prefix) || !strings.HasSuffix(ev.Key, s.Suffix) {
		return nil, false
	}
	if l.pattern == nil {
		return nil, true
	}
	return l.pattern.Match(ev.Key)
}

// filterText says what the pipeline listens for, for log lines about messages no pipeline took.
func (l *Listener) filterText() string {
	s := l.sqs
	var parts []string
	if s.Bucket != "" {
		parts = append(parts, "bucket "+s.Bucket)
	}
	if s.Prefix != "" {
		parts = append(parts, "prefix "+strconv.Quote(s.Prefix))
	}
	if s.Suffix != "" {
		parts = append(parts, "suffix "+strconv.Quote(s.Suffix))
	}
	if s.Pattern != "" {
		parts = append(parts, "pattern "+strconv.Quote(s.Pattern))
	}
	if len(s.After) > 0 {
		parts = append(parts, "notifications of "+strings.Join(s.After, ", "))
	}
	if len(parts) == 0 {
		return l.Pipeline.Name + " (every object)"
	}
	return l.Pipeline.Name + " (" + strings.Join(parts, ", ") + ")"
}

// Item is one event taken by one pipeline.
type Item struct {
	Event Event
	Parts map[string]string
}

// shapeRun is what a batch of items makes: the run's interval (the union of the items'), its
// event and its parameters (the first object's key parts).
func shapeRun(items []Item, messages int, loc *time.Location) (definition.Interval, definition.Event, map[string]string, error) {
	ev := definition.Event{Source: "sqs", Messages: messages}
	var iv definition.Interval
	widen := func(x definition.Interval) {
		if iv.Start.IsZero() || x.Start.Before(iv.Start) {
			iv.Start = x.Start
		}
		if x.End.After(iv.End) {
			iv.End = x.End
		}
	}
	params := map[string]string{}
	for i, it := range items {
		e := it.Event
		if e.Kind == KindNotification {
			n := e.Notification
			start, end, err := n.Interval()
			if err != nil {
				return iv, ev, nil, err
			}
			widen(definition.Interval{Start: start.In(loc), End: end.In(loc)})
			if ev.Upstream == nil {
				ev.Upstream = &definition.UpstreamRun{Pipeline: n.Pipeline, RunID: strconv.FormatInt(n.RunID, 10), Version: n.Version, Outputs: n.Outputs}
			}
			continue
		}
		ev.Objects = append(ev.Objects, definition.EventObject{Bucket: e.Bucket, Key: e.Key, Size: e.Size, ETag: e.ETag, Time: e.Time, Parts: it.Parts})
		if i == 0 || len(params) == 0 {
			for k, v := range it.Parts {
				params[k] = v
			}
		}
		x, has, err := definition.PartsInterval(it.Parts, loc)
		if err != nil {
			return iv, ev, nil, err
		}
		if !has {
			// No date in the key: the event time, to the second.
			t := e.Time.In(loc).Truncate(time.Second)
			x = definition.Interval{Start: t, End: t.Add(time.Second)}
		}
		widen(x)
	}
	// Objects in key order: a run's templates see the same list whatever order the events came.
	sort.SliceStable(ev.Objects, func(i, j int) bool {
		a, b := ev.Objects[i], ev.Objects[j]
		if a.Bucket != b.Bucket {
			return a.Bucket < b.Bucket
		}
		return a.Key < b.Key
	})
	return iv, ev, params, nil
}
