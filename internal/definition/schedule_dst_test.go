package definition

import (
	"fmt"
	"testing"
	"time"
)

// The cases a user found wrong, one test each. They state the rule in the name and check exact
// intervals; every listing is also checked to be contiguous.

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// listing compiles the schedule and lists the interval starts in [from, to) in the zone's
// local time, failing when two listed intervals are not contiguous.
func listing(t *testing.T, cron, tz, from, to string) ([]Interval, []string) {
	t.Helper()
	c := mustCompile(t, Schedule{Cron: cron, Timezone: tz, Start: from})
	ivs := c.Between(mustTime(t, from), mustTime(t, to))
	assertContiguous(t, ivs)
	return ivs, starts(ivs)
}

func assertContiguous(t *testing.T, ivs []Interval) {
	t.Helper()
	for i := 1; i < len(ivs); i++ {
		if !ivs[i-1].End.Equal(ivs[i].Start) {
			t.Fatalf("interval %v ends at %s but the next starts at %s: the time between is in no interval",
				ivs[i-1], ivs[i-1].End.Format(time.RFC3339), ivs[i].Start.Format(time.RFC3339))
		}
	}
}

func TestCron_SantiagoSaturdayNoonStaysOnSaturdayAcrossTheMidnightJump(t *testing.T) {
	// 2026-09-06 00:00 does not exist in America/Santiago: Saturday 24:00 -04 becomes Sunday 01:00 -03.
	_, got := listing(t, "0 12 * * 6", "America/Santiago", "2026-08-29T00:00:00-04:00", "2026-09-20T00:00:00-03:00")
	assertStrings(t, "Saturdays", got, []string{
		"2026-08-29T12:00:00-04:00", "2026-09-05T12:00:00-04:00", "2026-09-12T12:00:00-03:00", "2026-09-19T12:00:00-03:00",
	})
}

func TestCron_BeirutSundayNoonKeepsTheSundayTheClocksChange(t *testing.T) {
	// Asia/Beirut springs forward at Sunday 00:00 (the last Sunday of March, 2026-03-29).
	_, got := listing(t, "0 12 * * 0", "Asia/Beirut", "2026-03-15T00:00:00+02:00", "2026-04-06T00:00:00+03:00")
	assertStrings(t, "Sundays", got, []string{
		"2026-03-15T12:00:00+02:00", "2026-03-22T12:00:00+02:00", "2026-03-29T12:00:00+03:00", "2026-04-05T12:00:00+03:00",
	})
}

func TestCron_BeirutMarch29thFiresIn2026WhenItIsTheChangeDay(t *testing.T) {
	_, got := listing(t, "0 12 29 3 *", "Asia/Beirut", "2025-01-01T00:00:00+02:00", "2028-01-01T00:00:00+02:00")
	assertStrings(t, "March 29th", got, []string{
		"2025-03-29T12:00:00+02:00", "2026-03-29T12:00:00+03:00", "2027-03-29T12:00:00+03:00",
	})
}

func TestCron_CairoSundayToThursdayDoesNotRunOnFriday(t *testing.T) {
	// Africa/Cairo springs forward at Friday 00:00 on the last Friday of April (2026-04-24).
	ivs, _ := listing(t, "0 9-17 * * 0-4", "Africa/Cairo", "2026-04-19T00:00:00+02:00", "2026-04-28T00:00:00+03:00")
	for _, iv := range ivs {
		if wd := iv.Start.Weekday(); wd == time.Friday || wd == time.Saturday {
			t.Fatalf("interval %v starts on a %s", iv, wd)
		}
	}
	thu := mustTime(t, "2026-04-23T17:00:00+02:00")
	for _, iv := range ivs {
		if iv.Start.Equal(thu) {
			if want := mustTime(t, "2026-04-26T09:00:00+03:00"); !iv.End.Equal(want) {
				t.Fatalf("Thursday 17:00 interval ends %s, want Sunday 09:00 %s", iv.End.Format(time.RFC3339), want.Format(time.RFC3339))
			}
			return
		}
	}
	t.Fatalf("no interval starts at Thursday 17:00 %s: %v", thu.Format(time.RFC3339), starts(ivs))
}

