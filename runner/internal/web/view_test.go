package web

import (
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration // now minus t
		want string
	}{
		{0, "0s ago"},
		{59 * time.Second, "59s ago"},
		{time.Minute, "1m ago"},
		{59*time.Minute + 59*time.Second, "59m ago"},
		{3 * time.Hour, "3h ago"},
		{3*time.Hour + 59*time.Minute, "3h ago"},
		{47 * time.Hour, "47h ago"},
		{48 * time.Hour, "2d ago"},
		{10*24*time.Hour + 23*time.Hour, "10d ago"},
		{-20 * time.Minute, "in 20m"},
		{-12 * time.Hour, "in 12h"},
		{-30 * time.Second, "in 30s"},
		{-72 * time.Hour, "in 3d"},
	} {
		if got := relative(now.Add(-tc.d), now); got != tc.want {
			t.Errorf("relative(now-%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestStale_AfterTwoIntervalsOfTheSchedule(t *testing.T) {
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	next := now.Add(time.Hour)
	hourly := &status.Run{IntervalStart: now.Add(-2 * time.Hour), IntervalEnd: now.Add(-time.Hour)}
	for _, tc := range []struct {
		name string
		p    status.Pipeline
		age  time.Duration
		want bool
	}{
		{"within two intervals", status.Pipeline{LastRun: hourly, NextRun: &next}, 2 * time.Hour, false},
		{"past two intervals", status.Pipeline{LastRun: hourly, NextRun: &next}, 2*time.Hour + time.Second, true},
		{"no run yet", status.Pipeline{NextRun: &next}, 100 * time.Hour, false},
		{"schedule ended", status.Pipeline{LastRun: hourly}, 100 * time.Hour, false},
		{"empty interval", status.Pipeline{LastRun: &status.Run{IntervalStart: now, IntervalEnd: now}, NextRun: &next}, 100 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Name = "p"
			p.Freshness = []status.Freshness{{Subject: "pipeline", Value: now.Add(-tc.age)}}
			v := newPipelineView(&p, now)
			if v.Freshness[0].Stale != tc.want || v.Stale != tc.want {
				t.Errorf("stale = %v (pipeline %v), want %v", v.Freshness[0].Stale, v.Stale, tc.want)
			}
		})
	}
}

func TestStateClass_UnknownStateIsNeutral(t *testing.T) {
	for _, s := range append(status.RunStates(), status.ActivityStates()...) {
		if got := stateClass(s); got != "state-"+s {
			t.Errorf("stateClass(%q) = %q", s, got)
		}
	}
	if got := stateClass(`x" onmouseover="y`); got != "state-other" {
		t.Errorf("stateClass(unknown) = %q, want state-other", got)
	}
}
