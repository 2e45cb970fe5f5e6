package itest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// batchRuns × 4 activities (a → {b, c} → d) of `true`: short enough that many start and
// finish at the same moment, so that the runner records them in shared batches.
const batchRuns = 150

func batchPipeline() *definition.Pipeline {
	sh := func(deps ...string) *definition.Activity {
		return &definition.Activity{DependsOn: deps, Shell: &definition.ShellActivity{Command: []string{"true"}}}
	}
	return &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "batched", Owner: "ops@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: "2026-11-01T00:00:00Z", End: "2026-11-07T06:00:00Z", MaxActiveRuns: batchRuns},
		// Kills cut attempts short, and each counts against the retries.
		Defaults:   definition.Defaults{Retries: 9, RetryDelay: "50ms", Timeout: "10s"},
		Activities: map[string]*definition.Activity{"a": sh(), "b": sh("a"), "c": sh("a"), "d": sh("b", "c")},
	}
}

// TestCrashSafety_GroupCommittedBatches SIGKILLs a runner with 32 workers at random moments
// while its activities start and finish in shared batches (group commit), restarts it, and
// checks that no batch was half-recorded: every run succeeded once, every activity has
// exactly one successful attempt, and every run's own progress (the succeeded activities and
// the count of final ones, which each batch adds to) counts each activity once.
func TestCrashSafety_GroupCommittedBatches(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			dir := t.TempDir()
			database := "sqlite://" + filepath.Join(dir, "state.db")
			if driver == "postgres" {
				database = acctest.NewPostgresDatabase(t)
			}
			reg := publish(t, batchPipeline())
			env := []string{"SLUICE_REGISTRY=" + reg, "SLUICE_DATABASE=" + database, "SLUICE_WORKERS=32",
				"SLUICE_TICK=200ms", "SLUICE_FETCH_COOLDOWN=2ms", "SLUICE_RESCUE_AFTER=2s", "SLUICE_LISTEN=",
				"SLUICE_PROCESS_GRACE=1s", "SLUICE_WORK_DIR=" + filepath.Join(dir, "work")}
			logPath := filepath.Join(dir, "runner.log")
			plan := runner(t, logPath, env, "backfill", "batched", "--from", "2026-11-01T00:00:00Z",
				"--to", "2026-11-07T06:00:00Z", "--no-wait")
			if err := plan.Wait(); err != nil {
				t.Fatalf("planning the backfill: %v\n%s", err, readFile(logPath))
			}
			kills, midWork := killWhileWorking(t, logPath, env, database, killPlan{
				maxKills: 5, seed: 3, within: 4 * time.Minute, minDelay: 20 * time.Millisecond, spread: 300 * time.Millisecond,
			}, func() bool { return batchDone(t, database) })
			if midWork < 2 {
				t.Errorf("only %d of %d SIGKILLs landed before the backfill finished; the test needs several", midWork, kills)
			}
			runs := batchRunRows(t, database)
			if len(runs) != batchRuns {
				t.Fatalf("%d runs, want %d", len(runs), batchRuns)
			}
			bad := 0
			for _, r := range runs {
				if r.state != "success" || r.successes != 4 || r.distinct != 4 || r.finals != 4 || len(strings.Fields(r.succeeded)) != 4 {
					bad++
					if bad <= 5 {
						t.Errorf("run %d: %+v; want success, 4 successful attempts of 4 activities, finals 4 and 4 names", r.id, r)
					}
				}
			}
			t.Logf("batch crash test (%s): %d SIGKILLs (%d mid-work), %d runs × 4 activities, %d runs with a miscount",
				driver, kills, midWork, len(runs), bad)
		})
	}
}

// batchRun is a run as the checks see it: its state, its successful attempts and the
// distinct activities they are of, and its own progress (finals, succeeded).
type batchRun struct {
	id                          int64
	state                       string
	successes, distinct, finals int
	succeeded                   string
}

func batchRunRows(t *testing.T, database string) []batchRun {
	t.Helper()
	db, err := state.OpenReadOnly(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().Query(context.Background(), `SELECT r.id, r.state,
		(SELECT COUNT(*) FROM sluice_attempts x WHERE x.run_id = r.id AND x.state = 'success'),
		(SELECT COUNT(DISTINCT x.activity) FROM sluice_attempts x WHERE x.run_id = r.id AND x.state = 'success'),
		r.finals, r.succeeded FROM sluice_runs r WHERE r.pipeline = 'batched' ORDER BY r.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []batchRun
	for rows.Next() {
		var r batchRun
		if err := rows.Scan(&r.id, &r.state, &r.successes, &r.distinct, &r.finals, &r.succeeded); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func batchDone(t *testing.T, database string) bool {
	t.Helper()
	runs := batchRunRows(t, database)
	if len(runs) < batchRuns {
		return false
	}
	for _, r := range runs {
		if r.state != "success" && r.state != "failed" {
			return false
		}
	}
	return true
}
