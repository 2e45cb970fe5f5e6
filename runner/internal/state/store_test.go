package state

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// bothDatabases runs fn on a fresh SQLite file and a fresh PostgreSQL database.
func bothDatabases(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	open := func(t *testing.T, url string) *DB {
		t.Helper()
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	t.Run("sqlite", func(t *testing.T) { fn(t, open(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, open(t, acctest.NewPostgresDatabase(t))) })
}

var testEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// hourlyRuns returns n hourly runs of pipeline p from hour first, each with acts activities.
func hourlyRuns(p string, first, n, acts int) []NewRun {
	kinds := map[string]string{}
	for i := range acts {
		kinds[fmt.Sprintf("act%02d", i)] = fmt.Sprintf("kind%d", i%2)
	}
	out := make([]NewRun, n)
	for i := range out {
		start := testEpoch.Add(time.Duration(first+i) * time.Hour)
		out[i] = NewRun{
			Pipeline: p, IntervalStart: start, IntervalEnd: start.Add(time.Hour),
			Version: "v1", Trigger: TriggerBackfill, MaxActive: 3, Activities: kinds,
		}
	}
	return out
}

func count(t *testing.T, db *DB, query string, args ...any) int {
	t.Helper()
	rows, err := db.Reader().Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	if !rows.Next() {
		t.Fatalf("%s: no row", query)
	}
	if err := rows.Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// statementLog wraps the real Q of a transaction to record how many bound parameters each
// statement carried.
type statementLog struct {
	Q
	args []int
}

func (l *statementLog) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	l.args = append(l.args, len(args))
	return l.Q.Exec(ctx, q, args...)
}

func (l *statementLog) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	l.args = append(l.args, len(args))
	return l.Q.Query(ctx, q, args...)
}

// insertInTx runs insertRuns in a transaction and fails the test when a statement carried
// more than limit parameters.
func insertInTx(t *testing.T, db *DB, ph placeholders, runs []NewRun, limit int) (map[int64]int64, error) {
	t.Helper()
	var ids map[int64]int64
	log := &statementLog{}
	err := db.InTx(context.Background(), func(q Q) error {
		log.Q = q
		var err error
		ids, err = insertRuns(context.Background(), log, ph, runs, testEpoch, limit)
		return err
	})
	for i, n := range log.args {
		if n > limit {
			t.Fatalf("statement %d carried %d parameters, over the limit of %d", i, n, limit)
		}
	}
	return ids, err
}

// TestInsertRunsChunks crosses every chunk boundary with a tiny parameter limit (two runs and
// four activity rows per statement) around a run that exists, in both placeholder styles.
func TestInsertRunsChunks(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		ph := anyPlaceholders
		if db.Dialect == SQLite {
			ph = sqlitePlaceholders
		}
		runs := hourlyRuns("p", 0, 7, 3)
		// Interval 3 has a run already, with other activities: it must stay as it is.
		pre := runs[3]
		pre.Version, pre.Activities = "v0", map[string]string{"only": "noop"}
		preID, created, err := InsertRun(ctx, db.Reader(), pre, testEpoch)
		if err != nil || !created {
			t.Fatalf("InsertRun = %d, %v, %v", preID, created, err)
		}

		ids, err := insertInTx(t, db, ph, runs, 2*runParams+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 6 {
			t.Fatalf("created %d runs, want 6: %v", len(ids), ids)
		}
		if _, ok := ids[Micros(runs[3].IntervalStart)]; ok {
			t.Fatalf("interval 3 got a second run: %v", ids)
		}
		seen := map[int64]bool{preID: true}
		for i, r := range runs {
			if i == 3 {
				continue
			}
			id, ok := ids[Micros(r.IntervalStart)]
			if !ok || seen[id] {
				t.Fatalf("interval %d: id %d (present %v), ids %v", i, id, ok, ids)
			}
			seen[id] = true
			got, err := GetRun(ctx, db.Reader(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !got.IntervalStart.Equal(r.IntervalStart) || !got.IntervalEnd.Equal(r.IntervalEnd) || got.Pipeline != "p" ||
				got.Seq != 0 || got.Version != "v1" || got.Trigger != TriggerBackfill || got.State != status.RunScheduled ||
				got.MaxActive != 3 || !got.CreatedAt.Equal(testEpoch) {
				t.Fatalf("run %d = %+v, want it to match %+v", id, got, r)
			}
			assertActivities(t, db, id, map[string]string{"act00": "kind0", "act01": "kind1", "act02": "kind0"})
		}
		assertActivities(t, db, preID, map[string]string{"only": "noop"})
		if got, err := GetRun(ctx, db.Reader(), preID); err != nil || got.Version != "v0" {
			t.Fatalf("existing run = %+v, %v: want it unchanged (v0)", got, err)
		}

		// The same runs again create nothing; a reprocess (seq 1) of interval 3 does.
		again, err := insertInTx(t, db, ph, runs, 2*runParams+1)
		if err != nil || len(again) != 0 {
			t.Fatalf("second insert = %v, %v: want nothing created", again, err)
		}
		re := runs[3]
		re.Seq = 1
		reIDs, err := insertInTx(t, db, ph, []NewRun{re}, 2*runParams+1)
		if err != nil || len(reIDs) != 1 {
			t.Fatalf("reprocess = %v, %v: want one run", reIDs, err)
		}
		assertActivities(t, db, reIDs[Micros(re.IntervalStart)], map[string]string{"act00": "kind0", "act01": "kind1", "act02": "kind0"})
		if n := count(t, db, `SELECT COUNT(*) FROM sluice_runs`); n != 8 {
			t.Fatalf("%d runs, want 8", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM sluice_activities`); n != 1+7*3 {
			t.Fatalf("%d activity instances, want %d", n, 1+7*3)
		}
	})
}

func assertActivities(t *testing.T, db *DB, runID int64, want map[string]string) {
	t.Helper()
	acts, err := Activities(context.Background(), db.Reader(), runID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range acts {
		if a.State != status.ActivityPending || a.Attempts != 0 {
			t.Fatalf("run %d activity %s: state %s attempts %d, want pending and none", runID, a.Activity, a.State, a.Attempts)
		}
		got[a.Activity] = a.Kind
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("run %d activities = %v, want %v", runID, got, want)
	}
}

// TestInsertRunsRealLimit crosses the dialect's own chunk boundary: one run more than a
// statement holds, with activity rows past one statement's worth as well, and checks that the
// chunks stay within what each database accepts.
func TestInsertRunsRealLimit(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		if limit := map[Dialect]int{SQLite: 32766, Postgres: 65535}[db.Dialect]; statementParams(db.Dialect) > limit {
			t.Fatalf("statements carry up to %d parameters, over the %s limit of %d", statementParams(db.Dialect), db.Dialect, limit)
		}
		n := statementParams(db.Dialect)/runParams + 1
		runs := hourlyRuns("year", 0, n, 5)
		if n*5 <= statementParams(db.Dialect)/activityParams {
			t.Fatalf("%d activity rows fit one statement: the test does not cross that boundary", n*5)
		}
		var ids map[int64]int64
		err := db.InTx(context.Background(), func(q Q) error {
			var err error
			ids, err = InsertRuns(context.Background(), q, db.Dialect, runs, testEpoch)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != n {
			t.Fatalf("created %d runs, want %d", len(ids), n)
		}
		if got := count(t, db, `SELECT COUNT(*) FROM sluice_runs`); got != n {
			t.Fatalf("%d runs stored, want %d", got, n)
		}
		if got := count(t, db, `SELECT COUNT(*) FROM sluice_activities WHERE state = $1`, status.ActivityPending); got != n*5 {
			t.Fatalf("%d pending activity instances stored, want %d", got, n*5)
		}
		last := runs[n-1]
		assertActivities(t, db, ids[Micros(last.IntervalStart)], last.Activities)
	})
}

// TestInsertRunsConcurrent has several transactions plan the same intervals at once: each
// interval ends with exactly one run, created by exactly one of them.
func TestInsertRunsConcurrent(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		runs := hourlyRuns("p", 0, 40, 2)
		const planners = 4
		results := make([]map[int64]int64, planners)
		errs := make([]error, planners)
		var wg sync.WaitGroup
		for i := range planners {
			wg.Go(func() {
				errs[i] = db.InTx(context.Background(), func(q Q) error {
					var err error
					results[i], err = InsertRuns(context.Background(), q, db.Dialect, runs[i*5:], testEpoch)
					return err
				})
			})
		}
		wg.Wait()
		owner := map[int64]int{}
		for i := range planners {
			if errs[i] != nil {
				t.Fatalf("planner %d: %v", i, errs[i])
			}
			for k := range results[i] {
				if j, dup := owner[k]; dup {
					t.Fatalf("interval %s created by planners %d and %d", FromMicros(k), j, i)
				}
				owner[k] = i
			}
		}
		if len(owner) != len(runs) {
			t.Fatalf("%d intervals created, want %d", len(owner), len(runs))
		}
		if got := count(t, db, `SELECT COUNT(*) FROM sluice_runs`); got != len(runs) {
			t.Fatalf("%d runs stored, want %d", got, len(runs))
		}
		if got := count(t, db, `SELECT COUNT(*) FROM sluice_activities`); got != len(runs)*2 {
			t.Fatalf("%d activity instances stored, want %d", got, len(runs)*2)
		}
	})
}

// TestInsertRunsBadInput refuses calls whose result the interval start would not tell apart,
// and writes nothing for them.
func TestInsertRunsBadInput(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		mixed := append(hourlyRuns("a", 0, 2, 1), hourlyRuns("b", 2, 1, 1)...)
		twice := append(hourlyRuns("a", 0, 2, 1), hourlyRuns("a", 1, 1, 1)...)
		for _, tc := range []struct {
			name  string
			runs  []NewRun
			limit int
			want  string
		}{
			{"mixed pipelines", mixed, statementParams(db.Dialect), "runs of pipelines a and b in one call"},
			{"interval twice", twice, statementParams(db.Dialect), "interval 2026-01-01T01:00:00Z is given twice"},
			{"limit below a row", hourlyRuns("a", 0, 1, 1), runParams - 1, "cannot hold one row"},
		} {
			_, err := insertInTx(t, db, anyPlaceholders, tc.runs, tc.limit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			}
		}
		if got := count(t, db, `SELECT COUNT(*) FROM sluice_runs`); got != 0 {
			t.Fatalf("%d runs stored after refused calls, want 0", got)
		}
		ids, err := insertInTx(t, db, anyPlaceholders, nil, statementParams(db.Dialect))
		if err != nil || len(ids) != 0 {
			t.Fatalf("no runs = %v, %v: want an empty result", ids, err)
		}
	})
}
