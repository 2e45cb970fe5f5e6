package itest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

const crashIntervals = 12

// crashPipeline: extract (shell, writes the interval's CSV; slow enough to be killed in) →
// load (redshift_copy OVERWRITE_EXISTING: idempotent) → count (sql, idempotent).
func crashPipeline(data string) *definition.Pipeline {
	return &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "crashy", Owner: "ops@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1h", Start: "2026-11-01T00:00:00Z", End: "2026-11-01T12:00:00Z", MaxActiveRuns: 3},
		Parameters: map[string]string{"data": data},
		// An attempt cut short by a kill counts against the retries (as it would in production),
		// and up to 8 kills may hit the same activity: enough retries that no kill pattern
		// exhausts them.
		Defaults: definition.Defaults{Retries: 9, RetryDelay: "50ms", Timeout: "5s"},
		Activities: map[string]*definition.Activity{
			"extract": {Shell: &definition.ShellActivity{Command: []string{"sh", "-c",
				`echo "{{ .Start.Hour }}" >> "$DATA/executions.log"; sleep 0.$(( 3 + $(od -An -N1 -tu1 /dev/urandom) % 7 ))
mkdir -p "$DATA/{{ .Start.Hour }}" && printf 'id,hour\n{{ .Start.Hour }}-a,{{ .Start.Hour }}\n{{ .Start.Hour }}-b,{{ .Start.Hour }}\n{{ .Start.Hour }}-c,{{ .Start.Hour }}\n' > "$DATA/{{ .Start.Hour }}/part.tmp" && mv "$DATA/{{ .Start.Hour }}/part.tmp" "$DATA/{{ .Start.Hour }}/part.csv"`},
				Env: map[string]string{"DATA": "{{ .Params.data }}"}}},
			"load": {DependsOn: []string{"extract"}, RedshiftCopy: &definition.RedshiftCopyActivity{
				Connection: "warehouse", Table: "crash.rows", From: "file://{{ .Params.data }}/{{ .Start.Hour }}/part.csv",
				Format: definition.FormatCSV, InsertMode: definition.InsertOverwriteExisting, KeyColumns: []string{"id"},
				Options: []string{"IGNOREHEADER 1"},
			}},
			"count": {DependsOn: []string{"load"}, SQL: &definition.SQLActivity{Connection: "warehouse", Statements: []string{
				`DELETE FROM crash.counts WHERE hour = {{ .Start.Hour }}`,
				`INSERT INTO crash.counts SELECT {{ .Start.Hour }}, COUNT(*) FROM crash.rows WHERE hour = {{ .Start.Hour }}`,
			}}},
		},
	}
}

// TestCrashSafety SIGKILLs runners at random moments while they work a 12-interval backfill,
// restarts them, and checks that every interval completed exactly once and the loaded table has
// exactly the expected rows.
func TestCrashSafety(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			dir := t.TempDir()
			database := "sqlite://" + filepath.Join(dir, "state.db")
			if driver == "postgres" {
				database = acctest.NewPostgresDatabase(t)
			}
			wh := acctest.NewPostgresDatabase(t)
			execSQL(t, wh, `CREATE SCHEMA crash; CREATE TABLE crash.rows (id text, hour integer); CREATE TABLE crash.counts (hour integer, n integer)`)
			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			reg := publish(t, crashPipeline(data))
			env := []string{"SLUICE_REGISTRY=" + reg, "SLUICE_DATABASE=" + database, "SLUICE_CONN_WAREHOUSE=" + wh,
				"SLUICE_TICK=50ms", "SLUICE_FETCH_COOLDOWN=5ms", "SLUICE_RESCUE_AFTER=2s", "SLUICE_LISTEN=",
				// A dead runner's processes die with it (their guard) within milliseconds: 1 s of
				// grace instead of the default 30 s keeps 8 kills on PostgreSQL quick.
				"SLUICE_PROCESS_GRACE=1s",
				// The records of the runners' process groups stay in the test's directory.
				"SLUICE_WORK_DIR=" + filepath.Join(dir, "work")}
			logPath := filepath.Join(dir, "runner.log")
			plan := runner(t, logPath, env, "backfill", "crashy", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T12:00:00Z", "--no-wait")
			if err := plan.Wait(); err != nil {
				t.Fatalf("planning the backfill: %v\n%s", err, readFile(logPath))
			}
			// A PostgreSQL runner's jobs are released by the next runner once its liveness lock
			// is gone (see state.Liveness), as a SQLite runner's are at start: both drivers get
			// the same number of kills.
			kills, _ := killWhileWorking(t, logPath, env, database, killPlan{
				maxKills: 8, seed: 1, within: 6 * time.Minute,
				// Once a runner has started work of its own, at a random moment of the next
				// 0.1-1 s (inside an attempt, or between the steps of recording one).
				minDelay: 100 * time.Millisecond, spread: 900 * time.Millisecond,
			}, func() bool { return allDone(t, database) })
			if kills < 3 {
				t.Errorf("only %d SIGKILLs before the backfill finished; the test needs several", kills)
			}
			runs := runRows(t, database)
			perInterval := map[int64]int{}
			for _, r := range runs {
				if r.State != status.RunSuccess {
					t.Errorf("run %d (%s): %s; activities: %s", r.ID, r.IntervalStart, r.State, activityErrors(t, database, r.ID))
				}
				perInterval[r.IntervalStart.Unix()]++
			}
			duplicates := 0
			for _, n := range perInterval {
				if n != 1 {
					duplicates++
				}
			}
			if len(perInterval) != crashIntervals || duplicates != 0 {
				t.Errorf("%d intervals with runs, %d with more than one; want %d and 0", len(perInterval), duplicates, crashIntervals)
			}
			got := queryInts(t, wh, `SELECT COUNT(*), COUNT(DISTINCT id) FROM crash.rows`)
			if got[0] != 3*crashIntervals || got[1] != got[0] {
				t.Errorf("crash.rows: %d rows, %d distinct ids; want %d and no duplicates", got[0], got[1], 3*crashIntervals)
			}
			counts := queryInts(t, wh, `SELECT COUNT(*), COALESCE(MIN(n), 0), COALESCE(MAX(n), 0) FROM crash.counts`)
			if counts[0] != crashIntervals || counts[1] != 3 || counts[2] != 3 {
				t.Errorf("crash.counts: %v, want %d rows of 3", counts, crashIntervals)
			}
			execs := strings.Count(readFile(filepath.Join(data, "executions.log")), "\n")
			t.Logf("crash test (%s): %d SIGKILLs, %d intervals, %d runs, duplicate runs %d, duplicate rows %d, extract executed %d times for %d intervals (re-executions after kills are expected and harmless: every activity is idempotent)",
				driver, kills, len(perInterval), len(runs), duplicates, got[0]-got[1], execs, crashIntervals)
		})
	}
}

