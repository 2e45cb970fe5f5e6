package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Subscriber shard states, as reported by the subscriber holding the shard's lease.
const (
	// ShardReading: the subscriber reads and applies the shard.
	ShardReading = "reading"
	// ShardRetrying: a transient error (the replica or Kinesis unreachable); it retries with
	// backoff from the replica's checkpoint.
	ShardRetrying = "retrying"
	// ShardStopped: a poison record under poison = "stop": nothing after it is applied.
	ShardStopped = "stopped"
	// ShardFinished: a closed shard consumed to its end; its children may be read.
	ShardFinished = "finished"
)

// ShardKey names one consumer: a replication's shard as applied to one replica.
type ShardKey struct {
	Replication, Replica, Shard string
}

func (k ShardKey) String() string {
	return "replication " + k.Replication + ", replica " + k.Replica + ", shard " + k.Shard
}

// AcquireShardLease takes the lease of k for owner until until, when nobody holds it, owner
// already holds it, or its holder let it lapse (a dead runner) before now. It reports whether
// owner holds the lease afterwards. One statement, so two runners racing for a shard cannot
// both win: the row's lock orders them and the second sees the first's lease.
func AcquireShardLease(ctx context.Context, q Q, k ShardKey, owner string, now, until time.Time) (bool, error) {
	n, err := q.Exec(ctx, `INSERT INTO sluice_subscriber_shards (replication, replica, shard, owner, lease_until, state, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (replication, replica, shard) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until, updated_at = excluded.updated_at
		WHERE sluice_subscriber_shards.owner = excluded.owner OR sluice_subscriber_shards.lease_until < $7`,
		k.Replication, k.Replica, k.Shard, owner, Micros(until), ShardReading, Micros(now))
	if err != nil {
		return false, fmt.Errorf("taking the lease of %s: %w", k, err)
	}
	return n == 1, nil
}

// RenewShardLease extends owner's lease of k to until; false means owner no longer holds it
// (it lapsed and another runner took it) and must stop consuming the shard.
func RenewShardLease(ctx context.Context, q Q, k ShardKey, owner string, until time.Time) (bool, error) {
	n, err := q.Exec(ctx, `UPDATE sluice_subscriber_shards SET lease_until = $1
		WHERE replication = $2 AND replica = $3 AND shard = $4 AND owner = $5`,
		Micros(until), k.Replication, k.Replica, k.Shard, owner)
	if err != nil {
		return false, fmt.Errorf("renewing the lease of %s: %w", k, err)
	}
	return n == 1, nil
}

// ReleaseShardLease gives up owner's lease of k at once (a runner stopping cleanly), so another
// runner need not wait for it to lapse.
func ReleaseShardLease(ctx context.Context, q Q, k ShardKey, owner string) error {
	_, err := q.Exec(ctx, `UPDATE sluice_subscriber_shards SET lease_until = 0
		WHERE replication = $1 AND replica = $2 AND shard = $3 AND owner = $4`,
		k.Replication, k.Replica, k.Shard, owner)
	if err != nil {
		return fmt.Errorf("releasing the lease of %s: %w", k, err)
	}
	return nil
}

