package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// DefaultBackfillMaxRuns is how many runs a backfill may plan without being told it may plan
// more (--yes or --max-runs). Ten thousand is a year of hourly intervals or 27 years of daily
// ones; a 10-year backfill at 1-minute intervals once planned 5,260,320 runs without asking
// (2.3 GB of runner memory, a 1.5 GB state database — issue 11).
const DefaultBackfillMaxRuns = 10000

// BackfillCount is how many runs a backfill of [from, to) would plan at most: the schedule's
// intervals that start in [from, to) and have ended (Runs), and those left out because they
// have not ended yet (Future). Intervals that already have a run are counted: whether they are
// run again depends on --reprocess, which is only known once the runs are read.
type BackfillCount struct {
	Runs, Future int
}

// CountBackfill counts the runs Backfill would plan, walking the schedule one interval at a
// time without keeping any: it is what decides whether the backfill may go ahead, so it must
// never cost what the backfill itself would. It stops counting at stopAt+1 runs (0 = never),
// which is enough to refuse; the count is then a lower bound.
func (e *Engine) CountBackfill(ctx context.Context, p *definition.Pipeline, from, to time.Time, stopAt int) (BackfillCount, error) {
	var c BackfillCount
	sched, err := p.Schedule.Compile()
	if err != nil {
		return c, fmt.Errorf("pipeline %s schedule: %w", p.Name, err)
	}
	now := e.now()
	for iv, ok := sched.Next(from); ok && iv.Start.Before(to); iv, ok = sched.Next(iv.End) {
		if iv.End.After(now) {
			c.Future++
			continue
		}
		c.Runs++
		if stopAt > 0 && c.Runs > stopAt {
			break
		}
		if c.Runs%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return c, fmt.Errorf("counting the runs of the backfill of %s: %w", p.Name, err)
			}
		}
	}
	return c, nil
}
