package definition

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// Listing a year of intervals with sluice's schedule engine, against robfig/cron's Next loop on
// the same spec and zone in the same run (the baseline: it is what sluice used before, and what
// it does not follow across DST). make bench runs these; the ratio is sluice / robfig ns/op.

func benchYear(b *testing.B, spec, tz string, from time.Time) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		b.Fatal(err)
	}
	from = from.In(loc)
	to := from.AddDate(1, 0, 0)
	b.Run("sluice", func(b *testing.B) {
		c, err := Schedule{Cron: spec, Timezone: tz, Start: from.Format(time.RFC3339), MaxActiveRuns: 1}.Compile()
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for b.Loop() {
			n = 0
			for iv := range c.Intervals(from) {
				if !iv.Start.Before(to) {
					break
				}
				n++
			}
		}
		b.ReportMetric(float64(n), "intervals/op")
	})
	b.Run("robfig", func(b *testing.B) {
		sched, err := cron.ParseStandard(spec)
		if err != nil {
			b.Fatal(err)
		}
		sched.(*cron.SpecSchedule).Location = loc
		n := 0
		for b.Loop() {
			n = 0
			for t := sched.Next(from.Add(-time.Second)); t.Before(to); t = sched.Next(t) {
				n++
			}
		}
		b.ReportMetric(float64(n), "intervals/op")
	})
}

func BenchmarkSchedule_YearOfHourlyInBerlin(b *testing.B) {
	benchYear(b, "0 * * * *", "Europe/Berlin", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func BenchmarkSchedule_YearOfFiveMinutesInSantiago(b *testing.B) {
	benchYear(b, "*/5 * * * *", "America/Santiago", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func BenchmarkSchedule_YearOfDailyInBerlin(b *testing.B) {
	benchYear(b, "30 2 * * *", "Europe/Berlin", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}
