package definition

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustCompile(t *testing.T, s Schedule) *CompiledSchedule {
	t.Helper()
	if s.MaxActiveRuns == 0 {
		s.MaxActiveRuns = 1
	}
	c, err := s.Compile()
	if err != nil {
		t.Fatalf("Compile(%+v): %v", s, err)
	}
	return c
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// starts formats interval starts in RFC 3339 in their own zone.
func starts(ivs []Interval) []string {
	out := make([]string, len(ivs))
	for i, iv := range ivs {
		out[i] = iv.Start.Format(time.RFC3339)
	}
	return out
}

func formatTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.RFC3339)
	}
	return out
}

func assertStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func TestParseDuration_AcceptsGoDurationsAndLeadingDays(t *testing.T) {
	ok := map[string]time.Duration{
		"15m": 15 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour,
		"1h30m": 90 * time.Minute, "90s": 90 * time.Second, "1d12h": 36 * time.Hour, "0s": 0,
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"": "empty", "-5m": "no sign", "+5m": "no sign", "1x": "unknown unit", "1h1d": "days (d) must come first",
		"1.5d": "days (d) must come first", "99999d": "at most 36500 days", "d": "days (d) must come first",
	}
	for in, frag := range bad {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("ParseDuration(%q) error = %v; want it to mention %q", in, err, frag)
		}
	}
}

func TestScheduleCompile_RefusesEachProblemWithItsPath(t *testing.T) {
	base := Schedule{Cron: "0 3 * * *", Start: "2026-03-01T00:00:00Z", MaxActiveRuns: 1}
	tests := []struct {
		name     string
		edit     func(s *Schedule)
		path     string
		fragment string
	}{
		{"hour out of range", func(s *Schedule) { s.Cron = "0 25 * * *" }, "schedule.cron", `hour field "25"`},
		{"minute out of range", func(s *Schedule) { s.Cron = "61 * * * *" }, "schedule.cron", `minute field "61"`},
		{"bad month name", func(s *Schedule) { s.Cron = "0 0 1 FOO *" }, "schedule.cron", `month field "FOO"`},
		{"bad day of week", func(s *Schedule) { s.Cron = "0 0 * * 8" }, "schedule.cron", `day-of-week field "8"`},
		{"L is not supported", func(s *Schedule) { s.Cron = "0 0 L * *" }, "schedule.cron", "L (last day) and W (nearest weekday) are not supported"},
		{"nth weekday is not supported", func(s *Schedule) { s.Cron = "0 0 * * 5#3" }, "schedule.cron", "# (nth weekday) are not supported"},
		{"four fields", func(s *Schedule) { s.Cron = "0 0 * *" }, "schedule.cron", "has 4 fields, expected 5"},
		{"six fields", func(s *Schedule) { s.Cron = "0 0 0 * * *" }, "schedule.cron", "has 6 fields, expected 5"},
		{"@reboot", func(s *Schedule) { s.Cron = "@reboot" }, "schedule.cron", "not @reboot or @every"},
		{"@every", func(s *Schedule) { s.Cron = "@every 5m" }, "schedule.cron", "not @reboot or @every"},
		{"seconds field", func(s *Schedule) { s.Cron = "0 0 0 * * *" }, "schedule.cron", "has 6 fields, expected 5"},
		{"W is not supported", func(s *Schedule) { s.Cron = "0 0 15W * *" }, "schedule.cron", "L (last day) and W (nearest weekday) are not supported"},
		{"last weekday is not supported", func(s *Schedule) { s.Cron = "0 0 * * 5L" }, "schedule.cron", "L (last) and # (nth weekday) are not supported"},
		{"never fires on the 31st of February", func(s *Schedule) { s.Cron = "0 0 31 2 *" }, "schedule.cron", "never fires"},
		{"day of week 8", func(s *Schedule) { s.Cron = "0 0 * * 6-8" }, "schedule.cron", `day-of-week field "6-8"`},
		{"time zone in the expression", func(s *Schedule) { s.Cron = "CRON_TZ=UTC 0 0 * * *" }, "schedule.cron", "schedule.timezone"},
		{"never fires", func(s *Schedule) { s.Cron = "0 0 30 2 *" }, "schedule.cron", "never fires"},
		{"both cron and every", func(s *Schedule) { s.Every = "1d" }, "schedule.cron", "not both"},
		{"neither cron nor every", func(s *Schedule) { s.Cron = "" }, "schedule.cron", "set exactly one of cron"},
		{"every shorter than a minute", func(s *Schedule) { s.Cron, s.Every = "", "30s" }, "schedule.every", "shorter than the minimum of 1m0s"},
		{"every mixing days and hours", func(s *Schedule) { s.Cron, s.Every = "", "1d12h" }, "schedule.every", "mixes days with smaller units"},
		{"every not a duration", func(s *Schedule) { s.Cron, s.Every = "", "daily" }, "schedule.every", `"daily" is not a duration`},
		{"unknown time zone", func(s *Schedule) { s.Timezone = "Mars/Olympus" }, "schedule.timezone", "not an IANA time zone"},
		{"Local time zone", func(s *Schedule) { s.Timezone = "Local" }, "schedule.timezone", "depends on the machine"},
		{"start is a date", func(s *Schedule) { s.Start = "2026-03-01" }, "schedule.start", "not an RFC 3339 time"},
		{"start missing", func(s *Schedule) { s.Start = "" }, "schedule.start", "is required"},
		{"end not RFC 3339", func(s *Schedule) { s.End = "tomorrow" }, "schedule.end", "not an RFC 3339 time"},
		{"end before start", func(s *Schedule) { s.End = "2026-02-01T00:00:00Z" }, "schedule.end", "is not after start"},
		{"end equal to start", func(s *Schedule) { s.End = s.Start }, "schedule.end", "is not after start"},
		{"max_active_runs zero", func(s *Schedule) { s.MaxActiveRuns = 0 }, "schedule.max_active_runs", "at least 1, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			_, err := s.Compile()
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("Compile() error = %v; want Problems", err)
			}
			for _, p := range probs {
				if p.Path == tc.path && strings.Contains(p.Message, tc.fragment) {
					return
				}
			}
			t.Fatalf("problems %v; want %s containing %q", probs, tc.path, tc.fragment)
		})
	}
}

