package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// StartRuns moves scheduled runs to running in one statement and returns the ids it moved:
// a run another runner started first is left out.
func StartRuns(ctx context.Context, q Q, d Dialect, ids []int64, now time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ph := phFor(d)
	var sb strings.Builder
	sb.WriteString(`UPDATE sluice_runs SET state = `)
	args := []any{status.RunRunning, Micros(now), status.RunScheduled}
	ph.one(&sb, 0)
	sb.WriteString(`, started_at = `)
	ph.one(&sb, 1)
	sb.WriteString(` WHERE state = `)
	ph.one(&sb, 2)
	// Ids are integers the database gave: written as literals, they need no parameter.
	sb.WriteString(` AND id IN (`)
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(id, 10))
	}
	sb.WriteString(`) RETURNING id`)
	rows, err := q.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("starting %d runs: %w", len(ids), err)
	}
	defer rows.Close()
	var started []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("starting %d runs: %w", len(ids), err)
		}
		started = append(started, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("starting %d runs: %w", len(ids), err)
	}
	return started, nil
}

// Queued is an activity instance whose job was just inserted.
type Queued struct {
	RunID    int64
	Activity string
	JobID    int64
}

// queuedParams is the number of bound parameters per Queued row.
const queuedParams = 3

// QueueActivities marks pending activity instances queued with their jobs, a statement per
// chunk instead of one per instance, and returns how many it marked.
func QueueActivities(ctx context.Context, q Q, d Dialect, qs []Queued) (int, error) {
	return queueActivities(ctx, q, phFor(d), qs, statementParams(d)/queuedParams-1)
}

// queueActivities is QueueActivities with perStmt rows per statement, so that tests can cross
// chunk boundaries with few rows.
func queueActivities(ctx context.Context, q Q, ph placeholders, qs []Queued, perStmt int) (int, error) {
	total := 0
	for from := 0; from < len(qs); from += perStmt {
		n, err := queueChunk(ctx, q, ph, qs[from:min(from+perStmt, len(qs))])
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// queueChunk is one statement of QueueActivities. The CTE of VALUES and the row-value IN are
// what PostgreSQL and SQLite both accept; CAST gives PostgreSQL the types it cannot infer.
func queueChunk(ctx context.Context, q Q, ph placeholders, qs []Queued) (int, error) {
	var sb strings.Builder
	args := make([]any, 0, len(qs)*queuedParams+2)
	sb.WriteString(`WITH v(run_id, activity, job) AS (VALUES `)
	for i, x := range qs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`(CAST(`)
		ph.one(&sb, len(args))
		sb.WriteString(` AS BIGINT), CAST(`)
		ph.one(&sb, len(args)+1)
		sb.WriteString(` AS TEXT), CAST(`)
		ph.one(&sb, len(args)+2)
		sb.WriteString(` AS BIGINT))`)
		args = append(args, x.RunID, x.Activity, x.JobID)
	}
	sb.WriteString(`) UPDATE sluice_activities SET state = `)
	ph.one(&sb, len(args))
	sb.WriteString(`, job_id = (SELECT v.job FROM v WHERE v.run_id = sluice_activities.run_id AND v.activity = sluice_activities.activity) WHERE state = `)
	ph.one(&sb, len(args)+1)
	sb.WriteString(` AND (run_id, activity) IN (SELECT v.run_id, v.activity FROM v)`)
	args = append(args, status.ActivityQueued, status.ActivityPending)
	n, err := q.Exec(ctx, sb.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("queueing %d activities (first: run %d, %s): %w", len(qs), qs[0].RunID, qs[0].Activity, err)
	}
	return int(n), nil
}

func phFor(d Dialect) placeholders {
	if d == SQLite {
		return sqlitePlaceholders
	}
	return anyPlaceholders
}

// one writes the single placeholder after used ones: $3 or ?.
func (ph placeholders) one(sb *strings.Builder, used int) {
	if ph == sqlitePlaceholders {
		sb.WriteByte('?')
		return
	}
	sb.WriteByte('$')
	sb.WriteString(strconv.Itoa(used + 1))
}
