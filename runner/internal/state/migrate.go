package state

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migration is one step of the runner's own schema. The statements are the same on both
// databases except where noted by the {{id}} placeholder: an auto-increment primary key.
type migration struct {
	version int
	stmts   []string
}

// migrations are applied in order, each in one transaction, after River's own migrations.
// Times are Unix microseconds (BIGINT) on both databases: one encoding, exact, sortable.
var migrations = []migration{
	{version: 1, stmts: []string{
		// Every version of a pipeline the runner has started a run with: a run finishes on
		// the definition it started with, even after a new one is published.
		`CREATE TABLE sluice_definitions (
			pipeline TEXT NOT NULL,
			version TEXT NOT NULL,
			document TEXT NOT NULL,
			seen_at BIGINT NOT NULL,
			PRIMARY KEY (pipeline, version))`,
		// The newest version seen in the registry per pipeline, for the scheduler and status.
		`CREATE TABLE sluice_pipelines (
			name TEXT PRIMARY KEY,
			version TEXT NOT NULL,
			enabled INTEGER NOT NULL,
			owner TEXT NOT NULL,
			removed INTEGER NOT NULL DEFAULT 0,
			seen_at BIGINT NOT NULL)`,
		// One row per run: exactly one per (pipeline, interval) unless reprocessed (seq > 0).
		`CREATE TABLE sluice_runs (
			id {{id}},
			pipeline TEXT NOT NULL,
			interval_start BIGINT NOT NULL,
			interval_end BIGINT NOT NULL,
			seq INTEGER NOT NULL,
			version TEXT NOT NULL,
			trigger TEXT NOT NULL,
			state TEXT NOT NULL,
			max_active INTEGER NOT NULL,
			created_at BIGINT NOT NULL,
			started_at BIGINT,
			finished_at BIGINT,
			late_notified INTEGER NOT NULL DEFAULT 0,
			UNIQUE (pipeline, interval_start, seq))`,
		`CREATE INDEX sluice_runs_state ON sluice_runs (state, pipeline, interval_start)`,
		`CREATE TABLE sluice_activities (
			run_id BIGINT NOT NULL REFERENCES sluice_runs (id),
			activity TEXT NOT NULL,
			kind TEXT NOT NULL,
			state TEXT NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			pokes INTEGER NOT NULL DEFAULT 0,
			job_id BIGINT,
			wait_started BIGINT,
			started_at BIGINT,
			finished_at BIGINT,
			result TEXT,
			error TEXT,
			PRIMARY KEY (run_id, activity))`,
		`CREATE INDEX sluice_activities_state ON sluice_activities (state)`,
		`CREATE TABLE sluice_attempts (
			run_id BIGINT NOT NULL,
			activity TEXT NOT NULL,
			attempt INTEGER NOT NULL,
			runner TEXT NOT NULL,
			state TEXT NOT NULL,
			started_at BIGINT NOT NULL,
			finished_at BIGINT,
			error TEXT,
			log TEXT,
			PRIMARY KEY (run_id, activity, attempt))`,
		// The newest data seen per pipeline and subject ("pipeline" or a table name).
		`CREATE TABLE sluice_freshness (
			pipeline TEXT NOT NULL,
			subject TEXT NOT NULL,
			value BIGINT NOT NULL,
			observed_at BIGINT NOT NULL,
			PRIMARY KEY (pipeline, subject))`,
	}},
	{version: 2, stmts: []string{
		// Stream replication: one row per (replication, replica, shard). The lease (owner,
		// lease_until) says which runner's subscriber consumes the shard; the rest is what that
		// subscriber last reported, for status and metrics. The checkpoint that decides what is
		// applied lives in the replica itself (sluice.replication_checkpoints), never here.
		`CREATE TABLE sluice_subscriber_shards (
			replication TEXT NOT NULL,
			replica TEXT NOT NULL,
			shard TEXT NOT NULL,
			owner TEXT NOT NULL,
			lease_until BIGINT NOT NULL,
			state TEXT NOT NULL,
			sequence TEXT,
			applied_records BIGINT NOT NULL DEFAULT 0,
			millis_behind BIGINT,
			last_applied_at BIGINT,
			last_error TEXT,
			updated_at BIGINT NOT NULL,
			PRIMARY KEY (replication, replica, shard))`,
		// The runners serving each replica, each seen until a moment renewed every tick: the
		// shards of a replica are shared out among the live ones.
		`CREATE TABLE sluice_subscriber_runners (
			owner TEXT NOT NULL,
			replica TEXT NOT NULL,
			seen_until BIGINT NOT NULL,
			PRIMARY KEY (owner, replica))`,
	}},
	{version: 3, stmts: []string{
		// A run's progress on its own row (see Progress): the succeeded activities (ids
		// followed by a space) and how many are final. The finishing statement of an activity
		// updates it and reads it back at once, which also orders activities finishing at the
		// same time, instead of locking the run and reading every activity.
		`ALTER TABLE sluice_runs ADD COLUMN succeeded TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE sluice_runs ADD COLUMN finals INTEGER NOT NULL DEFAULT 0`,
		`UPDATE sluice_runs SET
			succeeded = COALESCE((SELECT {{concat}}(a.activity || ' ', '') FROM sluice_activities a WHERE a.run_id = sluice_runs.id AND a.state = 'success'), ''),
			finals = (SELECT COUNT(*) FROM sluice_activities a WHERE a.run_id = sluice_runs.id AND a.state IN ('success', 'failed', 'upstream_failed'))`,
	}},
	triggerMigration, // runs made by events (trigger.go; version 13, the issue's)
	// Versions are a set, not a sequence: a runner applies every one it does not find, so parts
	// built in parallel number theirs apart (this one is the replication issue's).
	{version: 12, stmts: []string{
		// Records the subscriber has read from the shard and not yet applied: exact when the
		// same report's millis_behind is 0 (it has read up to the tip), else a lower bound.
		`ALTER TABLE sluice_subscriber_shards ADD COLUMN records_behind BIGINT`,
	}},
	// The web UI's actions (issue 16; numbered after its issue so that migrations added on
	// other branches at the same time do not take the same number: versions are a set, applied
	// in this list's order).
	{version: 16, stmts: []string{
		// Who did what, when: every action asked of the runner through the CLI, the JSON API
		// or the page, with its outcome.
		`CREATE TABLE sluice_actions (
			id {{id}},
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			pipeline TEXT NOT NULL,
			run_id BIGINT,
			activity TEXT,
			detail TEXT NOT NULL,
			outcome TEXT NOT NULL,
			error TEXT)`,
		`CREATE INDEX sluice_actions_pipeline ON sluice_actions (pipeline, id)`,
		// Paused pipelines: the scheduler creates no runs for them. Kept apart from
		// sluice_pipelines.enabled, which is the published definition's and is rewritten on
		// every read of the registry.
		`CREATE TABLE sluice_pauses (
			pipeline TEXT PRIMARY KEY,
			paused_by TEXT NOT NULL,
			paused_at BIGINT NOT NULL)`,
		// attempt_base is how many attempts an activity instance had when it was last cleared:
		// its retries count from there, and its attempts' numbers keep growing, so that the
		// history stays.
		`ALTER TABLE sluice_activities ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0`,
		// The runners page lists running attempts by runner.
		`CREATE INDEX sluice_attempts_state ON sluice_attempts (state, runner)`,
	}},
	// The cost issue's: what each EMR cluster a run launched used, and its cost.
	{version: 17, stmts: emrUsageMigration},
}