func TestCron_SpringForwardInBerlinFiresAtTheJumpSoTheDayKeepsItsRun(t *testing.T) {
	// 2026-03-29: clocks go from 02:00 CET to 03:00 CEST, so 02:00 does not exist. A fixed-time
	// job fires at the moment the clocks jump (03:00 CEST): the 29th keeps its run, and a
	// date-partitioned pipeline loads that date.
	c := mustCompile(t, Schedule{Cron: "0 2 * * *", Timezone: "Europe/Berlin", Start: "2026-03-27T00:00:00+01:00"})
	loc := berlin(t)
	ivs := c.Between(time.Date(2026, 3, 27, 0, 0, 0, 0, loc), time.Date(2026, 4, 1, 0, 0, 0, 0, loc))
	assertStrings(t, "interval starts", starts(ivs), []string{
		"2026-03-27T02:00:00+01:00", "2026-03-28T02:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-31T02:00:00+02:00",
	})
	if got := ivs[1].End.Sub(ivs[1].Start); got != 24*time.Hour {
		t.Fatalf("interval before the jump lasts %v, want 24h", got)
	}
	if got := ivs[2].End.Sub(ivs[2].Start); got != 23*time.Hour {
		t.Fatalf("interval from the jump lasts %v, want 23h", got)
	}
}

func TestCron_FallBackInBerlinFiresOnceAtTheFirstTwoOClock(t *testing.T) {
	// 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET, so 02:00 happens twice. robfig/cron
	// fires at both; sluice drops the second, so the day's interval is 25 hours, not 1.
	c := mustCompile(t, Schedule{Cron: "0 2 * * *", Timezone: "Europe/Berlin", Start: "2026-10-23T00:00:00+02:00"})
	loc := berlin(t)
	ivs := c.Between(time.Date(2026, 10, 24, 0, 0, 0, 0, loc), time.Date(2026, 10, 28, 0, 0, 0, 0, loc))
	assertStrings(t, "interval starts", starts(ivs), []string{
		"2026-10-24T02:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00", "2026-10-27T02:00:00+01:00",
	})
	if got := ivs[1].End.Sub(ivs[1].Start); got != 25*time.Hour {
		t.Fatalf("interval across the fall-back day lasts %v, want 25h", got)
	}
}

