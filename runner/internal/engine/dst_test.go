package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// syncBuffer is a log sink the engine's goroutines may write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func dstPipeline(name, cron, start string) *definition.Pipeline {
	return shellPipeline(name, func(p *definition.Pipeline) {
		p.Schedule = definition.Schedule{Cron: cron, Timezone: "Europe/Berlin", Start: start, Catchup: true, MaxActiveRuns: 5}
	})
}

// runIntervals lists a pipeline's runs as "[start, end)" in the pipeline's zone, oldest first.
func runIntervals(t *testing.T, db *state.DB, pipeline string) []string {
	t.Helper()
	runs, err := state.RecentRuns(context.Background(), db.Reader(), pipeline, 1000)
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(runs))
	for i, r := range runs {
		out[len(runs)-1-i] = definition.Interval{Start: r.IntervalStart.In(berlin), End: r.IntervalEnd.In(berlin)}.String()
	}
	return out
}

func mustParse(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestCatchupOverDSTRunsExactlyTheScheduleIntervals: an hourly catch-up over the Berlin
// fall-back night runs the repeated hour twice (eight one-hour runs for seven wall-clock
// hours), and a daily 02:30 catch-up over the spring-forward night runs the 29th at the jump.
func TestCatchupOverDSTRunsExactlyTheScheduleIntervals(t *testing.T) {
	tests := []struct {
		name, cron, start, now string
		want                   []string
	}{
		{"hourly over fall-back", "0 * * * *", "2026-10-24T22:00:00Z", "2026-10-25T05:00:00+01:00", []string{
			"[2026-10-25T00:00:00+02:00, 2026-10-25T01:00:00+02:00)",
			"[2026-10-25T01:00:00+02:00, 2026-10-25T02:00:00+02:00)",
			"[2026-10-25T02:00:00+02:00, 2026-10-25T02:00:00+01:00)",
			"[2026-10-25T02:00:00+01:00, 2026-10-25T03:00:00+01:00)",
			"[2026-10-25T03:00:00+01:00, 2026-10-25T04:00:00+01:00)",
			"[2026-10-25T04:00:00+01:00, 2026-10-25T05:00:00+01:00)",
		}},
		{"daily 02:30 over spring-forward", "30 2 * * *", "2026-03-27T00:00:00+01:00", "2026-03-31T03:00:00+02:00", []string{
			"[2026-03-27T02:30:00+01:00, 2026-03-28T02:30:00+01:00)",
			"[2026-03-28T02:30:00+01:00, 2026-03-29T03:00:00+02:00)",
			"[2026-03-29T03:00:00+02:00, 2026-03-30T02:30:00+02:00)",
			"[2026-03-30T02:30:00+02:00, 2026-03-31T02:30:00+02:00)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			drivers(t, func(t *testing.T, url string) {
				reg := fileRegistry(t)
				put(t, reg, dstPipeline("dst", tc.cron, tc.start))
				noop := map[string]activity.Executor{definition.KindShell: activity.Noop}
				now := mustParse(t, tc.now) // fixed before the engine starts: its first tick already sees it
				h := start(t, url, noop, func(o *engine.Options) {
					o.Registry, o.Schedule = reg, true
					o.Now = func() time.Time { return now }
				})
				waitRuns(t, h, "dst", len(tc.want))
				assertStrings(t, runIntervals(t, h.db, "dst"), tc.want)
			})
		})
	}
}

func assertStrings(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestSchedulerNeverRunsAnInstantTwiceAfterTheRulesChanged: a state database made under the old
// rules holds a 48-hour run over the Berlin spring-forward day (the old engine did not fire on
// the 29th). Under today's rules the 29th is an interval of its own, inside that run: the
// scheduler leaves it out, says so in its log once, and carries on with the next interval.
func TestSchedulerNeverRunsAnInstantTwiceAfterTheRulesChanged(t *testing.T) {
	drivers(t, func(t *testing.T, url string) {
		ctx := context.Background()
		p := dstPipeline("legacy", "30 2 * * *", "2026-03-27T00:00:00+01:00")
		doc, err := definition.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		old, err := state.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		now := mustParse(t, "2026-03-30T12:00:00+02:00")
		err = old.InTx(ctx, func(q state.Q) error {
			if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
				return err
			}
			if err := state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: true, Owner: p.Owner}, now); err != nil {
				return err
			}
			var runs []state.NewRun
			for _, iv := range [][2]string{
				{"2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00"},
				{"2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00"}, // the old rules: no run on the 29th
			} {
				runs = append(runs, state.NewRun{
					Pipeline: p.Name, IntervalStart: mustParse(t, iv[0]), IntervalEnd: mustParse(t, iv[1]), Version: p.Version,
					Trigger: state.TriggerSchedule, MaxActive: 5, Activities: map[string]string{"only": definition.KindShell},
				})
			}
			_, err := state.InsertRuns(ctx, q, old.Dialect, runs, now)
			return err
		})
		old.Close()
		if err != nil {
			t.Fatal(err)
		}

		reg := fileRegistry(t)
		put(t, reg, p)
		logs := &syncBuffer{}
		noop := map[string]activity.Executor{definition.KindShell: activity.Noop}
		later := mustParse(t, "2026-04-01T03:00:00+02:00")
		h := start(t, url, noop, func(o *engine.Options) {
			o.Registry, o.Schedule = reg, true
			o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			o.Now = func() time.Time { return later }
		})
		waitRuns(t, h, "legacy", 4)
		time.Sleep(150 * time.Millisecond) // more ticks: still no run over the 29th, and one log line
		assertStrings(t, runIntervals(t, h.db, "legacy"), []string{
			"[2026-03-27T02:30:00+01:00, 2026-03-28T02:30:00+01:00)",
			"[2026-03-28T02:30:00+01:00, 2026-03-30T02:30:00+02:00)",
			"[2026-03-30T02:30:00+02:00, 2026-03-31T02:30:00+02:00)",
			"[2026-03-31T02:30:00+02:00, 2026-04-01T02:30:00+02:00)",
		})
		const leftOut = `"interval":"[2026-03-29T03:00:00+02:00, 2026-03-30T02:30:00+02:00)"`
		if n := strings.Count(logs.String(), leftOut); n != 1 {
			t.Fatalf("the log names the left-out interval %d times, want once:\n%s", n, logs.String())
		}
		if !strings.Contains(logs.String(), `"run_interval":"[2026-03-28T02:30:00+01:00, 2026-03-30T02:30:00+02:00)"`) {
			t.Fatalf("the log does not name the run that covers the left-out interval:\n%s", logs.String())
		}
	})
}