// killPlan is how killWhileWorking kills: at most maxKills runners, each SIGKILLed minDelay
// plus up to spread (random, from seed) after it started work of its own; all done within.
type killPlan struct {
	maxKills         int
	seed             uint64
	within           time.Duration
	minDelay, spread time.Duration
}

// killWhileWorking starts `serve` again and again until done: each of the first maxKills
// runners is SIGKILLed at a random moment once it has started an attempt of its own; the last
// one is left to finish and then stopped. It returns the kills, and how many of them left work
// unfinished (landed mid-work).
func killWhileWorking(t *testing.T, logPath string, env []string, database string, plan killPlan, done func() bool) (kills, midWork int) {
	t.Helper()
	// A PostgreSQL runner's jobs are released by the next runner once its liveness lock is
	// gone (see state.Liveness), as a SQLite runner's are at start: both drivers get the same
	// number of kills.
	rng := rand.New(rand.NewPCG(plan.seed, plan.seed+1))
	deadline := time.Now().Add(plan.within)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("not done after %d kills\n%s", kills, tail(readFile(logPath), 4000))
		}
		before := attemptsStarted(t, database)
		cmd := runner(t, logPath, env, "serve")
		if kills < plan.maxKills {
			for attemptsStarted(t, database) == before && !done() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(plan.minDelay + time.Duration(rng.Int64N(int64(plan.spread))))
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			kills++
			if !done() {
				midWork++
			}
			continue
		}
		for !done() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	return kills, midWork
}

func runRows(t *testing.T, database string) []state.RunRow {
	t.Helper()
	db, err := state.OpenReadOnly(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := state.RecentRuns(context.Background(), db.Reader(), "crashy", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// attemptsStarted counts the attempts ever started, by any runner.
func attemptsStarted(t *testing.T, database string) int {
	t.Helper()
	db, err := state.OpenReadOnly(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().Query(context.Background(), `SELECT COUNT(*) FROM sluice_attempts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func allDone(t *testing.T, database string) bool {
	t.Helper()
	runs := runRows(t, database)
	if len(runs) < crashIntervals {
		return false
	}
	for _, r := range runs {
		if r.State != status.RunSuccess && r.State != status.RunFailed {
			return false
		}
	}
	return true
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// activityErrors describes a run's activities: state, attempts and error.
func activityErrors(t *testing.T, database string, runID int64) string {
	t.Helper()
	db, err := state.OpenReadOnly(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acts, err := state.Activities(context.Background(), db.Reader(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range acts {
		out = append(out, fmt.Sprintf("%s %s after %d attempt(s): %s", a.Activity, a.State, a.Attempts, a.Error))
	}
	return strings.Join(out, "; ")
}