func TestCron_HourlyOverFallBackRunsTheRepeatedHourTwice(t *testing.T) {
	c := mustCompile(t, Schedule{Cron: "0 * * * *", Timezone: "Europe/Berlin", Start: "2026-10-25T00:00:00+02:00"})
	ivs := c.Between(mustTime(t, "2026-10-25T00:00:00+02:00"), mustTime(t, "2026-10-25T04:00:00+01:00"))
	assertStrings(t, "interval starts", starts(ivs), []string{
		"2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00",
	})
	for _, iv := range ivs {
		if got := iv.End.Sub(iv.Start); got != time.Hour {
			t.Fatalf("interval %v lasts %v, want 1h", iv, got)
		}
	}
}

func TestEvery_DaysAreCalendarDaysInTheTimezoneAcrossDST(t *testing.T) {
	tests := []struct {
		name    string
		start   string
		wantLen []time.Duration
	}{
		{"spring forward 2026-03-29 is 23h", "2026-03-28T00:00:00+01:00", []time.Duration{24 * time.Hour, 23 * time.Hour, 24 * time.Hour}},
		{"fall back 2026-10-25 is 25h", "2026-10-24T00:00:00+02:00", []time.Duration{24 * time.Hour, 25 * time.Hour, 24 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, Schedule{Every: "1d", Timezone: "Europe/Berlin", Start: tc.start})
			iv, ok := c.Next(mustTime(t, tc.start))
			for i, want := range tc.wantLen {
				if !ok {
					t.Fatalf("schedule ended after %d intervals", i)
				}
				if got := iv.End.Sub(iv.Start); got != want {
					t.Errorf("interval %d %v lasts %v, want %v", i, iv, got, want)
				}
				if h, m, _ := iv.Start.Clock(); h != 0 || m != 0 {
					t.Errorf("interval %d starts at %s, want local midnight", i, iv.Start)
				}
				iv, ok = c.Next(iv.End)
			}
		})
	}
}

func TestEvery_24hIsAFixedLengthSoTheWallClockShiftsOverDST(t *testing.T) {
	c := mustCompile(t, Schedule{Every: "24h", Timezone: "Europe/Berlin", Start: "2026-03-28T00:00:00+01:00"})
	ivs := c.Between(mustTime(t, "2026-03-28T00:00:00+01:00"), mustTime(t, "2026-03-31T00:00:00+02:00"))
	assertStrings(t, "interval starts", starts(ivs), []string{
		"2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "2026-03-30T01:00:00+02:00",
	})
}

func TestEvery_IntervalsAreAlignedToStart(t *testing.T) {
	tests := []struct {
		name, every, start, from, to string
		want                         []string
	}{
		{"1d from 03:00 runs 03:00 to 03:00", "1d", "2026-03-01T03:00:00Z", "2026-03-01T00:00:00Z", "2026-03-04T00:00:00Z",
			[]string{"2026-03-01T03:00:00Z", "2026-03-02T03:00:00Z", "2026-03-03T03:00:00Z"}},
		{"1h30m from 00:10", "1h30m", "2026-03-01T00:10:00Z", "2026-03-01T00:00:00Z", "2026-03-01T04:00:00Z",
			[]string{"2026-03-01T00:10:00Z", "2026-03-01T01:40:00Z", "2026-03-01T03:10:00Z"}},
		{"15m from mid-interval starts at the next boundary", "15m", "2026-03-01T00:05:00Z", "2026-03-01T00:21:00Z", "2026-03-01T01:00:00Z",
			[]string{"2026-03-01T00:35:00Z", "2026-03-01T00:50:00Z"}},
		{"7d from a Monday", "7d", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "2026-03-31T00:00:00Z",
			[]string{"2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z", "2026-03-30T00:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, Schedule{Every: tc.every, Start: tc.start})
			assertStrings(t, "interval starts", starts(c.Between(mustTime(t, tc.from), mustTime(t, tc.to))), tc.want)
		})
	}
}

