package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// emrUsageMigration is the table of what the EMR clusters a runner launched used (issue 17):
// one row per attempt of an emr_step activity on a template. Money is in micro-dollars, exact
// on both databases; NULL when a price was missing.
var emrUsageMigration = []string{
	`CREATE TABLE sluice_emr_usage (
		run_id BIGINT NOT NULL,
		pipeline TEXT NOT NULL,
		activity TEXT NOT NULL,
		attempt INTEGER NOT NULL,
		mode TEXT NOT NULL,
		cluster_id TEXT NOT NULL,
		template TEXT NOT NULL,
		started_at BIGINT NOT NULL,
		ended_at BIGINT NOT NULL,
		node_seconds BIGINT NOT NULL,
		normalized_instance_hours BIGINT,
		measured_micro_usd BIGINT,
		estimated_micro_usd BIGINT,
		unestimated TEXT NOT NULL,
		PRIMARY KEY (run_id, activity, attempt))`,
	`CREATE INDEX sluice_emr_usage_pipeline ON sluice_emr_usage (pipeline, ended_at)`,
}

// EMRUsage is what one EMR cluster (or, in local mode, the steps standing in for it) used.
type EMRUsage struct {
	RunID     int64
	Pipeline  string
	Activity  string
	Attempt   int
	Mode      string // aws or local
	ClusterID string // "" in local mode
	Template  string
	Started   time.Time
	Ended     time.Time
	// NodeSeconds is the sum over the cluster's instances of the seconds each ran.
	NodeSeconds int64
	// NormalizedInstanceHours is EMR's figure; nil in local mode.
	NormalizedInstanceHours *int64
	// MeasuredMicroUSD is the usage priced with the runner's price table; nil when a price is
	// missing (Unestimated says which).
	MeasuredMicroUSD *int64
	// EstimatedMicroUSD is the plan's estimate of the activity (template × expected_duration);
	// nil without expected_duration or a price.
	EstimatedMicroUSD *int64
	Unestimated       string
}

// RecordEMRUsage stores u; recording the same attempt again replaces the row (a retried
// recording after a crash counts once).
func RecordEMRUsage(ctx context.Context, q Q, u EMRUsage) error {
	_, err := q.Exec(ctx, `INSERT INTO sluice_emr_usage (run_id, pipeline, activity, attempt, mode, cluster_id, template, started_at, ended_at,
			node_seconds, normalized_instance_hours, measured_micro_usd, estimated_micro_usd, unestimated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (run_id, activity, attempt) DO UPDATE SET mode = excluded.mode, cluster_id = excluded.cluster_id, template = excluded.template,
			started_at = excluded.started_at, ended_at = excluded.ended_at, node_seconds = excluded.node_seconds,
			normalized_instance_hours = excluded.normalized_instance_hours, measured_micro_usd = excluded.measured_micro_usd,
			estimated_micro_usd = excluded.estimated_micro_usd, unestimated = excluded.unestimated`,
		u.RunID, u.Pipeline, u.Activity, u.Attempt, u.Mode, u.ClusterID, u.Template, Micros(u.Started), Micros(u.Ended),
		u.NodeSeconds, u.NormalizedInstanceHours, u.MeasuredMicroUSD, u.EstimatedMicroUSD, u.Unestimated)
	if err != nil {
		return fmt.Errorf("recording the EMR usage of pipeline %q run %d activity %q attempt %d: %w", u.Pipeline, u.RunID, u.Activity, u.Attempt, err)
	}
	return nil
}

// EMRUsageOfRuns returns the usage rows of a pipeline's runs, by run id, oldest attempt first:
// one query for the ids' range, whatever their number.
func EMRUsageOfRuns(ctx context.Context, q Q, pipeline string, runIDs []int64) (map[int64][]EMRUsage, error) {
	out := map[int64][]EMRUsage{}
	if len(runIDs) == 0 {
		return out, nil
	}
	want := map[int64]bool{}
	lo, hi := runIDs[0], runIDs[0]
	for _, id := range runIDs {
		want[id] = true
		lo, hi = min(lo, id), max(hi, id)
	}
	rows, err := scanUsage(ctx, q, `WHERE pipeline = $1 AND run_id BETWEEN $2 AND $3 ORDER BY run_id, activity, attempt`, pipeline, lo, hi)
	if err != nil {
		return nil, err
	}
	for _, u := range rows {
		if want[u.RunID] {
			out[u.RunID] = append(out[u.RunID], u)
		}
	}
	return out, nil
}

// EMRUsageSince returns a pipeline's usage rows of clusters that ended at or after since.
func EMRUsageSince(ctx context.Context, q Q, pipeline string, since time.Time) ([]EMRUsage, error) {
	return scanUsage(ctx, q, `WHERE pipeline = $1 AND ended_at >= $2 ORDER BY ended_at`, pipeline, Micros(since))
}

func scanUsage(ctx context.Context, q Q, where string, args ...any) ([]EMRUsage, error) {
	rows, err := q.Query(ctx, `SELECT run_id, pipeline, activity, attempt, mode, cluster_id, template, started_at, ended_at,
			node_seconds, normalized_instance_hours, measured_micro_usd, estimated_micro_usd, unestimated
		FROM sluice_emr_usage `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading EMR usage: %w", err)
	}
	defer rows.Close()
	var out []EMRUsage
	for rows.Next() {
		var u EMRUsage
		var started, ended int64
		var nih, measured, estimated sql.NullInt64
		if err := rows.Scan(&u.RunID, &u.Pipeline, &u.Activity, &u.Attempt, &u.Mode, &u.ClusterID, &u.Template, &started, &ended,
			&u.NodeSeconds, &nih, &measured, &estimated, &u.Unestimated); err != nil {
			return nil, fmt.Errorf("reading EMR usage: %w", err)
		}
		u.Started, u.Ended = FromMicros(started), FromMicros(ended)
		u.NormalizedInstanceHours, u.MeasuredMicroUSD, u.EstimatedMicroUSD = nullInt(nih), nullInt(measured), nullInt(estimated)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading EMR usage: %w", err)
	}
	return out, nil
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}
