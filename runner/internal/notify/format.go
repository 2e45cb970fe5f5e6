package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Format is the value of the "format" field of every notification body.
const Format = "sluice/notification.v1"

// maxSubject is SNS's limit: a subject "must be less than 100 characters long".
const maxSubject = 99

// body is the JSON shape of a notification, sent as the SNS Message and as the webhook request
// body. Field names are part of the published contract (see the package documentation): add
// fields, never rename or remove them.
type body struct {
	Format   string `json:"format"`
	Event    string `json:"event"`
	Pipeline string `json:"pipeline"`
	Owner    string `json:"owner,omitempty"`
	RunID    int64  `json:"run_id,omitempty"`
	State    string `json:"state,omitempty"`
	Version  string `json:"version,omitempty"`
	// Outputs is absent when empty.
	Outputs       map[string]string `json:"outputs,omitempty"`
	IntervalStart string            `json:"interval_start,omitempty"`
	IntervalEnd   string            `json:"interval_end,omitempty"`
	Activity      string            `json:"activity,omitempty"`
	Error         string            `json:"error,omitempty"`
	LateSeconds   int64             `json:"late_seconds,omitempty"`
	StatusURL     string            `json:"status_url,omitempty"`
	Subject       string            `json:"subject"`
	Text          string            `json:"text"`
}

// JSON returns the notification body for m (the shape is documented in the package comment).
func JSON(m Message) ([]byte, error) {
	b := body{
		Format: Format, Event: m.Event, Pipeline: m.Pipeline, Owner: m.Owner, RunID: m.RunID,
		IntervalStart: rfc3339(m.IntervalStart), IntervalEnd: rfc3339(m.IntervalEnd),
		Activity: m.Activity, Error: m.Error, StatusURL: m.StatusURL,
		Subject: Subject(m), Text: Text(m), Version: m.Version, Outputs: m.Outputs,
	}
	switch m.Event {
	case EventSuccess:
		b.State = "success"
	case EventFailure:
		b.State = "failed"
	}
	if m.Event == EventLate {
		b.LateSeconds = int64(m.Late.Round(time.Second) / time.Second)
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s notification of pipeline %s: %w", m.Event, m.Pipeline, err)
	}
	return out, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// Subject is the one-line summary: the SNS Subject, an e-mail subject line. It is printable ASCII
// (anything else becomes '?') and at most 99 characters, shortening the pipeline name first so
// the interval stays readable, e.g.
//
//	[sluice] web_logs_daily failed: 2026-11-18 (load)
//	[sluice] web_logs_daily succeeded: 2026-11-18
//	[sluice] web_logs_daily late by 2h15m: 2026-11-18 13:00 UTC
func Subject(m Message) string {
	s := subject(m, m.Pipeline, m.Activity)
	if len(s) <= maxSubject {
		return s
	}
	pipeline, activity := m.Pipeline, m.Activity
	if len(activity) > 20 {
		activity = activity[:17] + "..."
	}
	s = subject(m, pipeline, activity)
	if excess := len(s) - maxSubject; excess > 0 && len(pipeline) > 11 {
		keep := max(8, len(pipeline)-excess-3)
		pipeline = pipeline[:keep] + "..."
		s = subject(m, pipeline, activity)
	}
	if len(s) > maxSubject {
		s = s[:maxSubject-3] + "..."
	}
	return s
}

func subject(m Message, pipeline, activity string) string {
	var s string
	switch m.Event {
	case EventFailure:
		s = "[sluice] " + pipeline + " failed"
	case EventSuccess:
		s = "[sluice] " + pipeline + " succeeded"
	case EventLate:
		s = "[sluice] " + pipeline + " late by " + shortDuration(m.Late)
	default:
		s = "[sluice] " + pipeline + " " + m.Event
	}
	if label := intervalLabel(m.IntervalStart, m.IntervalEnd); label != "" {
		s += ": " + label
	}
	if activity != "" && m.Event == EventFailure {
		s += " (" + activity + ")"
	}
	return asciiLine(s)
}

// asciiLine keeps printable ASCII and replaces everything else (line breaks, control characters,
// non-ASCII) with '?', as SNS subjects require.
func asciiLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// intervalLabel names an interval by its start, as schedulers name runs: the date alone when the
// interval runs midnight to midnight (a day, a week, a month), else the date and time.
func intervalLabel(start, end time.Time) string {
	if start.IsZero() {
		return ""
	}
	if isMidnight(start) && (end.IsZero() || isMidnight(end)) {
		return start.Format("2006-01-02")
	}
	return clock(start)
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// clock formats a time for people, in the time's own zone.
func clock(t time.Time) string {
	if t.Second() != 0 {
		return t.Format("2006-01-02 15:04:05 MST")
	}
	return t.Format("2006-01-02 15:04 MST")
}

// shortDuration formats d like "45s", "2h15m" or "3d4h": whole seconds under a minute, whole
// minutes under a day, days and hours beyond.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int64(d.Round(time.Second)/time.Second))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
		switch {
		case h == 0:
			return fmt.Sprintf("%dm", m)
		case m == 0:
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	d = d.Round(time.Hour)
	days, h := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// Text is the human-readable body: what happened, to which interval, and where to look.
func Text(m Message) string {
	var b strings.Builder
	interval := ""
	if !m.IntervalStart.IsZero() {
		interval = " for the interval " + clock(m.IntervalStart)
		if !m.IntervalEnd.IsZero() {
			interval += " to " + clock(m.IntervalEnd)
		}
	}
	switch m.Event {
	case EventFailure:
		fmt.Fprintf(&b, "Pipeline %s failed%s.\n", m.Pipeline, interval)
	case EventSuccess:
		fmt.Fprintf(&b, "Pipeline %s succeeded%s.\n", m.Pipeline, interval)
	case EventLate:
		fmt.Fprintf(&b, "Pipeline %s is late%s: no successful run %s after the interval ended.\n",
			m.Pipeline, interval, shortDuration(m.Late))
	default:
		fmt.Fprintf(&b, "Pipeline %s: %s%s.\n", m.Pipeline, m.Event, interval)
	}
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", label, v)
		}
	}
	line("Activity", m.Activity)
	line("Error", m.Error)
	if m.RunID != 0 {
		line("Run", fmt.Sprint(m.RunID))
	}
	line("Owner", m.Owner)
	line("Status", m.StatusURL)
	return b.String()
}
