package notify

import (
	"strings"
	"testing"
	"time"
)

func TestSubject(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	hour := day.Add(13 * time.Hour)
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"failure with activity", failure(), "[sluice] web_logs_daily failed: 2026-11-18 (load)"},
		{"failure without activity", Message{Event: EventFailure, Pipeline: "p", IntervalStart: day, IntervalEnd: day.AddDate(0, 0, 1)},
			"[sluice] p failed: 2026-11-18"},
		{"success ignores activity", Message{Event: EventSuccess, Pipeline: "p", Activity: "load", IntervalStart: day, IntervalEnd: day.AddDate(0, 0, 7)},
			"[sluice] p succeeded: 2026-11-18"},
		{"hourly interval shows the time", Message{Event: EventFailure, Pipeline: "p", IntervalStart: hour, IntervalEnd: hour.Add(time.Hour)},
			"[sluice] p failed: 2026-11-18 13:00 UTC"},
		{"seconds shown when present", Message{Event: EventSuccess, Pipeline: "p", IntervalStart: hour.Add(30 * time.Second), IntervalEnd: hour.Add(time.Minute)},
			"[sluice] p succeeded: 2026-11-18 13:00:30 UTC"},
		{"zone of the schedule", Message{Event: EventSuccess, Pipeline: "p",
			IntervalStart: time.Date(2026, 11, 18, 6, 0, 0, 0, berlin), IntervalEnd: time.Date(2026, 11, 18, 7, 0, 0, 0, berlin)},
			"[sluice] p succeeded: 2026-11-18 06:00 CET"},
		{"late in minutes", Message{Event: EventLate, Pipeline: "p", IntervalStart: day, IntervalEnd: day.AddDate(0, 0, 1), Late: 45*time.Minute + 20*time.Second},
			"[sluice] p late by 45m: 2026-11-18"},
		{"late in days", Message{Event: EventLate, Pipeline: "p", IntervalStart: day, IntervalEnd: day.AddDate(0, 0, 1), Late: 50 * time.Hour},
			"[sluice] p late by 2d2h: 2026-11-18"},
		{"late in seconds", Message{Event: EventLate, Pipeline: "p", Late: 42 * time.Second}, "[sluice] p late by 42s"},
		{"late in whole hours", Message{Event: EventLate, Pipeline: "p", Late: 3 * time.Hour}, "[sluice] p late by 3h"},
		{"control characters and non-ASCII replaced", Message{Event: EventFailure, Pipeline: "p", Activity: "lo\nad✓"},
			"[sluice] p failed (lo?ad?)"},
		{"unknown event named as is", Message{Event: "paused", Pipeline: "p"}, "[sluice] p paused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Subject(tt.m); got != tt.want {
				t.Errorf("Subject = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubject_LongNamesStayUnderTheSNSLimit(t *testing.T) {
	m := failure()
	m.Pipeline = strings.Repeat("very_long_pipeline_name_", 8)
	m.Activity = strings.Repeat("activity_", 6)
	got := Subject(m)
	if len(got) > 99 {
		t.Errorf("Subject is %d characters, SNS allows 99: %q", len(got), got)
	}
	if !strings.HasPrefix(got, "[sluice] very_long_pipeline_name_") || !strings.Contains(got, "... failed: 2026-11-18 (activity_activity...)") {
		t.Errorf("Subject = %q: want the pipeline shortened and the interval kept", got)
	}

	m.Activity = ""
	m.Pipeline = strings.Repeat("x", 300)
	if got := Subject(m); len(got) != 99 || !strings.HasSuffix(got, "... failed: 2026-11-18") {
		t.Errorf("Subject = %q (%d characters)", got, len(got))
	}
}

func TestText(t *testing.T) {
	want := `Pipeline web_logs_daily failed for the interval 2026-11-18 00:00 UTC to 2026-11-19 00:00 UTC.
Activity: load
Error: COPY failed: 3 rows rejected
Run: 42
Owner: data-team
Status: http://127.0.0.1:8080/pipelines/web_logs_daily
`
	if got := Text(failure()); got != want {
		t.Errorf("Text =\n%s\nwant\n%s", got, want)
	}

	late := Message{Event: EventLate, Pipeline: "hourly", IntervalStart: day.Add(13 * time.Hour),
		IntervalEnd: day.Add(14 * time.Hour), Late: 90 * time.Minute, Owner: "ops"}
	want = `Pipeline hourly is late for the interval 2026-11-18 13:00 UTC to 2026-11-18 14:00 UTC: no successful run 1h30m after the interval ended.
Owner: ops
`
	if got := Text(late); got != want {
		t.Errorf("Text =\n%s\nwant\n%s", got, want)
	}

	ok := Message{Event: EventSuccess, Pipeline: "p", RunID: 7}
	if got, want := Text(ok), "Pipeline p succeeded.\nRun: 7\n"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestJSON_StableShape(t *testing.T) {
	got, err := JSON(failure())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"sluice/notification.v1","event":"failure","pipeline":"web_logs_daily","owner":"data-team",` +
		`"run_id":42,"state":"failed","interval_start":"2026-11-18T00:00:00Z","interval_end":"2026-11-19T00:00:00Z",` +
		`"activity":"load","error":"COPY failed: 3 rows rejected",` +
		`"status_url":"http://127.0.0.1:8080/pipelines/web_logs_daily",` +
		`"subject":"[sluice] web_logs_daily failed: 2026-11-18 (load)",` +
		`"text":"Pipeline web_logs_daily failed for the interval 2026-11-18 00:00 UTC to 2026-11-19 00:00 UTC.\nActivity: load\nError: COPY failed: 3 rows rejected\nRun: 42\nOwner: data-team\nStatus: http://127.0.0.1:8080/pipelines/web_logs_daily\n"}`
	if string(got) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}

	// A success carries what a downstream trigger reads: the state, the version and the outputs.
	okJSON, err := JSON(Message{Event: EventSuccess, Pipeline: "a", RunID: 7, Version: "sha256:v", Outputs: map[string]string{"date": "2026-11-18"},
		IntervalStart: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), IntervalEnd: time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(okJSON), `"run_id":7,"state":"success","version":"sha256:v","outputs":{"date":"2026-11-18"},"interval_start":"2026-11-18T00:00:00Z"`) {
		t.Errorf("success JSON = %s", okJSON)
	}

	late, err := JSON(Message{Event: EventLate, Pipeline: "p", Late: 2*time.Hour + 400*time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"format":"sluice/notification.v1","event":"late","pipeline":"p","late_seconds":7200,` +
		`"subject":"[sluice] p late by 2h","text":"Pipeline p is late: no successful run 2h after the interval ended.\n"}`
	if string(late) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", late, want)
	}
}
