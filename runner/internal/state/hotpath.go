package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The hot path of an activity is two transactions: StartActivity, then (on success)
// SucceedActivity and the queueing of the dependents it made ready. On PostgreSQL each of the
// two is one statement (data-modifying CTEs); SQLite has no such CTEs and runs their parts one
// after another, in the same transaction.

// StartActivity records that an attempt of an unfinished activity instance starts: the instance
// is running with one more attempt, and the attempt is recorded. It returns the instance as
// updated (its Attempts is the attempt's number), or ok = false, changing nothing, when the
// instance is final or missing (the caller then looks at why).
func StartActivity(ctx context.Context, q Q, d Dialect, runID int64, activity, runner string, now time.Time) (row ActivityRow, ok bool, err error) {
	args := []any{status.ActivityRunning, Micros(now), runID, activity,
		status.ActivitySuccess, status.ActivityFailed, status.ActivityUpstreamFailed}
	update := `UPDATE sluice_activities SET state = $1, attempts = attempts + 1, started_at = COALESCE(started_at, $2)
		WHERE run_id = $3 AND activity = $4 AND state NOT IN ($5, $6, $7) RETURNING ` + activityColumns
	var acts []ActivityRow
	if d == Postgres {
		acts, err = queryActivities(ctx, q, `WITH a AS (`+update+`),
			i AS (INSERT INTO sluice_attempts (run_id, activity, attempt, runner, state, started_at) SELECT run_id, activity, attempts, $8, $1, $2 FROM a)
			SELECT `+activityColumns+` FROM a`, append(args, runner)...)
	} else {
		acts, err = queryActivities(ctx, q, update, args...)
	}
	if err != nil {
		return ActivityRow{}, false, fmt.Errorf("starting activity %s of run %d: %w", activity, runID, err)
	}
	if len(acts) == 0 {
		return ActivityRow{}, false, nil
	}
	row = acts[0]
	if d != Postgres {
		if _, err := q.Exec(ctx, `INSERT INTO sluice_attempts (run_id, activity, attempt, runner, state, started_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			runID, activity, row.Attempts, runner, status.ActivityRunning, Micros(now)); err != nil {
			return ActivityRow{}, false, fmt.Errorf("recording attempt %d of activity %s of run %d: %w", row.Attempts, activity, runID, err)
		}
	}
	return row, true, nil
}

// Progress is what a run's row says of its activities after one of them finished: the
// succeeded ones, and how many are final (succeeded, failed or upstream_failed). It is read
// from the row the finishing statement updated, so two activities finishing at once see each
// other (the row lock orders them), with no separate lock or read of the activities.
type Progress struct {
	Succeeded map[string]bool
	Finals    int
}

// SucceedActivity records a successful attempt: the attempt and the instance (with its result
// JSON) succeeded, and the run's row counts it. It returns the run's progress including it.
func SucceedActivity(ctx context.Context, q Q, d Dialect, runID int64, activity string, attempt int, result, log string, now time.Time) (Progress, error) {
	attemptSQL := `UPDATE sluice_attempts SET state = $1, finished_at = $2, error = NULL, log = $3 WHERE run_id = $4 AND activity = $5 AND attempt = $6`
	activitySQL := `UPDATE sluice_activities SET state = $1, result = COALESCE($7, result), error = NULL, finished_at = $2 WHERE run_id = $4 AND activity = $5`
	runSQL := `UPDATE sluice_runs SET succeeded = succeeded || $5 || ' ', finals = finals + 1 WHERE id = $4 RETURNING succeeded, finals`
	args := []any{status.ActivitySuccess, Micros(now), log, runID, activity, attempt, nullString(result)}
	var rows Rows
	var err error
	if d == Postgres {
		rows, err = q.Query(ctx, `WITH t AS (`+attemptSQL+`), a AS (`+activitySQL+`) `+runSQL, args...)
	} else {
		// SQLite numbers its parameters: each statement gets exactly the ones it uses.
		if _, err = q.Exec(ctx, `UPDATE sluice_attempts SET state = $1, finished_at = $2, error = NULL, log = $3 WHERE run_id = $4 AND activity = $5 AND attempt = $6`,
			args[:6]...); err == nil {
			_, err = q.Exec(ctx, `UPDATE sluice_activities SET state = $1, result = COALESCE($2, result), error = NULL, finished_at = $3 WHERE run_id = $4 AND activity = $5`,
				status.ActivitySuccess, nullString(result), Micros(now), runID, activity)
		}
		if err == nil {
			rows, err = q.Query(ctx, `UPDATE sluice_runs SET succeeded = succeeded || $1 || ' ', finals = finals + 1 WHERE id = $2 RETURNING succeeded, finals`, activity, runID)
		}
	}
	if err != nil {
		return Progress{}, fmt.Errorf("recording the success of activity %s of run %d (attempt %d): %w", activity, runID, attempt, err)
	}
	defer rows.Close()
	p := Progress{Succeeded: map[string]bool{}}
	found := false
	for rows.Next() {
		var succeeded string
		if err := rows.Scan(&succeeded, &p.Finals); err != nil {
			return Progress{}, fmt.Errorf("recording the success of activity %s of run %d: %w", activity, runID, err)
		}
		for _, id := range strings.Fields(succeeded) {
			p.Succeeded[id] = true
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return Progress{}, fmt.Errorf("recording the success of activity %s of run %d: %w", activity, runID, err)
	}
	if !found {
		return Progress{}, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	return p, nil
}

// AddFinals counts n more final activities (a failure and the dependents it failed) on the
// run's row, so that the activity that finishes last, whichever path it takes, sees the run
// complete.
func AddFinals(ctx context.Context, q Q, runID int64, n int) error {
	if _, err := q.Exec(ctx, `UPDATE sluice_runs SET finals = finals + $1 WHERE id = $2`, n, runID); err != nil {
		return fmt.Errorf("run %d: %w", runID, err)
	}
	return nil
}