func (db *DB) ddl(stmt string) string {
	id := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if db.Dialect == Postgres {
		id = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
	}
	concat := "group_concat"
	if db.Dialect == Postgres {
		concat = "string_agg"
	}
	return strings.NewReplacer("{{id}}", id, "{{concat}}", concat).Replace(stmt)
}

// migrate applies River's migrations and then the runner's. Several runners may start at once
// on PostgreSQL: an advisory lock serialises them.
func (db *DB) migrate(ctx context.Context) error {
	if err := db.migrateRiver(ctx); err != nil {
		return err
	}
	return db.InTx(ctx, func(q Q) error {
		if db.Dialect == Postgres {
			if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(7301946)`); err != nil {
				return fmt.Errorf("locking the state schema: %w", err)
			}
		}
		if _, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS sluice_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("creating sluice_migrations: %w", err)
		}
		applied := map[int]bool{}
		rows, err := q.Query(ctx, `SELECT version FROM sluice_migrations`)
		if err != nil {
			return fmt.Errorf("reading sluice_migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("reading sluice_migrations: %w", err)
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading sluice_migrations: %w", err)
		}
		for _, m := range migrations {
			if applied[m.version] {
				continue
			}
			for _, s := range m.stmts {
				if _, err := q.Exec(ctx, db.ddl(s)); err != nil {
					return fmt.Errorf("state migration %d: %w", m.version, err)
				}
			}
			if _, err := q.Exec(ctx, `INSERT INTO sluice_migrations (version, applied_at) VALUES ($1, $2)`, m.version, time.Now().UnixMicro()); err != nil {
				return fmt.Errorf("state migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}

func (db *DB) migrateRiver(ctx context.Context) error {
	var err error
	if db.Dialect == Postgres {
		// River's migrator is not safe against another runner migrating at the same moment:
		// a session advisory lock on one pooled connection serialises runners.
		conn, cerr := db.Pool.Acquire(ctx)
		if cerr != nil {
			return fmt.Errorf("migrating River's tables on %s: %w", db.Where, cerr)
		}
		defer conn.Release()
		if _, lerr := conn.Exec(ctx, `SELECT pg_advisory_lock(7301945)`); lerr != nil {
			return fmt.Errorf("migrating River's tables on %s: locking: %w", db.Where, lerr)
		}
		defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7301945)`) }()
		var m *rivermigrate.Migrator[pgxTx]
		m, err = rivermigrate.New(riverpgxv5.New(db.Pool), nil)
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	} else {
		var m *rivermigrate.Migrator[sqlTx]
		m, err = rivermigrate.New(riversqlite.New(db.SQL), nil)
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("migrating River's tables on %s: %w", db.Where, err)
	}
	return nil
}
