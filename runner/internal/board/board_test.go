package board_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/board"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// The runners page: who ran attempts lately, what each runs now, and on PostgreSQL whether
// each holds its liveness lock (a runner that died mid-attempt shows gone, with the attempt it
// left running).
func TestRunners_LivenessAndWork(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			url := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
			if driver == "postgres" {
				url = acctest.NewPostgresDatabase(t)
			}
			ctx := context.Background()
			db, err := state.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			now := t0.Add(48 * time.Hour)
			err = db.InTx(ctx, func(q state.Q) error {
				id, _, err := state.InsertRun(ctx, q, state.NewRun{Pipeline: "orders", IntervalStart: t0, IntervalEnd: t0.Add(time.Hour),
					Version: "v1", Trigger: state.TriggerSchedule, MaxActive: 1, Activities: map[string]string{"a": "shell", "b": "shell", "c": "shell"}}, now)
				if err != nil {
					return err
				}
				for _, a := range []struct {
					act, runner string
					ago         time.Duration
					finish      bool
				}{
					{"a", "runner-live", 2 * time.Hour, true},    // finished: counts as recent
					{"b", "runner-live", time.Minute, false},     // running now
					{"c", "runner-dead", 3 * time.Minute, false}, // left running by a dead runner
				} {
					n, err := state.StartAttempt(ctx, q, id, a.act, a.runner, now.Add(-a.ago))
					if err != nil {
						return err
					}
					if a.finish {
						if err := state.FinishAttempt(ctx, q, id, a.act, n, status.ActivitySuccess, "", "", now.Add(-a.ago+time.Second)); err != nil {
							return err
						}
					}
				}
				// An attempt two days old: its runner is not listed.
				_, err = state.StartAttempt(ctx, q, id, "a", "runner-old", now.Add(-47*time.Hour))
				if err != nil {
					return err
				}
				_, err = q.Exec(ctx, `UPDATE sluice_attempts SET state = 'failed' WHERE runner = 'runner-old'`)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if driver == "postgres" {
				live, err := state.HoldLiveness(ctx, db, "runner-live")
				if err != nil {
					t.Fatal(err)
				}
				defer live.Close(ctx)
			}
			r := board.New(db, nil, func() time.Time { return now })
			before := r.Queries()
			runners, err := r.Runners(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ru := range runners {
				line := fmt.Sprintf("%s live=%v known=%v last=%s", ru.ID, ru.Live, ru.LiveKnown, now.Sub(ru.LastStart))
				for _, w := range ru.Working {
					line += fmt.Sprintf(" [%s run %d %s #%d]", w.Pipeline, w.RunID, w.Activity, w.Attempt)
				}
				got = append(got, line)
			}
			pg := driver == "postgres"
			want := []string{
				fmt.Sprintf("runner-live live=%v known=%v last=1m0s [orders run 1 b #1]", pg, pg),
				fmt.Sprintf("runner-dead live=false known=%v last=3m0s [orders run 1 c #1]", pg),
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("runners:\n%v\nwant\n%v", got, want)
			}
			wantQueries := int64(2)
			if pg {
				wantQueries = 3
			}
			if n := r.Queries() - before; n != wantQueries {
				t.Errorf("the runners page took %d statements, want %d", n, wantQueries)
			}
		})
	}
}
