package state

import (
	"context"
	"encoding/json"
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

// QueueActivities marks pending activity instances queued with their jobs, in one statement
// over arrays (PostgreSQL) or a JSON array (SQLite), and returns how many it marked.
//
// In SQLite's statements over JSON arrays, a unary + on a state column (+s.state) keeps
// SQLite's planner from walking the state index (every pending instance, for each item)
// instead of looking each item up by its key.
func QueueActivities(ctx context.Context, q Q, d Dialect, qs []Queued) (int, error) {
	if len(qs) == 0 {
		return 0, nil
	}
	var n int64
	var err error
	if d == Postgres {
		runs, acts, jobs := make([]int64, len(qs)), make([]string, len(qs)), make([]int64, len(qs))
		for i, x := range qs {
			runs[i], acts[i], jobs[i] = x.RunID, x.Activity, x.JobID
		}
		n, err = q.Exec(ctx, `UPDATE sluice_activities s SET state = $1, job_id = c.jid FROM unnest($3::bigint[], $4::text[], $5::bigint[]) AS c(rid, act, jid)
			WHERE s.run_id = c.rid AND s.activity = c.act AND s.state = $2`, status.ActivityQueued, status.ActivityPending, runs, acts, jobs)
	} else {
		rows := make([][3]any, len(qs))
		for i, x := range qs {
			rows[i] = [3]any{x.RunID, x.Activity, x.JobID}
		}
		js, jerr := json.Marshal(rows)
		if jerr != nil {
			return 0, fmt.Errorf("queueing %d activities: %w", len(qs), jerr)
		}
		n, err = q.Exec(ctx, `UPDATE sluice_activities AS s SET state = $1, job_id = c.jid
			FROM (SELECT value ->> 0 AS rid, value ->> 1 AS act, value ->> 2 AS jid FROM json_each($3)) AS c
			WHERE s.run_id = c.rid AND s.activity = c.act AND +s.state = $2`, status.ActivityQueued, status.ActivityPending, string(js))
	}
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