func TestCron_HavanaMidnightRunsOnTheDayMidnightIsSkipped(t *testing.T) {
	// America/Havana: 2026-03-08 00:00 does not exist (clocks jump to 01:00); the day keeps its run, at the jump.
	_, got := listing(t, "0 0 * * *", "America/Havana", "2026-03-06T00:00:00-05:00", "2026-03-10T00:00:00-04:00")
	assertStrings(t, "midnights", got, []string{
		"2026-03-06T00:00:00-05:00", "2026-03-07T00:00:00-05:00", "2026-03-08T01:00:00-04:00", "2026-03-09T00:00:00-04:00",
	})
}

func TestCron_LordHoweThreeOClockOncePerDayAcrossTheHalfHourShift(t *testing.T) {
	// Australia/Lord_Howe moves from +10:30 to +11 at 02:00 on 2026-10-04.
	ivs, got := listing(t, "0 3 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00+10:30", "2026-10-07T00:00:00+11:00")
	assertStrings(t, "03:00 each day", got, []string{
		"2026-10-02T03:00:00+10:30", "2026-10-03T03:00:00+10:30", "2026-10-04T03:00:00+11:00", "2026-10-05T03:00:00+11:00", "2026-10-06T03:00:00+11:00",
	})
	if d := ivs[1].End.Sub(ivs[1].Start); d != 23*time.Hour+30*time.Minute {
		t.Fatalf("the interval over the shift lasts %v, want 23h30m", d)
	}
}

func TestCron_LordHoweRepeatedHalfHourFiresOnceAtTheFirstOccurrence(t *testing.T) {
	// Australia/Lord_Howe falls back from +11 to +10:30 at 02:00 on 2026-04-05: 01:30-01:59 happens twice.
	_, got := listing(t, "40 1 * * *", "Australia/Lord_Howe", "2026-04-03T00:00:00+11:00", "2026-04-08T00:00:00+10:30")
	assertStrings(t, "01:40 each day", got, []string{
		"2026-04-03T01:40:00+11:00", "2026-04-04T01:40:00+11:00", "2026-04-05T01:40:00+11:00", "2026-04-06T01:40:00+10:30", "2026-04-07T01:40:00+10:30",
	})
}

func TestCron_ChathamFortyFiveMinuteGapFiresAtTheJump(t *testing.T) {
	// Pacific/Chatham jumps from 02:45 +12:45 to 03:45 +13:45 on 2026-09-27: 03:00 does not exist.
	_, got := listing(t, "0 3 * * *", "Pacific/Chatham", "2026-09-25T00:00:00+12:45", "2026-09-30T00:00:00+13:45")
	assertStrings(t, "03:00 each day", got, []string{
		"2026-09-25T03:00:00+12:45", "2026-09-26T03:00:00+12:45", "2026-09-27T03:45:00+13:45", "2026-09-28T03:00:00+13:45", "2026-09-29T03:00:00+13:45",
	})
}

func TestCron_LeapDayHasNoSearchHorizon(t *testing.T) {
	// 2100 is not a leap year: after 2096-02-29 the next 29 February is 2104-02-29.
	_, got := listing(t, "0 0 29 2 *", "UTC", "2096-01-01T00:00:00Z", "2106-01-01T00:00:00Z")
	assertStrings(t, "leap days", got, []string{"2096-02-29T00:00:00Z", "2104-02-29T00:00:00Z"})
	c := mustCompile(t, Schedule{Cron: "0 0 29 2 *", Start: "2097-01-01T00:00:00Z"})
	iv, ok := c.Next(c.Start())
	if !ok || iv.Start.Format(time.RFC3339) != "2104-02-29T00:00:00Z" {
		t.Fatalf("first interval from 2097 = %v, %v; want one starting 2104-02-29", iv, ok)
	}
	if got := c.NextRuns(mustTime(t, "2098-06-01T00:00:00Z"), 2); len(got) != 2 || got[1].Year() != 2108 {
		t.Fatalf("NextRuns = %v, want 2104 and 2108", formatTimes(got))
	}
}

func TestCron_SpringForwardGapKeepsTheCalendarDayForDatePartitions(t *testing.T) {
	// 02:30 does not exist in Europe/Berlin on 2026-03-29: the run for that date fires at 03:00 CEST.
	_, got := listing(t, "30 2 * * *", "Europe/Berlin", "2026-03-27T00:00:00+01:00", "2026-03-31T00:00:00+02:00")
	assertStrings(t, "02:30 each day", got, []string{
		"2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00",
	})
	for i, day := range []string{"2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30"} {
		if ds := fmt.Sprint(got[i][:10]); ds != day {
			t.Fatalf("interval %d is on %s, want %s", i, ds, day)
		}
	}
}