func TestBetween_AcrossMonthEnds(t *testing.T) {
	t.Run("daily cron over January's end", func(t *testing.T) {
		c := mustCompile(t, Schedule{Cron: "0 0 * * *", Start: "2026-01-01T00:00:00Z"})
		ivs := c.Between(mustTime(t, "2026-01-30T00:00:00Z"), mustTime(t, "2026-02-02T00:00:00Z"))
		assertStrings(t, "interval starts", starts(ivs), []string{"2026-01-30T00:00:00Z", "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"})
		if !ivs[1].End.Equal(mustTime(t, "2026-02-01T00:00:00Z")) {
			t.Fatalf("2026-01-31 interval ends %s", ivs[1].End)
		}
	})
	t.Run("day 31 skips months without a 31st", func(t *testing.T) {
		c := mustCompile(t, Schedule{Cron: "0 0 31 * *", Start: "2026-01-01T00:00:00Z"})
		ivs := c.Between(mustTime(t, "2026-01-01T00:00:00Z"), mustTime(t, "2026-07-01T00:00:00Z"))
		assertStrings(t, "interval starts", starts(ivs), []string{"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"})
		if !ivs[0].End.Equal(mustTime(t, "2026-03-31T00:00:00Z")) {
			t.Fatalf("January interval ends %s, want 2026-03-31", ivs[0].End)
		}
	})
	t.Run("monthly every is not a thing, monthly cron is", func(t *testing.T) {
		c := mustCompile(t, Schedule{Cron: "0 0 1 * *", Start: "2026-01-15T00:00:00Z"})
		ivs := c.Between(mustTime(t, "2026-01-01T00:00:00Z"), mustTime(t, "2026-04-01T00:00:00Z"))
		assertStrings(t, "interval starts (the first tick at or after start)", starts(ivs), []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"})
	})
}

func TestCatchupCount_DailyFromSevenDaysBack(t *testing.T) {
	now := mustTime(t, "2026-03-08T10:30:00Z")
	tests := []struct {
		name     string
		schedule Schedule
		want     int
	}{
		{"every 1d with catchup runs 7", Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z", Catchup: true}, 7},
		{"cron daily with catchup runs 7", Schedule{Cron: "0 0 * * *", Start: "2026-03-01T00:00:00Z", Catchup: true}, 7},
		{"without catchup only the latest runs", Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z"}, 1},
		{"cron without catchup only the latest runs", Schedule{Cron: "0 0 * * *", Start: "2026-03-01T00:00:00Z"}, 1},
		{"an end stops the count", Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z", End: "2026-03-04T12:00:00Z", Catchup: true}, 3},
		{"cron with an end", Schedule{Cron: "0 0 * * *", Start: "2026-03-01T00:00:00Z", End: "2026-03-04T12:00:00Z", Catchup: true}, 3},
		{"a start in the future runs nothing", Schedule{Every: "1d", Start: "2026-03-09T00:00:00Z", Catchup: true}, 0},
		{"an interval still open is not due", Schedule{Every: "1d", Start: "2026-03-08T00:00:00Z", Catchup: true}, 0},
		{"cron with the first interval still open", Schedule{Cron: "0 0 * * *", Start: "2026-03-08T00:00:00Z"}, 0},
		{"hourly from 7 days back", Schedule{Every: "1h", Start: "2026-03-01T00:00:00Z", Catchup: true}, 7*24 + 10},
		{"cron every 15 minutes for a day", Schedule{Cron: "*/15 * * * *", Start: "2026-03-07T10:30:00Z", Catchup: true}, 96},
		{"yearly cron without catchup looks back years", Schedule{Cron: "0 0 1 1 *", Start: "2020-06-01T00:00:00Z"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, tc.schedule)
			if got := c.CatchupCount(now); got != tc.want {
				t.Fatalf("CatchupCount = %d, want %d", got, tc.want)
			}
			if got := len(c.DueAt(now)); got != tc.want {
				t.Fatalf("len(DueAt) = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDueAt_ListsEndedIntervalsOldestFirstAndWithoutCatchupOnlyTheLatest(t *testing.T) {
	now := mustTime(t, "2026-03-04T00:00:00Z") // the 03-03 interval ends exactly now: its run starts now
	withCatchup := mustCompile(t, Schedule{Cron: "0 0 * * *", Start: "2026-03-01T00:00:00Z", Catchup: true})
	assertStrings(t, "due with catchup", starts(withCatchup.DueAt(now)), []string{"2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"})
	without := mustCompile(t, Schedule{Cron: "0 0 * * *", Start: "2026-03-01T00:00:00Z"})
	assertStrings(t, "due without catchup", starts(without.DueAt(now)), []string{"2026-03-03T00:00:00Z"})
	yearly := mustCompile(t, Schedule{Cron: "0 0 1 1 *", Start: "2020-06-01T00:00:00Z"})
	assertStrings(t, "latest yearly", starts(yearly.DueAt(now)), []string{"2025-01-01T00:00:00Z"})
}

func TestNextRuns_ListsIntervalStartsWhoseRunHasNotStarted(t *testing.T) {
	daily := Schedule{Cron: "0 0 * * *", Start: "2026-03-01T00:00:00Z"}
	tests := []struct {
		name     string
		schedule Schedule
		now      string
		n        int
		want     []string
	}{
		{"mid-day: today's interval runs tomorrow at midnight, so it comes first", daily, "2026-03-08T10:00:00Z", 3,
			[]string{"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z"}},
		{"at midnight yesterday's run starts now, so it is not listed", daily, "2026-03-08T00:00:00Z", 2,
			[]string{"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"}},
		{"before start the first interval comes first", daily, "2026-02-01T00:00:00Z", 2,
			[]string{"2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"}},
		{"the end cuts the list short", Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z", End: "2026-03-10T00:00:00Z"}, "2026-03-08T10:00:00Z", 5,
			[]string{"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"}},
		{"every 15m aligned to start", Schedule{Every: "15m", Start: "2026-03-01T00:05:00Z"}, "2026-03-08T10:00:00Z", 2,
			[]string{"2026-03-08T09:50:00Z", "2026-03-08T10:05:00Z"}},
		{"an ended schedule has none", Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z", End: "2026-03-05T00:00:00Z"}, "2026-03-08T10:00:00Z", 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, tc.schedule)
			assertStrings(t, "next runs", formatTimes(c.NextRuns(mustTime(t, tc.now), tc.n)), tc.want)
		})
	}
}

func TestNext_StartsAtOrAfterFromAndStopsAtTheEnd(t *testing.T) {
	c := mustCompile(t, Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z", End: "2026-03-03T00:00:00Z"})
	iv, ok := c.Next(mustTime(t, "2026-03-02T00:00:00Z"))
	if !ok || iv.String() != "[2026-03-02T00:00:00Z, 2026-03-03T00:00:00Z)" {
		t.Fatalf("Next(03-02) = %v, %v", iv, ok)
	}
	if iv, ok := c.Next(iv.End); ok {
		t.Fatalf("Next after the end = %v, want none", iv)
	}
	if iv, ok := c.Next(mustTime(t, "2020-01-01T00:00:00Z")); !ok || !iv.Start.Equal(c.Start()) {
		t.Fatalf("Next before start = %v, %v; want the first interval", iv, ok)
	}
}

func TestCompile_IntervalsAreInTheScheduleTimezone(t *testing.T) {
	c := mustCompile(t, Schedule{Every: "1d", Timezone: "Europe/Berlin", Start: "2026-03-01T00:00:00+01:00"})
	iv, _ := c.Next(mustTime(t, "2026-02-28T23:00:00Z"))
	if iv.Start.Location().String() != "Europe/Berlin" || iv.Start.Format("2006-01-02 15:04") != "2026-03-01 00:00" {
		t.Fatalf("interval start %s in %s", iv.Start, iv.Start.Location())
	}
}
