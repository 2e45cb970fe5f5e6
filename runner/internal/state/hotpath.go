package state

import (
	"context"
	"fmt"
	"sort"
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
//
// The job being worked (jobID) is recorded on the instance here: the transaction that queued
// it marked it queued without waiting for River's id.
func StartActivity(ctx context.Context, q Q, d Dialect, runID int64, activity, runner string, jobID int64, now time.Time) (row ActivityRow, ok bool, err error) {
	args := []any{status.ActivityRunning, Micros(now), runID, activity,
		status.ActivitySuccess, status.ActivityFailed, status.ActivityUpstreamFailed, jobID}
	update := `UPDATE sluice_activities SET state = $1, attempts = attempts + 1, started_at = COALESCE(started_at, $2), job_id = $8
		WHERE run_id = $3 AND activity = $4 AND state NOT IN ($5, $6, $7) RETURNING ` + activityColumns
	var acts []ActivityRow
	if d == Postgres {
		acts, err = queryActivities(ctx, q, `WITH a AS (`+update+`),
			i AS (INSERT INTO sluice_attempts (run_id, activity, attempt, runner, state, started_at) SELECT run_id, activity, attempts, $9, $1, $2 FROM a)
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
// succeeded ones, and how many are final (succeeded, failed or upstream_failed); and the
// dependents the success made ready, now marked queued. It is read from the row the finishing
// statement updated, so two activities finishing at once see each other (the row lock orders
// them), with no separate lock or read of the activities.
type Progress struct {
	Succeeded map[string]bool
	Finals    int
	Queued    []string
}

// SucceedActivity records a successful attempt: the attempt and the instance (with its result
// JSON) succeeded, and the run's row counts it. Of the candidates (activity → the activities it
// depends on; those that depend on this one), the pending ones whose dependencies have now all
// succeeded are marked queued: the caller inserts their jobs in the same transaction. It
// returns the run's progress including this success.
func SucceedActivity(ctx context.Context, q Q, d Dialect, runID int64, activity string, attempt int, result, log string, now time.Time, candidates map[string][]string) (Progress, error) {
	p := Progress{Succeeded: map[string]bool{}}
	fail := func(err error) (Progress, error) {
		return Progress{}, fmt.Errorf("recording the success of activity %s of run %d (attempt %d): %w", activity, runID, attempt, err)
	}
	names := sortedKeys(candidates)
	needs := make([]string, len(names))
	for i, n := range names {
		needs[i] = strings.Join(candidates[n], " ")
	}
	var rows Rows
	var err error
	if d == Postgres {
		// One statement: the attempt, the instance, the run's row (waiting for its lock, then
		// seeing the newest version), and the dependents found ready from that row.
		rows, err = q.Query(ctx, `WITH t AS (
				UPDATE sluice_attempts SET state = $1, finished_at = $2, error = NULL, log = $3 WHERE run_id = $4 AND activity = $5 AND attempt = $6),
			a AS (UPDATE sluice_activities SET state = $1, result = COALESCE($7, result), error = NULL, finished_at = $2 WHERE run_id = $4 AND activity = $5),
			r AS (UPDATE sluice_runs SET succeeded = succeeded || $5 || ' ', finals = finals + 1 WHERE id = $4 RETURNING succeeded, finals),
			q AS (UPDATE sluice_activities s SET state = $8 FROM r, unnest($9::text[], $10::text[]) AS c(act, needs)
				WHERE s.run_id = $4 AND s.activity = c.act AND s.state = $11
				AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(c.needs, ' ')) AS n(dep) WHERE position(' ' || n.dep || ' ' IN ' ' || r.succeeded) = 0)
				RETURNING s.activity)
			SELECT r.succeeded, r.finals, COALESCE((SELECT string_agg(activity, ' ') FROM q), '') FROM r`,
			status.ActivitySuccess, Micros(now), log, runID, activity, attempt, nullString(result),
			status.ActivityQueued, names, needs, status.ActivityPending)
		if err != nil {
			return fail(err)
		}
		defer rows.Close()
		found := false
		for rows.Next() {
			var succeeded, queued string
			if err := rows.Scan(&succeeded, &p.Finals, &queued); err != nil {
				return fail(err)
			}
			for _, id := range strings.Fields(succeeded) {
				p.Succeeded[id] = true
			}
			p.Queued = strings.Fields(queued)
			found = true
		}
		if err := rows.Err(); err != nil {
			return fail(err)
		}
		if !found {
			return fail(fmt.Errorf("run %d: %w", runID, ErrNotFound))
		}
		return p, nil
	}
	// SQLite: the same steps one after another (the transaction holds the write lock).
	if _, err := q.Exec(ctx, `UPDATE sluice_attempts SET state = $1, finished_at = $2, error = NULL, log = $3 WHERE run_id = $4 AND activity = $5 AND attempt = $6`,
		status.ActivitySuccess, Micros(now), log, runID, activity, attempt); err != nil {
		return fail(err)
	}
	if _, err := q.Exec(ctx, `UPDATE sluice_activities SET state = $1, result = COALESCE($2, result), error = NULL, finished_at = $3 WHERE run_id = $4 AND activity = $5`,
		status.ActivitySuccess, nullString(result), Micros(now), runID, activity); err != nil {
		return fail(err)
	}
	rows, err = q.Query(ctx, `UPDATE sluice_runs SET succeeded = succeeded || $1 || ' ', finals = finals + 1 WHERE id = $2 RETURNING succeeded, finals`, activity, runID)
	if err != nil {
		return fail(err)
	}
	found := false
	for rows.Next() {
		var succeeded string
		if err := rows.Scan(&succeeded, &p.Finals); err != nil {
			rows.Close()
			return fail(err)
		}
		for _, id := range strings.Fields(succeeded) {
			p.Succeeded[id] = true
		}
		found = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if !found {
		return fail(fmt.Errorf("run %d: %w", runID, ErrNotFound))
	}
	var ready []string
	for _, n := range names {
		ok := true
		for _, dep := range candidates[n] {
			ok = ok && p.Succeeded[dep]
		}
		if ok {
			ready = append(ready, n)
		}
	}
	if len(ready) == 0 {
		return p, nil
	}
	var sb strings.Builder
	args := []any{status.ActivityQueued, runID, status.ActivityPending}
	for i, n := range ready {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "$%d", len(args)+1)
		args = append(args, n)
	}
	rows, err = q.Query(ctx, `UPDATE sluice_activities SET state = $1 WHERE run_id = $2 AND state = $3 AND activity IN (`+sb.String()+`) RETURNING activity`, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fail(err)
		}
		p.Queued = append(p.Queued, id)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	sort.Strings(p.Queued)
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
