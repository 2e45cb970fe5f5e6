package state

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The web UI's reads (issue 16). Each returns what a page needs for every pipeline it shows in
// one statement, so that a page costs a fixed number of queries however many pipelines there
// are.

// BoardPipeline is a pipeline with its pause and pipeline freshness.
type BoardPipeline struct {
	PipelineRow
	Paused    *status.Pause
	Freshness *int64 // Unix microseconds
}

// BoardPipelines lists the pipelines (one when name is not empty) with their pause and the
// freshness of the pipeline itself, by name.
func BoardPipelines(ctx context.Context, q Q, name string) ([]BoardPipeline, error) {
	query := `SELECT p.name, p.version, p.enabled, p.owner, p.removed, s.paused_by, s.paused_at, f.value
		FROM sluice_pipelines p
		LEFT JOIN sluice_pauses s ON s.pipeline = p.name
		LEFT JOIN sluice_freshness f ON f.pipeline = p.name AND f.subject = $1`
	args := []any{FreshnessPipeline}
	if name != "" {
		query += ` WHERE p.name = $2`
		args = append(args, name)
	}
	rows, err := q.Query(ctx, query+` ORDER BY p.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	defer rows.Close()
	var out []BoardPipeline
	for rows.Next() {
		var b BoardPipeline
		var enabled, removed int
		var by sql.NullString
		var at, fresh sql.NullInt64
		if err := rows.Scan(&b.Name, &b.Version, &enabled, &b.Owner, &removed, &by, &at, &fresh); err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", err)
		}
		b.Enabled, b.Removed = enabled != 0, removed != 0
		if by.Valid {
			b.Paused = &status.Pause{By: by.String, At: FromMicros(at.Int64)}
		}
		if fresh.Valid {
			v := fresh.Int64
			b.Freshness = &v
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	return out, nil
}

// CurrentDocuments returns the documents of the pipelines' newest versions, by pipeline name,
// leaving out the versions in skip (already decoded by the caller).
func CurrentDocuments(ctx context.Context, q Q, skip map[string]bool) (map[string][]byte, error) {
	// Versions are content hashes, the same for every runner: a caller caches them for good.
	rows, err := q.Query(ctx, `SELECT d.pipeline, d.version, d.document FROM sluice_pipelines p
		JOIN sluice_definitions d ON d.pipeline = p.name AND d.version = p.version`)
	if err != nil {
		return nil, fmt.Errorf("reading pipeline definitions: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name, version string
		var doc string
		if err := rows.Scan(&name, &version, &doc); err != nil {
			return nil, fmt.Errorf("reading pipeline definitions: %w", err)
		}
		if !skip[version] {
			out[name] = []byte(doc)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading pipeline definitions: %w", err)
	}
	return out, nil
}

// NewestRunCells returns the newest n runs of every pipeline (of those in pipelines when it is
// not nil), newest first, by pipeline: one statement for them all.
//
// Each pipeline's runs are read by a backward range of the (pipeline, interval_start, seq)
// index, so the cost grows with the pipelines and n, never with the history: PostgreSQL with a
// LATERAL join, SQLite (which has none) by first finding each pipeline's n-th newest interval
// start (MATERIALIZED, and CROSS JOIN keeps it the outer loop). A window function over all
// runs, or a plain join, read every run: a second, and five on PostgreSQL, for 100,000 runs.
func NewestRunCells(ctx context.Context, q Q, d Dialect, pipelines []string, n int) (map[string][]status.RunCell, error) {
	where, args := "", []any{n}
	if pipelines != nil {
		if len(pipelines) == 0 {
			return map[string][]status.RunCell{}, nil
		}
		ph := make([]string, len(pipelines))
		for i, p := range pipelines {
			args = append(args, p)
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		where = ` WHERE p.name IN (` + strings.Join(ph, ", ") + `)`
	}
	query := `SELECT r.id, r.pipeline, r.interval_start, r.interval_end, r.seq, r.state, r.trigger, r.started_at, r.finished_at
		FROM sluice_pipelines p CROSS JOIN LATERAL (
			SELECT * FROM sluice_runs c WHERE c.pipeline = p.name ORDER BY c.interval_start DESC, c.seq DESC LIMIT $1) r` + where
	if d != Postgres {
		args[0] = n - 1 // the offset of the n-th newest
		query = `WITH cut AS MATERIALIZED (
				SELECT p.name AS pipeline, COALESCE(
					(SELECT c.interval_start FROM sluice_runs c WHERE c.pipeline = p.name ORDER BY c.interval_start DESC, c.seq DESC LIMIT 1 OFFSET $1),
					-9223372036854775807) AS from_start
				FROM sluice_pipelines p` + where + `)
			SELECT r.id, r.pipeline, r.interval_start, r.interval_end, r.seq, r.state, r.trigger, r.started_at, r.finished_at
			FROM cut CROSS JOIN sluice_runs r
			WHERE r.pipeline = cut.pipeline AND r.interval_start >= cut.from_start`
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the newest runs: %w", err)
	}
	defer rows.Close()
	out := map[string][]status.RunCell{}
	for rows.Next() {
		var c status.RunCell
		var p string
		var start, end int64
		var started, finished sql.NullInt64
		if err := rows.Scan(&c.ID, &p, &start, &end, &c.Seq, &c.State, &c.Trigger, &started, &finished); err != nil {
			return nil, fmt.Errorf("reading the newest runs: %w", err)
		}
		c.IntervalStart, c.IntervalEnd, c.StartedAt, c.FinishedAt = FromMicros(start), FromMicros(end), nullTime(started), nullTime(finished)
		out[p] = append(out[p], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the newest runs: %w", err)
	}
	// Ordered here rather than by the statement: each pipeline's few runs sort for nothing,
	// and the statement then needs no sort of them all.
	for p, cs := range out {
		slices.SortFunc(cs, func(a, b status.RunCell) int {
			if c := b.IntervalStart.Compare(a.IntervalStart); c != 0 {
				return c
			}
			return b.Seq - a.Seq
		})
		out[p] = cs[:min(len(cs), n)] // SQLite: reprocessed runs of the n-th interval
	}
	return out, nil
}

// GridActivities returns the activity instances of a pipeline's newest n runs, by run id.
func GridActivities(ctx context.Context, q Q, pipeline string, n int) (map[int64]map[string]status.GridCell, error) {
	rows, err := q.Query(ctx, `SELECT a.run_id, a.activity, a.state, a.attempts FROM sluice_activities a
		WHERE a.run_id IN (SELECT id FROM sluice_runs WHERE pipeline = $1 ORDER BY interval_start DESC, seq DESC LIMIT $2)`, pipeline, n)
	if err != nil {
		return nil, fmt.Errorf("reading the grid of %s: %w", pipeline, err)
	}
	defer rows.Close()
	out := map[int64]map[string]status.GridCell{}
	for rows.Next() {
		var id int64
		var act string
		var c status.GridCell
		if err := rows.Scan(&id, &act, &c.State, &c.Attempts); err != nil {
			return nil, fmt.Errorf("reading the grid of %s: %w", pipeline, err)
		}
		if out[id] == nil {
			out[id] = map[string]status.GridCell{}
		}
		out[id][act] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the grid of %s: %w", pipeline, err)
	}
	return out, nil
}

// Versions lists the versions of a pipeline the runner has seen, newest first, at most limit.
func Versions(ctx context.Context, q Q, pipeline string, limit int) ([]status.Version, error) {
	rows, err := q.Query(ctx, `SELECT version, seen_at FROM sluice_definitions WHERE pipeline = $1 ORDER BY seen_at DESC, version LIMIT $2`, pipeline, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the versions of %s: %w", pipeline, err)
	}
	defer rows.Close()
	var out []status.Version
	for rows.Next() {
		var v status.Version
		var at int64
		if err := rows.Scan(&v.Version, &at); err != nil {
			return nil, fmt.Errorf("reading the versions of %s: %w", pipeline, err)
		}
		v.SeenAt = FromMicros(at)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the versions of %s: %w", pipeline, err)
	}
	return out, nil
}

// AttemptLog returns the whole stored log of one attempt.
func AttemptLog(ctx context.Context, q Q, runID int64, activity string, attempt int) (string, error) {
	rows, err := q.Query(ctx, `SELECT COALESCE(log, '') FROM sluice_attempts WHERE run_id = $1 AND activity = $2 AND attempt = $3`, runID, activity, attempt)
	if err != nil {
		return "", fmt.Errorf("reading the log of attempt %d of %s in run %d: %w", attempt, activity, runID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("reading the log of attempt %d of %s in run %d: %w", attempt, activity, runID, err)
		}
		return "", fmt.Errorf("attempt %d of %s in run %d: %w", attempt, activity, runID, ErrNotFound)
	}
	var log string
	if err := rows.Scan(&log); err != nil {
		return "", fmt.Errorf("reading the log of attempt %d of %s in run %d: %w", attempt, activity, runID, err)
	}
	return log, nil
}

// RunningAttempts lists the attempts running now, with their pipeline, by runner.
func RunningAttempts(ctx context.Context, q Q) (map[string][]status.Working, error) {
	rows, err := q.Query(ctx, `SELECT a.runner, a.run_id, r.pipeline, a.activity, a.attempt, a.started_at
		FROM sluice_attempts a JOIN sluice_runs r ON r.id = a.run_id WHERE a.state = $1 ORDER BY a.runner, a.started_at`, status.ActivityRunning)
	if err != nil {
		return nil, fmt.Errorf("reading running attempts: %w", err)
	}
	defer rows.Close()
	out := map[string][]status.Working{}
	for rows.Next() {
		var runner string
		var w status.Working
		var at int64
		if err := rows.Scan(&runner, &w.RunID, &w.Pipeline, &w.Activity, &w.Attempt, &at); err != nil {
			return nil, fmt.Errorf("reading running attempts: %w", err)
		}
		w.Since = FromMicros(at)
		out[runner] = append(out[runner], w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading running attempts: %w", err)
	}
	return out, nil
}

// RecentRunners lists the runners that started an attempt since (Unix microseconds), with
// the start of their newest attempt.
func RecentRunners(ctx context.Context, q Q, since int64) (map[string]int64, error) {
	rows, err := q.Query(ctx, `SELECT runner, MAX(started_at) FROM sluice_attempts WHERE started_at >= $1 GROUP BY runner`, since)
	if err != nil {
		return nil, fmt.Errorf("reading runners: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var at int64
		if err := rows.Scan(&r, &at); err != nil {
			return nil, fmt.Errorf("reading runners: %w", err)
		}
		out[r] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading runners: %w", err)
	}
	return out, nil
}

// RunnersAlive says which of the runner ids hold their liveness lock (PostgreSQL).
func RunnersAlive(ctx context.Context, q Q, ids []string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT objid::bigint FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::bigint = $1
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(uint32(livenessNamespace)))
	if err != nil {
		return nil, fmt.Errorf("listing live runners: %w", err)
	}
	defer rows.Close()
	held := map[int64]bool{}
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("listing live runners: %w", err)
		}
		held[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing live runners: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = held[int64(uint32(runnerKey(id)))]
	}
	return out, nil
}

// RunOwner returns the owner of a run's pipeline ("" when the pipeline is unknown).
func RunOwner(ctx context.Context, q Q, pipeline string) (string, error) {
	rows, err := q.Query(ctx, `SELECT owner FROM sluice_pipelines WHERE name = $1`, pipeline)
	if err != nil {
		return "", fmt.Errorf("reading pipeline %s: %w", pipeline, err)
	}
	defer rows.Close()
	owner := ""
	if rows.Next() {
		if err := rows.Scan(&owner); err != nil {
			return "", fmt.Errorf("reading pipeline %s: %w", pipeline, err)
		}
	}
	return owner, rows.Err()
}

// RunActions lists the actions on one run, newest first, at most limit.
func RunActions(ctx context.Context, q Q, runID int64, limit int) ([]ActionRecord, error) {
	return queryActions(ctx, q, ` WHERE run_id = $1`, runID, limit)
}
