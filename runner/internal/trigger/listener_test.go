package trigger

import (
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

func TestShapeRun_IntervalParamsAndObjectsOfABatch(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 18, 13, 5, 7, 0, time.UTC)
	item := func(key string, parts map[string]string) Item {
		return Item{Event: Event{Kind: KindObject, Bucket: "b", Key: key, Time: at}, Parts: parts}
	}
	for _, tc := range []struct {
		name       string
		items      []Item
		loc        *time.Location
		start, end string
		params     string
	}{
		{"one hour", []Item{item("raw/2026-11-18/13/a", map[string]string{"date": "2026-11-18", "hour": "13"})}, time.UTC,
			"2026-11-18T13:00:00Z", "2026-11-18T14:00:00Z", "2026-11-18/13"},
		{"hours 13 and 9 of a batch", []Item{
			item("raw/2026-11-18/13/a", map[string]string{"date": "2026-11-18", "hour": "13"}),
			item("raw/2026-11-18/09/b", map[string]string{"date": "2026-11-18", "hour": "09"}),
		}, time.UTC, "2026-11-18T09:00:00Z", "2026-11-18T14:00:00Z", "2026-11-18/13"},
		{"a day in the schedule's zone", []Item{item("d/2026-11-18/a", map[string]string{"date": "2026-11-18"})}, berlin,
			"2026-11-17T23:00:00Z", "2026-11-18T23:00:00Z", "2026-11-18/"},
		{"no date: the event's second", []Item{item("in/a.csv", nil)}, time.UTC, "2026-11-18T13:05:07Z", "2026-11-18T13:05:08Z", "/"},
	} {
		iv, ev, params, err := shapeRun(tc.items, len(tc.items), tc.loc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := iv.Start.UTC().Format(time.RFC3339) + " " + iv.End.UTC().Format(time.RFC3339); got != tc.start+" "+tc.end {
			t.Errorf("%s: interval %s, want %s %s", tc.name, got, tc.start, tc.end)
		}
		if got := params["date"] + "/" + params["hour"]; got != tc.params {
			t.Errorf("%s: params %v", tc.name, params)
		}
		if len(ev.Objects) != len(tc.items) || ev.Messages != len(tc.items) {
			t.Errorf("%s: event %+v", tc.name, ev)
		}
	}
	// Objects come sorted by key, whatever order their events came in.
	_, ev, _, _ := shapeRun([]Item{item("z", nil), item("a", nil)}, 2, time.UTC)
	if ev.Objects[0].Key != "a" {
		t.Errorf("objects %+v", ev.Objects)
	}
	// A notification gives the upstream's interval and run.
	n := &Notification{Pipeline: "up", RunID: 7, Version: "v", IntervalStart: "2026-11-18T00:00:00Z", IntervalEnd: "2026-11-19T00:00:00Z"}
	iv, ev, _, err := shapeRun([]Item{{Event: Event{Kind: KindNotification, Notification: n}}}, 1, time.UTC)
	if err != nil || iv.Start.Format(time.RFC3339) != "2026-11-18T00:00:00Z" || ev.Upstream == nil || ev.Upstream.RunID != "7" {
		t.Errorf("notification: %v %+v %v", iv, ev.Upstream, err)
	}
}

func TestListener_MatchesBucketPrefixSuffixPatternAndUpstreams(t *testing.T) {
	p := &definition.Pipeline{Name: "p", Trigger: &definition.Trigger{SQS: &definition.SQSTrigger{QueueURL: "https://q/1/q",
		Bucket: "b", Prefix: "raw/", Suffix: ".csv", Pattern: "raw/{date}/", After: []string{"up"}}}}
	l, err := NewListener(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ev   Event
		want bool
	}{
		{Event{Kind: KindObject, Bucket: "b", Key: "raw/2026-11-18/x.csv"}, true},
		{Event{Kind: KindObject, Bucket: "other", Key: "raw/2026-11-18/x.csv"}, false},
		{Event{Kind: KindObject, Bucket: "b", Key: "raw/2026-11-18/x.json"}, false},
		{Event{Kind: KindObject, Bucket: "b", Key: "raw/today/x.csv"}, false},
		{Event{Kind: KindNotification, Notification: &Notification{Pipeline: "up"}}, true},
		{Event{Kind: KindNotification, Notification: &Notification{Pipeline: "someone"}}, false},
	} {
		if _, ok := l.Match(&tc.ev); ok != tc.want {
			t.Errorf("%+v: match %v, want %v", tc.ev, ok, tc.want)
		}
	}
}
