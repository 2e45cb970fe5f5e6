package state

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// livenessNamespace is the first key of every runner's liveness lock (the two-key form of
// PostgreSQL's advisory locks, which never collides with the one-key locks of LockPipeline).
const livenessNamespace int32 = 0x736c7563 // "sluc"

// runnerKey is the second key of a runner's liveness lock. Two runner ids with the same hash
// only make a dead runner look alive, which delays its rescue to River's own rescuer.
func runnerKey(id string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int32(h.Sum32()) //nolint:gosec // a hash reinterpreted as a lock key: wrapping is intended
}

// Liveness is a PostgreSQL runner's proof of life: a session advisory lock held on a
// connection of its own for as long as the runner works. PostgreSQL releases it the moment the
// process or its connection dies, so other runners can tell a dead runner's running jobs from a
// slow one's and take them over at once, instead of waiting for River's rescuer (which must
// assume the worst and wait for the job's whole timeout).
type Liveness struct {
	conn *pgx.Conn
	id   string
}

// ErrRunnerIDInUse means a live runner holds the liveness lock of this runner id.
var ErrRunnerIDInUse = errors.New("runner id in use")

// HoldLiveness takes the liveness lock of runner id on a connection taken out of the pool.
func HoldLiveness(ctx context.Context, db *DB, id string) (*Liveness, error) {
	if db.Dialect != Postgres {
		return nil, fmt.Errorf("liveness locks need PostgreSQL, not %s", db.Dialect)
	}
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking a connection for runner %s's liveness lock: %w", id, err)
	}
	conn := c.Hijack() // ours for good: the pool must never hand it to anyone else
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int4, $2::int4)`, livenessNamespace, runnerKey(id)).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("taking runner %s's liveness lock: %w", id, err)
	}
	if !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%w: a live runner on %s already uses the id %q; give each runner its own", ErrRunnerIDInUse, db.Where, id)
	}
	return &Liveness{conn: conn, id: id}, nil
}

// Ping checks that the lock's connection is still up (and keeps it from idling out).
func (l *Liveness) Ping(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		return fmt.Errorf("runner %s lost its liveness connection: %w", l.id, err)
	}
	return nil
}

// Close releases the lock by closing its connection.
func (l *Liveness) Close(ctx context.Context) {
	_ = l.conn.Close(ctx)
}

// OrphanedJobs returns the running River jobs whose runner is dead, by runner id: the last
// runner that attempted each holds no liveness lock. Jobs of self are never returned.
func OrphanedJobs(ctx context.Context, q Q, self string) (map[string][]int64, error) {
	rows, err := q.Query(ctx, `SELECT id, attempted_by[array_length(attempted_by, 1)] FROM river_job
		WHERE state = 'running' AND array_length(attempted_by, 1) > 0`)
	if err != nil {
		return nil, fmt.Errorf("listing running jobs: %w", err)
	}
	owners := map[string][]int64{}
	for rows.Next() {
		var id int64
		var owner string
		if err := rows.Scan(&id, &owner); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing running jobs: %w", err)
		}
		if owner != self {
			owners[owner] = append(owners[owner], id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing running jobs: %w", err)
	}
	if len(owners) == 0 {
		return nil, nil
	}
	// pg_locks shows a two-key advisory lock as classid = key 1, objid = key 2 (both oids, so
	// compared as unsigned), objsubid = 2.
	rows, err = q.Query(ctx, `SELECT objid::bigint FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::bigint = $1
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(uint32(livenessNamespace)))
	if err != nil {
		return nil, fmt.Errorf("listing live runners: %w", err)
	}
	live := map[int64]bool{}
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing live runners: %w", err)
		}
		live[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing live runners: %w", err)
	}
	for owner := range owners {
		if live[int64(uint32(runnerKey(owner)))] {
			delete(owners, owner)
		}
	}
	return owners, nil
}

// ReleaseJobs makes running jobs of a dead runner available again from at (now plus the
// process grace: River fetches no job before its scheduled_at); the engine sees their
// instances running and starts a new attempt. It returns how many it released (a job that
// finished or was released by another runner meanwhile is left alone).
func ReleaseJobs(ctx context.Context, q Q, owner string, ids []int64, at time.Time) (int64, error) {
	n, err := q.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = $1
		WHERE id = ANY($2) AND state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $3`, at, ids, owner)
	if err != nil {
		return 0, fmt.Errorf("releasing %d jobs of runner %s: %w", len(ids), owner, err)
	}
	return n, nil
}
