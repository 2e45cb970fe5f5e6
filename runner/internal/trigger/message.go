// Package trigger starts pipeline runs on events: it long-polls SQS queues for S3 event
// notifications (direct, inside SNS envelopes, or from EventBridge) and sluice/notification.v1
// messages, matches them to the pipelines whose trigger.sqs names the queue, coalesces them
// into batches, and records each batch as one run together with the events' dedupe keys, in one
// transaction. A message is deleted only after every run it went into is committed, so a
// runner killed at any point makes each event's run exactly once: a redelivered message finds
// its keys recorded and makes nothing. It also makes the runs of trigger.after when an upstream
// run succeeds.
package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NotificationFormat is the format of sluice's own notifications (package notify).
const NotificationFormat = "sluice/notification.v1"

// Kinds of event.
const (
	KindObject       = "object"       // an S3 object was created
	KindNotification = "notification" // a sluice pipeline's run finished
)

// Event is one event of a message: an S3 object created, or a sluice notification.
type Event struct {
	Kind string
	// Object events.
	Bucket    string
	Key       string
	Size      int64
	ETag      string
	Sequencer string
	// Time is when S3 saw the object, or when the notification's run finished (else when the
	// message was sent).
	Time time.Time
	// Notification events.
	Notification *Notification
}

// DedupeKey names the event for exactly-once: the same object version, or the same upstream
// run, always gets the same key, however often its message is delivered.
func (e *Event) DedupeKey() string {
	if e.Kind == KindNotification {
		n := e.Notification
		return "sluice:" + n.Pipeline + ":" + strconv.FormatInt(n.RunID, 10) + ":" + n.IntervalStart
	}
	id := e.Sequencer
	if id == "" {
		id = "etag:" + e.ETag
	}
	return "s3:" + e.Bucket + "/" + e.Key + ":" + id
}

// Notification is the part of a sluice/notification.v1 message a trigger reads.
type Notification struct {
	Format        string            `json:"format"`
	Event         string            `json:"event"`
	State         string            `json:"state,omitempty"`
	Pipeline      string            `json:"pipeline"`
	Version       string            `json:"version,omitempty"`
	RunID         int64             `json:"run_id"`
	IntervalStart string            `json:"interval_start"`
	IntervalEnd   string            `json:"interval_end"`
	Outputs       map[string]string `json:"outputs,omitempty"`
}

// Interval is the notification's interval.
func (n *Notification) Interval() (start, end time.Time, err error) {
	start, err = time.Parse(time.RFC3339, n.IntervalStart)
	if err != nil {
		return start, end, fmt.Errorf("interval_start %q: %w", n.IntervalStart, err)
	}
	end, err = time.Parse(time.RFC3339, n.IntervalEnd)
	if err != nil {
		return start, end, fmt.Errorf("interval_end %q: %w", n.IntervalEnd, err)
	}
	if !end.After(start) {
		return start, end, fmt.Errorf("interval_end %s is not after interval_start %s", n.IntervalEnd, n.IntervalStart)
	}
	return start, end, nil
}

// Parsed is what a message body holds.
type Parsed struct {
	// Events are the usable events.
	Events []Event
	// Ignored says why a well-formed message holds nothing to run (an S3 test event, objects
	// removed rather than created, a notification of a failure): such a message is deleted
	// with a log line, not left for the dead-letter queue.
	Ignored string
	// Shape is how the message came: "s3", "sns+s3", "eventbridge", "sluice", "sns+sluice".
	Shape string
}

// ErrMalformed is wrapped by Parse's errors: the message cannot be used, whatever the
// pipelines' filters.
var ErrMalformed = errors.New("malformed message")

// maxBody is SQS's largest message: 256 KiB (1 MiB since 2025); anything bigger is not ours.
const maxBody = 1 << 20

// Parse reads a message body: an S3 event notification, an SNS envelope around one (or around
// a sluice notification), an EventBridge S3 "Object Created" event, or a sluice notification.
func Parse(body string) (Parsed, error) {
	if len(body) > maxBody {
		return Parsed{}, fmt.Errorf("%w: %d bytes, over %d", ErrMalformed, len(body), maxBody)
	}
	var head struct {
		Type       string            `json:"Type"`
		Message    *string           `json:"Message"`
		Records    []json.RawMessage `json:"Records"`
		Event      string            `json:"Event"`
		DetailType string            `json:"detail-type"`
		Source     string            `json:"source"`
		Format     string            `json:"format"`
	}
	if err := json.Unmarshal([]byte(body), &head); err != nil {
		return Parsed{}, fmt.Errorf("%w: not a JSON object: %w", ErrMalformed, err)
	}
	switch {
	case head.Type == "Notification" && head.Message != nil:
		inner, err := Parse(*head.Message)
		if err != nil {
			return inner, fmt.Errorf("inside an SNS envelope: %w", err)
		}
		inner.Shape = "sns+" + inner.Shape
		return inner, nil
	case head.Format != "":
		return parseNotification(body, head.Format)
	case head.Event == "s3:TestEvent":
		return Parsed{Shape: "s3", Ignored: "an S3 test event (sent when a bucket notification is configured)"}, nil
	case head.Source == "aws.s3" || head.DetailType != "":
		return parseEventBridge(body)
	case head.Records != nil:
		return parseS3(head.Records)
	}
	return Parsed{}, fmt.Errorf("%w: neither an S3 event notification (Records), an SNS envelope, an EventBridge event nor a %s message", ErrMalformed, NotificationFormat)
}

