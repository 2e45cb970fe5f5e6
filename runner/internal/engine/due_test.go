package engine_test

import (
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
)

func compile(t *testing.T, s definition.Schedule) *definition.CompiledSchedule {
	t.Helper()
	c, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func starts(ivs []definition.Interval) []string {
	out := make([]string, len(ivs))
	for i, iv := range ivs {
		out[i] = iv.Start.UTC().Format("01-02T15")
	}
	return out
}

func TestDue(t *testing.T) {
	hourly := definition.Schedule{Every: "1h", Start: "2026-11-01T00:00:00Z", Catchup: true, MaxActiveRuns: 1}
	noCatchup := hourly
	noCatchup.Catchup = false
	ended := hourly
	ended.End = "2026-11-01T03:00:00Z"
	now := time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC)
	last := time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		s       definition.Schedule
		now     time.Time
		last    *time.Time
		limit   int
		want    []string
		wantNum int
	}{
		"catchup from start":             {s: hourly, now: now, want: []string{"11-01T00", "11-01T01", "11-01T02", "11-01T03"}},
		"catchup after the cursor":       {s: hourly, now: now, last: &last, want: []string{"11-01T02", "11-01T03"}},
		"an interval runs when it ends":  {s: hourly, now: time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), want: []string{"11-01T00", "11-01T01", "11-01T02", "11-01T03"}},
		"before the first interval ends": {s: hourly, now: time.Date(2026, 11, 1, 0, 59, 0, 0, time.UTC), want: []string{}},
		"limit per tick":                 {s: hourly, now: now, limit: 2, want: []string{"11-01T00", "11-01T01"}},
		"no catchup: only the latest":    {s: noCatchup, now: now, want: []string{"11-01T03"}},
		"no catchup: latest already run": {s: noCatchup, now: now, last: ptr(time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)), want: []string{}},
		"schedule end":                   {s: ended, now: now, want: []string{"11-01T00", "11-01T01", "11-01T02"}},
	} {
		t.Run(name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 1000
			}
			var l time.Time
			if tc.last != nil {
				l = *tc.last
			}
			got := starts(engine.Due(compile(t, tc.s), tc.now, l, tc.last != nil, limit))
			if len(got) != len(tc.want) {
				t.Fatalf("due %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("due %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestBackoff(t *testing.T) {
	base := time.Minute
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0.5, time.Minute},
		{2, 0.5, 2 * time.Minute},
		{4, 0.5, 8 * time.Minute},
		{30, 0.5, 64 * time.Minute},     // capped at 64× the delay
		{1, 0, 45 * time.Second},        // -25%
		{1, 0.999999, 75 * time.Second}, // +25%
	} {
		got := engine.Backoff(base, tc.attempt, tc.jitter)
		if d := got - tc.want; d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("Backoff(1m, %d, %v) = %s, want %s", tc.attempt, tc.jitter, got, tc.want)
		}
	}
	if got := engine.Backoff(2*time.Hour, 10, 0.5); got != 6*time.Hour {
		t.Errorf("long delays are capped at 6h, got %s", got)
	}
}