// SeeRunner records that owner serves replica until until (renewed every tick).
func SeeRunner(ctx context.Context, q Q, owner, replica string, until time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO sluice_subscriber_runners (owner, replica, seen_until) VALUES ($1, $2, $3)
		ON CONFLICT (owner, replica) DO UPDATE SET seen_until = excluded.seen_until`, owner, replica, Micros(until))
	if err != nil {
		return fmt.Errorf("recording runner %s serving replica %s: %w", owner, replica, err)
	}
	return nil
}

// ForgetRunner removes owner's records (a runner stopping cleanly), and those of runners gone
// for an hour.
func ForgetRunner(ctx context.Context, q Q, owner string, now time.Time) error {
	_, err := q.Exec(ctx, `DELETE FROM sluice_subscriber_runners WHERE owner = $1 OR seen_until < $2`, owner, Micros(now.Add(-time.Hour)))
	if err != nil {
		return fmt.Errorf("forgetting runner %s: %w", owner, err)
	}
	return nil
}

// LiveRunners counts the runners serving replica whose last record is still live at now.
func LiveRunners(ctx context.Context, q Q, replica string, now time.Time) (int, error) {
	rows, err := q.Query(ctx, `SELECT COUNT(*) FROM sluice_subscriber_runners WHERE replica = $1 AND seen_until > $2`, replica, Micros(now))
	if err != nil {
		return 0, fmt.Errorf("counting the runners of replica %s: %w", replica, err)
	}
	defer rows.Close()
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("counting the runners of replica %s: %w", replica, err)
		}
	}
	return n, rows.Err()
}

// ReportReplicaError records err on the shards of (replication, replica) that no consumer
// reports on now (their lease lapsed, or owner holds it), unless finished: the runner cannot
// reach the replica to start their consumers.
//
// shards are the stream's shards when known: one the replica has no row for yet (no consumer
// ever started on it, as when the replica is down from the first start) gets one, with a
// lapsed lease, so that status shows the replica failing rather than nothing at all.
func ReportReplicaError(ctx context.Context, q Q, replication, replica, owner, msg string, shards []string, now time.Time) error {
	for _, sh := range shards {
		if _, err := q.Exec(ctx, `INSERT INTO sluice_subscriber_shards (replication, replica, shard, owner, lease_until, state, last_error, updated_at)
			VALUES ($1, $2, $3, $4, 0, $5, $6, $7) ON CONFLICT DO NOTHING`,
			replication, replica, sh, owner, ShardRetrying, msg, Micros(now)); err != nil {
			return fmt.Errorf("recording the error of replication %s, replica %s: %w", replication, replica, err)
		}
	}
	// The lag is unknown while nothing reads: a stale value would look current.
	_, err := q.Exec(ctx, `UPDATE sluice_subscriber_shards SET state = $1, last_error = $2, updated_at = $3,
		millis_behind = NULL, records_behind = NULL
		WHERE replication = $4 AND replica = $5 AND state <> $6 AND (lease_until < $3 OR owner = $7)`,
		ShardRetrying, msg, Micros(now), replication, replica, ShardFinished, owner)
	if err != nil {
		return fmt.Errorf("recording the error of replication %s, replica %s: %w", replication, replica, err)
	}
	return nil
}

// ClearReplicaError removes what ReportReplicaError put in place of consumers that never
// started: the rows of (replication, replica) with no lease, nothing applied and the error
// still on them. Called once the runner serves the replica again: the shards it reads now have
// consumers reporting, and the rest (a reshard's parents it had already finished, say) are not
// failing.
func ClearReplicaError(ctx context.Context, q Q, replication, replica string) error {
	_, err := q.Exec(ctx, `DELETE FROM sluice_subscriber_shards WHERE replication = $1 AND replica = $2
		AND lease_until = 0 AND sequence IS NULL AND applied_records = 0 AND state = $3`,
		replication, replica, ShardRetrying)
	if err != nil {
		return fmt.Errorf("clearing the error of replication %s, replica %s: %w", replication, replica, err)
	}
	return nil
}

// ShardProgress is what a subscriber reports about its shard.
type ShardProgress struct {
	State string
	// Sequence is the sequence number of the last record applied (checkpointed) in the replica.
	Sequence string
	// Applied is how many records the replica has checkpointed of the shard (applied or
	// dead-lettered), as its checkpoint counts them.
	Applied int64
	// MillisBehind is Kinesis's MillisBehindLatest of the last read; nil when unknown.
	MillisBehind *int64
	// RecordsBehind is how many records the subscriber has read and not yet applied: all the
	// records after the checkpoint when MillisBehind is 0, a lower bound otherwise; nil when
	// unknown (not reading).
	RecordsBehind *int64
	// LastApplied is when a batch was last committed; zero when none yet.
	LastApplied time.Time
	// Error is the last error, "" once the shard is well again.
	Error string
}

// ReportShard records owner's progress on k. It changes nothing when owner no longer holds the
// lease: the new holder reports instead.
func ReportShard(ctx context.Context, q Q, k ShardKey, owner string, p ShardProgress, now time.Time) error {
	var last sql.NullInt64
	if !p.LastApplied.IsZero() {
		last = sql.NullInt64{Int64: Micros(p.LastApplied), Valid: true}
	}
	var behind sql.NullInt64
	if p.MillisBehind != nil {
		behind = sql.NullInt64{Int64: *p.MillisBehind, Valid: true}
	}
	var records sql.NullInt64
	if p.RecordsBehind != nil {
		records = sql.NullInt64{Int64: *p.RecordsBehind, Valid: true}
	}
	_, err := q.Exec(ctx, `UPDATE sluice_subscriber_shards SET state = $1, sequence = $2, applied_records = $3,
		millis_behind = $4, last_applied_at = COALESCE($5, last_applied_at), last_error = $6, updated_at = $7, records_behind = $8
		WHERE replication = $9 AND replica = $10 AND shard = $11 AND owner = $12`,
		p.State, nullString(p.Sequence), p.Applied, behind, last, nullString(p.Error), Micros(now), records,
		k.Replication, k.Replica, k.Shard, owner)
	if err != nil {
		return fmt.Errorf("reporting the progress of %s: %w", k, err)
	}
	return nil
}

// SubscriberShard is one row of status.
type SubscriberShard struct {
	ShardKey
	Owner        string
	LeaseUntil   time.Time
	State        string
	Sequence     string
	Applied      int64
	MillisBehind *int64
	// RecordsBehind: see ShardProgress.RecordsBehind.
	RecordsBehind *int64
	LastApplied   *time.Time
	LastError     string
	UpdatedAt     time.Time
}

// SubscriberShards lists every (replication, replica, shard) a subscriber has worked on,
// ordered by replication, replica and shard. A database no runner of this version has migrated
// yet (status opens it read-only) has none.
func SubscriberShards(ctx context.Context, q Q) ([]SubscriberShard, error) {
	query := func(recordsBehind string) (Rows, error) {
		return q.Query(ctx, `SELECT replication, replica, shard, owner, lease_until, state, sequence, applied_records,
		millis_behind, last_applied_at, last_error, updated_at, `+recordsBehind+`
		FROM sluice_subscriber_shards ORDER BY replication, replica, shard`)
	}
	rows, err := query("records_behind")
	if err != nil && missingColumn(err) {
		// A database the runners have not migrated to version 12 yet (status opens it read-only).
		rows, err = query("NULL")
	}
	if err != nil {
		if missingTable(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading subscriber shards: %w", err)
	}
	defer rows.Close()
	var out []SubscriberShard
	for rows.Next() {
		var s SubscriberShard
		var until, updated int64
		var seq, lastErr sql.NullString
		var behind, last, records sql.NullInt64
		if err := rows.Scan(&s.Replication, &s.Replica, &s.Shard, &s.Owner, &until, &s.State, &seq, &s.Applied,
			&behind, &last, &lastErr, &updated, &records); err != nil {
			return nil, fmt.Errorf("reading subscriber shards: %w", err)
		}
		s.LeaseUntil, s.UpdatedAt = FromMicros(until), FromMicros(updated)
		s.Sequence, s.LastError = seq.String, lastErr.String
		if behind.Valid {
			v := behind.Int64
			s.MillisBehind = &v
		}
		if records.Valid {
			v := records.Int64
			s.RecordsBehind = &v
		}
		s.LastApplied = nullTime(last)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading subscriber shards: %w", err)
	}
	return out, nil
}

// missingTable reports whether err says a table does not exist (PostgreSQL's undefined_table,
// SQLite's "no such table").
// missingColumn reports whether err is PostgreSQL's or SQLite's "no such column".
func missingColumn(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "42703"
	}
	return strings.Contains(err.Error(), "no such column")
}

func missingTable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "42P01"
	}
	return strings.Contains(err.Error(), "no such table")
}