func TestCron_HourlyInBerlinHas8760OneHourIntervalsIn2026(t *testing.T) {
	ivs, _ := listing(t, "0 * * * *", "Europe/Berlin", "2026-01-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00")
	if len(ivs) != 8760 {
		t.Fatalf("%d hourly intervals in 2026, want 8760", len(ivs))
	}
	for _, iv := range ivs {
		if d := iv.End.Sub(iv.Start); d != time.Hour {
			t.Fatalf("interval %v lasts %v, want 1h", iv, d)
		}
	}
}

func TestCron_EveryMinuteHasNoLongMinuteAtFallBack(t *testing.T) {
	ivs, _ := listing(t, "* * * * *", "Europe/Berlin", "2026-10-25T01:00:00+02:00", "2026-10-25T04:00:00+01:00")
	if len(ivs) != 4*60 {
		t.Fatalf("%d one-minute intervals over 4 elapsed hours, want 240", len(ivs))
	}
	for _, iv := range ivs {
		if d := iv.End.Sub(iv.Start); d != time.Minute {
			t.Fatalf("interval %v lasts %v, want 1m", iv, d)
		}
	}
}

func TestEvery_DayStartInAGapMovesForwardInEveryHemisphere(t *testing.T) {
	tests := []struct {
		tz, start string
		want      []string
	}{
		// West of UTC: America/Santiago, 00:00 does not exist on 2026-09-06.
		{"America/Santiago", "2026-09-04T00:00:00-04:00", []string{
			"2026-09-04T00:00:00-04:00", "2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00",
		}},
		// East of UTC: Europe/Berlin, 02:30 does not exist on 2026-03-29.
		{"Europe/Berlin", "2026-03-27T02:30:00+01:00", []string{
			"2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.tz, func(t *testing.T) {
			c := mustCompile(t, Schedule{Every: "1d", Timezone: tc.tz, Start: tc.start})
			ivs := c.Between(c.Start(), c.Start().Add(4*24*time.Hour-time.Hour))
			assertContiguous(t, ivs)
			assertStrings(t, "daily starts", starts(ivs), tc.want)
		})
	}
}

func TestCron_SundayAsSevenAndMacrosAreAccepted(t *testing.T) {
	tests := []struct{ a, b string }{
		{"0 0 * * 7", "0 0 * * 0"},
		{"0 0 * * 5-7", "0 0 * * 0,5,6"},
		{"0 0 * * 1-7/2", "0 0 * * 1,3,5,0"},
		{"0 0 * * SAT,7", "0 0 * * 6,0"},
		{"@hourly", "0 * * * *"},
		{"@daily", "0 0 * * *"},
		{"@midnight", "0 0 * * *"},
		{"@weekly", "0 0 * * 0"},
		{"@monthly", "0 0 1 * *"},
		{"@yearly", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"},
	}
	from, to := "2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z"
	for _, tc := range tests {
		t.Run(tc.a, func(t *testing.T) {
			_, a := listing(t, tc.a, "Europe/Berlin", from, to)
			_, b := listing(t, tc.b, "Europe/Berlin", from, to)
			if len(a) == 0 {
				t.Fatalf("%q lists nothing", tc.a)
			}
			assertStrings(t, tc.a+" vs "+tc.b, a, b)
		})
	}
}

func TestCron_LordHoweOneFortyOncePerDayAcrossBothShifts(t *testing.T) {
	// Australia/Lord_Howe: +10:30 -> +11 at 02:00 on 2026-10-04 (02:00-02:29 do not exist).
	_, got := listing(t, "40 1 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00+10:30", "2026-10-07T00:00:00+11:00")
	assertStrings(t, "01:40 each day in October", got, []string{
		"2026-10-02T01:40:00+10:30", "2026-10-03T01:40:00+10:30", "2026-10-04T01:40:00+10:30", "2026-10-05T01:40:00+11:00", "2026-10-06T01:40:00+11:00",
	})
	_, got = listing(t, "10 2 * * *", "Australia/Lord_Howe", "2026-10-02T00:00:00+10:30", "2026-10-07T00:00:00+11:00")
	assertStrings(t, "02:10 each day in October (at the jump on the 4th)", got, []string{
		"2026-10-02T02:10:00+10:30", "2026-10-03T02:10:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:10:00+11:00", "2026-10-06T02:10:00+11:00",
	})
}
