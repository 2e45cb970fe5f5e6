package state

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// ActionRecord is one action asked of the runner, as the audit log keeps it.
type ActionRecord struct {
	ID       int64
	At       time.Time
	Actor    string
	Action   string
	Pipeline string
	RunID    int64 // 0 when the action is not about a run
	Activity string
	Detail   string
	Outcome  string // ok or error
	Error    string
}

// RecordAction appends an action to the audit log and returns its id.
func RecordAction(ctx context.Context, q Q, a ActionRecord) (int64, error) {
	var run sql.NullInt64
	if a.RunID != 0 {
		run = sql.NullInt64{Int64: a.RunID, Valid: true}
	}
	rows, err := q.Query(ctx, `INSERT INTO sluice_actions (at, actor, action, pipeline, run_id, activity, detail, outcome, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		Micros(a.At), a.Actor, a.Action, a.Pipeline, run, nullString(a.Activity), a.Detail, a.Outcome, nullString(a.Error))
	if err != nil {
		return 0, fmt.Errorf("recording action %s of %s by %s: %w", a.Action, a.Pipeline, a.Actor, err)
	}
	defer rows.Close()
	var id int64
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return 0, fmt.Errorf("recording action %s of %s: %w", a.Action, a.Pipeline, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("recording action %s of %s: %w", a.Action, a.Pipeline, err)
	}
	return id, nil
}

// Actions lists the newest actions, newest first, at most limit; of one pipeline when pipeline
// is not empty.
func Actions(ctx context.Context, q Q, pipeline string, limit int) ([]ActionRecord, error) {
	if pipeline == "" {
		return queryActions(ctx, q, "", limit)
	}
	return queryActions(ctx, q, ` WHERE pipeline = $1`, pipeline, limit)
}

// queryActions reads the log where where (with its one argument, if any) holds, newest first.
func queryActions(ctx context.Context, q Q, where string, args ...any) ([]ActionRecord, error) {
	query := `SELECT id, at, actor, action, pipeline, run_id, activity, detail, outcome, error FROM sluice_actions` + where
	rows, err := q.Query(ctx, query+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("reading the action log: %w", err)
	}
	defer rows.Close()
	var out []ActionRecord
	for rows.Next() {
		var a ActionRecord
		var at int64
		var run sql.NullInt64
		var act, errText sql.NullString
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Pipeline, &run, &act, &a.Detail, &a.Outcome, &errText); err != nil {
			return nil, fmt.Errorf("reading the action log: %w", err)
		}
		a.At, a.RunID, a.Activity, a.Error = FromMicros(at), run.Int64, act.String, errText.String
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the action log: %w", err)
	}
	return out, nil
}

// SetPaused pauses (by whom, when) or unpauses a pipeline. It returns whether that changed
// anything.
func SetPaused(ctx context.Context, q Q, pipeline string, paused bool, by string, now time.Time) (bool, error) {
	var n int64
	var err error
	if paused {
		n, err = q.Exec(ctx, `INSERT INTO sluice_pauses (pipeline, paused_by, paused_at) VALUES ($1, $2, $3) ON CONFLICT (pipeline) DO NOTHING`,
			pipeline, by, Micros(now))
	} else {
		n, err = q.Exec(ctx, `DELETE FROM sluice_pauses WHERE pipeline = $1`, pipeline)
	}
	if err != nil {
		return false, fmt.Errorf("pausing %s: %w", pipeline, err)
	}
	return n > 0, nil
}

// PausedPipelines returns the paused pipelines, by name.
func PausedPipelines(ctx context.Context, q Q) (map[string]status.Pause, error) {
	rows, err := q.Query(ctx, `SELECT pipeline, paused_by, paused_at FROM sluice_pauses`)
	if err != nil {
		return nil, fmt.Errorf("reading paused pipelines: %w", err)
	}
	defer rows.Close()
	out := map[string]status.Pause{}
	for rows.Next() {
		var name string
		var p status.Pause
		var at int64
		if err := rows.Scan(&name, &p.By, &at); err != nil {
			return nil, fmt.Errorf("reading paused pipelines: %w", err)
		}
		p.At = FromMicros(at)
		out[name] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading paused pipelines: %w", err)
	}
	return out, nil
}

// ClearActivities makes activity instances of a run pending again, as if they had not run:
// their result and error go, their attempts stay (attempt_base remembers how many there were,
// so that retries count afresh), and River's completed jobs of them lose their unique key, so
// that a new job for the same instance is not taken for a duplicate of the old one.
func ClearActivities(ctx context.Context, q Q, runID int64, activities []string) error {
	if len(activities) == 0 {
		return nil
	}
	args := []any{runID}
	ph := make([]string, len(activities))
	for i, a := range activities {
		args = append(args, a)
		ph[i] = fmt.Sprintf("$%d", i+2)
	}
	in := strings.Join(ph, ", ")
	if _, err := q.Exec(ctx, `UPDATE river_job SET unique_key = NULL WHERE id IN (
		SELECT job_id FROM sluice_activities WHERE run_id = $1 AND activity IN (`+in+`) AND job_id IS NOT NULL)`, args...); err != nil {
		return fmt.Errorf("releasing the jobs of run %d: %w", runID, err)
	}
	args = append(args, status.ActivityPending)
	if _, err := q.Exec(ctx, fmt.Sprintf(`UPDATE sluice_activities SET state = $%d, attempt_base = attempts, pokes = 0, job_id = NULL,
		wait_started = NULL, started_at = NULL, finished_at = NULL, result = NULL, error = NULL
		WHERE run_id = $1 AND activity IN (`+in+`)`, len(args)), args...); err != nil {
		return fmt.Errorf("clearing activities of run %d: %w", runID, err)
	}
	return nil
}

// ReopenRun makes a finished run running again (its activities were cleared), and recounts
// the progress the run's row keeps (succeeded, finals: see Progress) from its activities, so
// that the cleared ones no longer count as done.
func ReopenRun(ctx context.Context, q Q, runID int64) error {
	rows, err := q.Query(ctx, `SELECT activity, state FROM sluice_activities WHERE run_id = $1 ORDER BY activity`, runID)
	if err != nil {
		return fmt.Errorf("reopening run %d: %w", runID, err)
	}
	var succeeded strings.Builder
	finals := 0
	for rows.Next() {
		var act, st string
		if err := rows.Scan(&act, &st); err != nil {
			rows.Close()
			return fmt.Errorf("reopening run %d: %w", runID, err)
		}
		switch st {
		case status.ActivitySuccess:
			succeeded.WriteString(act + " ")
			finals++
		case status.ActivityFailed, status.ActivityUpstreamFailed:
			finals++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reopening run %d: %w", runID, err)
	}
	if _, err := q.Exec(ctx, `UPDATE sluice_runs SET state = $1, finished_at = NULL, succeeded = $2, finals = $3 WHERE id = $4`,
		status.RunRunning, succeeded.String(), finals, runID); err != nil {
		return fmt.Errorf("reopening run %d: %w", runID, err)
	}
	return nil
}

// FailRunningAttempts ends the running attempts of a run as failed with reason.
func FailRunningAttempts(ctx context.Context, q Q, runID int64, reason string, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE sluice_attempts SET state = $1, finished_at = $2, error = $3 WHERE run_id = $4 AND state = $5`,
		status.ActivityFailed, Micros(now), reason, runID, status.ActivityRunning); err != nil {
		return fmt.Errorf("failing the running attempts of run %d: %w", runID, err)
	}
	return nil
}