func parseS3(records []json.RawMessage) (Parsed, error) {
	out := Parsed{Shape: "s3"}
	if len(records) == 0 {
		return out, fmt.Errorf("%w: an S3 event notification without Records", ErrMalformed)
	}
	var ignored []string
	for i, raw := range records {
		var r struct {
			EventSource string `json:"eventSource"`
			EventName   string `json:"eventName"`
			EventTime   string `json:"eventTime"`
			S3          *struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key       string `json:"key"`
					Size      int64  `json:"size"`
					ETag      string `json:"eTag"`
					Sequencer string `json:"sequencer"`
				} `json:"object"`
			} `json:"s3"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return out, fmt.Errorf("%w: record %d: %w", ErrMalformed, i, err)
		}
		if r.EventSource != "aws:s3" || r.S3 == nil {
			return out, fmt.Errorf("%w: record %d: eventSource %q is not aws:s3", ErrMalformed, i, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			ignored = append(ignored, r.EventName)
			continue
		}
		// S3 URL-encodes keys in notifications, with '+' for a space.
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return out, fmt.Errorf("%w: record %d: key %q is not URL-encoded: %w", ErrMalformed, i, r.S3.Object.Key, err)
		}
		t, err := time.Parse(time.RFC3339Nano, r.EventTime)
		if err != nil {
			return out, fmt.Errorf("%w: record %d: eventTime %q: %w", ErrMalformed, i, r.EventTime, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return out, fmt.Errorf("%w: record %d: no bucket or key", ErrMalformed, i)
		}
		out.Events = append(out.Events, Event{Kind: KindObject, Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size,
			ETag: r.S3.Object.ETag, Sequencer: r.S3.Object.Sequencer, Time: t.UTC()})
	}
	if len(out.Events) == 0 {
		out.Ignored = "no ObjectCreated events (" + strings.Join(ignored, ", ") + ")"
	}
	return out, nil
}

func parseEventBridge(body string) (Parsed, error) {
	out := Parsed{Shape: "eventbridge"}
	var ev struct {
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
		Time       string `json:"time"`
		Detail     *struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				Size      int64  `json:"size"`
				ETag      string `json:"etag"`
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return out, fmt.Errorf("%w: an EventBridge event: %w", ErrMalformed, err)
	}
	if ev.Source != "aws.s3" {
		return out, fmt.Errorf("%w: an EventBridge event from %q, not aws.s3", ErrMalformed, ev.Source)
	}
	if ev.DetailType != "Object Created" {
		out.Ignored = "an EventBridge " + strconv.Quote(ev.DetailType) + " event, not Object Created"
		return out, nil
	}
	if ev.Detail == nil || ev.Detail.Bucket.Name == "" || ev.Detail.Object.Key == "" {
		return out, fmt.Errorf("%w: an EventBridge Object Created event without detail.bucket.name or detail.object.key", ErrMalformed)
	}
	t, err := time.Parse(time.RFC3339Nano, ev.Time)
	if err != nil {
		return out, fmt.Errorf("%w: an EventBridge event's time %q: %w", ErrMalformed, ev.Time, err)
	}
	// EventBridge keys are not URL-encoded.
	o := ev.Detail.Object
	out.Events = []Event{{Kind: KindObject, Bucket: ev.Detail.Bucket.Name, Key: o.Key, Size: o.Size, ETag: o.ETag, Sequencer: o.Sequencer, Time: t.UTC()}}
	return out, nil
}

func parseNotification(body, format string) (Parsed, error) {
	out := Parsed{Shape: "sluice"}
	if format != NotificationFormat {
		return out, fmt.Errorf("%w: format %q; this runner reads %s", ErrMalformed, format, NotificationFormat)
	}
	var n Notification
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		return out, fmt.Errorf("%w: a %s message: %w", ErrMalformed, NotificationFormat, err)
	}
	if n.Pipeline == "" || n.RunID == 0 {
		return out, fmt.Errorf("%w: a %s message without pipeline or run_id", ErrMalformed, NotificationFormat)
	}
	if n.Event != "success" {
		out.Ignored = fmt.Sprintf("a %s %q notification of pipeline %s (only success starts runs)", NotificationFormat, n.Event, n.Pipeline)
		return out, nil
	}
	_, end, err := n.Interval()
	if err != nil {
		return out, fmt.Errorf("%w: a %s message of pipeline %s: %w", ErrMalformed, NotificationFormat, n.Pipeline, err)
	}
	out.Events = []Event{{Kind: KindNotification, Notification: &n, Time: end.UTC()}}
	return out, nil
}
