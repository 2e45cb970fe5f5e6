package subscribe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/load"
)

// The checkpoint lives in the replica, in the schema the subscriber creates: a batch and the
// checkpoint after it commit together, so the replica's data and what it says it has applied
// can never disagree, whatever the runner, the lease or the network did meanwhile.
const (
	checkpointSchema = "sluice"
	checkpointTable  = checkpointSchema + ".replication_checkpoints"
)

// checkpointDDL creates the checkpoint table. start_position is the iterator a shard is read
// from while sequence_number is NULL (nothing applied yet).
var checkpointDDL = []string{
	`CREATE SCHEMA IF NOT EXISTS ` + checkpointSchema,
	`CREATE TABLE IF NOT EXISTS ` + checkpointTable + ` (
		replication VARCHAR(256) NOT NULL,
		shard_id VARCHAR(256) NOT NULL,
		sequence_number VARCHAR(256),
		start_position VARCHAR(32) NOT NULL,
		finished BOOLEAN NOT NULL DEFAULT FALSE,
		records BIGINT NOT NULL DEFAULT 0,
		dead_letters BIGINT NOT NULL DEFAULT 0,
		applied_at TIMESTAMPTZ,
		PRIMARY KEY (replication, shard_id))`,
	// The ids of the sluice/change.v1 changes applied: a producer that retries a put may leave a
	// change in the stream twice, under one id; the second is skipped. Kept for changeIDsKept.
	`CREATE TABLE IF NOT EXISTS ` + changesTable + ` (
		replication VARCHAR(256) NOT NULL,
		change_id VARCHAR(512) NOT NULL,
		sequence_number VARCHAR(256) NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
		PRIMARY KEY (replication, change_id))`,
}

// changesTable holds the applied change ids; changeIDsKept is how long an id is remembered after
// it was applied. A retried put lands seconds after the first, and a replica catching up reads
// both copies together, so a week is ample.
const (
	changesTable  = checkpointSchema + ".replication_changes"
	changeIDsKept = "7 days"
)

// pruneChangeIDs forgets change ids applied more than changeIDsKept ago. Best effort: a failure
// only keeps them longer.
func pruneChangeIDs(ctx context.Context, x *redshift.PgxExecutor, replication string) {
	_, _ = x.Pool().Exec(ctx, `DELETE FROM `+changesTable+` WHERE replication = $1 AND applied_at < CURRENT_TIMESTAMP - INTERVAL '`+changeIDsKept+`'`, replication)
}

// firstApply records change id as applied by record sequence, in tx, and reports whether it is
// the first time: false means the change was applied before (a retried put) and is skipped.
func firstApply(ctx context.Context, tx pgx.Tx, d redshift.Dialect, replication, id, sequence string) (bool, error) {
	if d == redshift.PostgreSQL {
		// A second consumer inserting the same id (the copy landed on another shard) waits here
		// for the first's commit, then finds it.
		tag, err := tx.Exec(ctx, `INSERT INTO `+changesTable+` (replication, change_id, sequence_number) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			replication, id, sequence)
		if err != nil {
			return false, fmt.Errorf("recording change %s: %w", id, err)
		}
		return tag.RowsAffected() == 1, nil
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+changesTable+` WHERE replication = $1 AND change_id = $2`, replication, id).Scan(&n); err != nil {
		return false, fmt.Errorf("looking up change %s: %w", id, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+changesTable+` (replication, change_id, sequence_number) VALUES ($1, $2, $3)`, replication, id, sequence); err != nil {
		return false, fmt.Errorf("recording change %s: %w", id, err)
	}
	return true, nil
}

// checkpoint is what a replica has applied of one shard.
type checkpoint struct {
	sequence string // last applied record; "" when none yet
	start    string // iterator type while sequence is ""
	finished bool   // a closed shard applied to its end
	records  int64  // records checkpointed so far (applied or dead-lettered)
}

// ensureSchema creates the checkpoint table in the replica if it is missing. Two runners doing
// this at once would collide in PostgreSQL's catalog even with IF NOT EXISTS: an advisory lock
// orders them.
func ensureSchema(ctx context.Context, x *redshift.PgxExecutor) error {
	tx, err := x.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating %s: %w", checkpointTable, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if x.Dialect() == redshift.PostgreSQL {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7301947)`); err != nil {
			return fmt.Errorf("creating %s: %w", checkpointTable, err)
		}
	}
	for _, s := range checkpointDDL {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("creating %s: %w", checkpointTable, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("creating %s: %w", checkpointTable, err)
	}
	return nil
}

// readCheckpoints reads a replica's checkpoints of a replication, by shard id.
func readCheckpoints(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, replication string,
) (map[string]checkpoint, error) {
	rows, err := q.Query(ctx, `SELECT shard_id, COALESCE(sequence_number, ''), start_position, finished FROM `+checkpointTable+` WHERE replication = $1`, replication)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", checkpointTable, err)
	}
	defer rows.Close()
	out := map[string]checkpoint{}
	for rows.Next() {
		var id string
		var cp checkpoint
		if err := rows.Scan(&id, &cp.sequence, &cp.start, &cp.finished); err != nil {
			return nil, fmt.Errorf("reading %s: %w", checkpointTable, err)
		}
		out[id] = cp
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", checkpointTable, err)
	}
	return out, nil
}

// initLatest starts a replica at LATEST: the shards open now are read from their tip, and the
// closed ones — history before the replica joined — are marked finished so that the open
// shards (their children) are not held back by them. Only when the replica has no checkpoint
// of the replication at all; the advisory lock keeps two runners from doing it twice.
func initLatest(ctx context.Context, x *redshift.PgxExecutor, replication string, shards []shard) error {
	tx, err := x.Pool().Begin(ctx)
	if err != nil {
		return fmt.Errorf("starting at LATEST: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if x.Dialect() == redshift.PostgreSQL {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7301947)`); err != nil {
			return fmt.Errorf("starting at LATEST: %w", err)
		}
	} else if _, err := tx.Exec(ctx, `LOCK `+checkpointTable); err != nil {
		return fmt.Errorf("starting at LATEST: %w", err)
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+checkpointTable+` WHERE replication = $1`, replication).Scan(&n); err != nil {
		return fmt.Errorf("starting at LATEST: %w", err)
	}
	if n > 0 {
		return nil
	}
	for _, s := range shards {
		if _, err := tx.Exec(ctx, `INSERT INTO `+checkpointTable+` (replication, shard_id, start_position, finished) VALUES ($1, $2, $3, $4)`,
			replication, s.id, definition.StartLatest, s.closed); err != nil {
			return fmt.Errorf("starting at LATEST: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("starting at LATEST: %w", err)
	}
	return nil
}

// ensureCheckpoint returns the checkpoint of a shard, creating it (nothing applied, read from
// start) when the replica has none.
func ensureCheckpoint(ctx context.Context, x *redshift.PgxExecutor, replication, shardID, start string) (checkpoint, error) {
	ins := `INSERT INTO ` + checkpointTable + ` (replication, shard_id, start_position) SELECT $1, $2, $3
		WHERE NOT EXISTS (SELECT 1 FROM ` + checkpointTable + ` WHERE replication = $1 AND shard_id = $2)`
	if x.Dialect() == redshift.PostgreSQL {
		ins = `INSERT INTO ` + checkpointTable + ` (replication, shard_id, start_position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	}
	if _, err := x.Pool().Exec(ctx, ins, replication, shardID, start); err != nil {
		return checkpoint{}, fmt.Errorf("creating the checkpoint: %w", err)
	}
	var cp checkpoint
	var seq *string
	err := x.Pool().QueryRow(ctx, `SELECT sequence_number, start_position, finished, records + dead_letters FROM `+checkpointTable+` WHERE replication = $1 AND shard_id = $2`,
		replication, shardID).Scan(&seq, &cp.start, &cp.finished, &cp.records)
	if err != nil {
		return checkpoint{}, fmt.Errorf("reading the checkpoint: %w", err)
	}
	if seq != nil {
		cp.sequence = *seq
	}
	return cp, nil
}

// record is one Kinesis record of a shard.
type record struct {
	sequence     string
	partitionKey string
	data         []byte
	arrival      time.Time
}

// errCheckpointMoved: the replica's checkpoint is not the one this consumer read from, so
// another consumer applied the shard meanwhile (a lease that lapsed under a slow runner). The
// batch is rolled back and the consumer starts again from the replica's checkpoint: this, not
// the lease, is what makes a double apply impossible.
var errCheckpointMoved = errors.New("the replica's checkpoint moved: another subscriber applied this shard meanwhile")

// PoisonError is a record the replica cannot take: a statement that fails, a row that violates
// the table, a record that does not decode.
type PoisonError struct {
	Sequence string
	Err      error
}

func (e *PoisonError) Error() string {
	return fmt.Sprintf("poison record %s: %v", e.Sequence, e.Err)
}

func (e *PoisonError) Unwrap() error { return e.Err }

// poisonous reports whether err comes from the record rather than the replica's state: a
// definition or data error (activity.Permanent from the load code), or any SQL error but the
// classes that say the database, not the statement, is the problem — connection (08),
// transaction rollback such as serialization failures and deadlocks (40), insufficient
// resources (53), operator intervention such as a shutdown (57), system errors (58, XX),
// authorization (28) and a missing privilege (42501). An error without SQLSTATE is a network
// error and passes.
func poisonous(err error) bool {
	if activity.IsPermanent(err) {
		return true
	}
	code := redshift.SQLState(err)
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "08", "28", "40", "53", "57", "58", "XX":
		return false
	}
	// A missing privilege is the replica's set-up, not the record: it waits to be granted.
	return code != "42501"
}

// batchOutcome is what a committed batch did.
type batchOutcome struct {
	applied     int64        // records applied
	deadLetters []deadLetter // records written to the dead-letter prefix, to notify of
	stopped     *PoisonError // poison = stop: the record the shard stopped on (not applied)
	checkpoint  checkpoint   // the replica's checkpoint after the commit
}

// applyBatch applies recs (in sequence order) and writes the checkpoint after them — finished
// when the shard is closed and recs are its last records — in one transaction in the replica.
// It first tries the whole batch without savepoints (the common case costs nothing more);
// when a record is poison it rolls that back and applies the batch again record by record,
// each in a savepoint, to find the poison record and apply everything before it (and, for
// dead_letter, after it).
func (c *consumer) applyBatch(ctx context.Context, x *redshift.PgxExecutor, from checkpoint, recs []record, finished bool) (batchOutcome, error) {
	out, err := c.applyTx(ctx, x, from, recs, finished, false)
	var pe *PoisonError
	if errors.As(err, &pe) {
		return c.applyTx(ctx, x, from, recs, finished, true)
	}
	return out, err
}

func (c *consumer) applyTx(ctx context.Context, x *redshift.PgxExecutor, from checkpoint, recs []record, finished, careful bool) (batchOutcome, error) {
	tx, err := x.Pool().Begin(ctx)
	if err != nil {
		return batchOutcome{}, fmt.Errorf("beginning the batch: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Lock the checkpoint first: a second consumer of the shard waits here, then sees the
	// checkpoint moved and rolls back.
	var seq *string
	var done bool
	lockQ := `SELECT sequence_number, finished FROM ` + checkpointTable + ` WHERE replication = $1 AND shard_id = $2`
	if x.Dialect() == redshift.PostgreSQL {
		lockQ += ` FOR UPDATE`
	} else if _, err := tx.Exec(ctx, `LOCK `+checkpointTable); err != nil { // Redshift has no FOR UPDATE
		return batchOutcome{}, fmt.Errorf("locking the checkpoint: %w", err)
	}
	if err := tx.QueryRow(ctx, lockQ, c.key.Replication, c.key.Shard).Scan(&seq, &done); err != nil {
		return batchOutcome{}, fmt.Errorf("locking the checkpoint: %w", err)
	}
	if done || (seq == nil) != (from.sequence == "") || (seq != nil && *seq != from.sequence) {
		return batchOutcome{}, errCheckpointMoved
	}

	out := batchOutcome{checkpoint: from}
	var applied []record // applied or dead-lettered: the checkpoint passes them
	for i := 0; i < len(recs); {
		n, perr := c.applySome(ctx, tx, x.Dialect(), recs[i:], careful)
		if perr == nil {
			applied = append(applied, recs[i:i+n]...)
			out.applied += int64(n)
			i += n
			continue
		}
		var pe *PoisonError
		if !errors.As(perr, &pe) {
			return batchOutcome{}, perr
		}
		if !careful {
			return batchOutcome{}, perr // applyBatch starts again, carefully
		}
		if c.rep.Poison.Policy != definition.PoisonDeadLetter {
			out.stopped = pe
			finished = false // the shard's end is not reached: the poison record is not past
			break
		}
		dl := c.deadLetter(recs[i], pe.Err)
		// Written before the commit: if the commit fails, the batch is applied again and the
		// same object is written again — harmless — while a dead letter written after the commit
		// could be lost to a crash with the checkpoint already past the record.
		if err := c.svc.putDeadLetter(ctx, dl); err != nil {
			return batchOutcome{}, err
		}
		out.deadLetters = append(out.deadLetters, dl)
		applied = append(applied, recs[i])
		i++
	}
	if len(applied) == 0 && !finished {
		if err := tx.Commit(ctx); err != nil { // nothing to checkpoint; release the row lock
			return batchOutcome{}, fmt.Errorf("committing the batch: %w", err)
		}
		return out, nil
	}
	if len(applied) > 0 {
		out.checkpoint.sequence = applied[len(applied)-1].sequence
	}
	out.checkpoint.finished = finished
	out.checkpoint.records += out.applied + int64(len(out.deadLetters))
	var seqArg *string
	if out.checkpoint.sequence != "" {
		seqArg = &out.checkpoint.sequence
	}
	if _, err := tx.Exec(ctx, `UPDATE `+checkpointTable+` SET sequence_number = $1, finished = $2, records = records + $3,
		dead_letters = dead_letters + $4, applied_at = CURRENT_TIMESTAMP WHERE replication = $5 AND shard_id = $6`,
		seqArg, finished, out.applied, int64(len(out.deadLetters)), c.key.Replication, c.key.Shard); err != nil {
		return batchOutcome{}, fmt.Errorf("writing the checkpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return batchOutcome{}, fmt.Errorf("committing the batch and its checkpoint: %w", err)
	}
	return out, nil
}

// applySome applies a prefix of recs and says how many it applied. Careless, it applies them
// all at once; careful, it applies the first record (or, for rows, the first run of rows) in a
// savepoint, rolled back to on error. A record the replica refuses is a *PoisonError; any
// other error aborts the batch.
func (c *consumer) applySome(ctx context.Context, tx pgx.Tx, d redshift.Dialect, recs []record, careful bool) (int, error) {
	n := len(recs)
	if careful {
		n = 1
		if _, err := tx.Exec(ctx, "SAVEPOINT sluice_record"); err != nil {
			return 0, fmt.Errorf("savepoint: %w", err)
		}
	}
	var err error
	if c.rep.Records.Format == definition.RecordsRows {
		err = c.applyRows(ctx, tx, d, recs[:n])
	} else {
		err = c.applyStatements(ctx, tx, d, recs[:n])
	}
	if careful {
		if err != nil {
			var pe *PoisonError
			if errors.As(err, &pe) {
				if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT sluice_record"); rerr != nil {
					return 0, fmt.Errorf("rolling back a poison record: %w", rerr)
				}
			}
			return 0, err
		}
		if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT sluice_record"); err != nil {
			return 0, fmt.Errorf("savepoint: %w", err)
		}
	}
	return n, err
}

// applyStatements runs each record's SQL, or its load, in sequence order.
func (c *consumer) applyStatements(ctx context.Context, tx pgx.Tx, d redshift.Dialect, recs []record) error {
	if len(recs) > 1 {
		if crs, ok := scriptable(recs, d); ok {
			return c.applyScript(ctx, tx, d, crs)
		}
	}
	for _, r := range recs {
		ch, err := definition.DecodeChange(r.data)
		if err != nil {
			return &PoisonError{Sequence: r.sequence, Err: err}
		}
		if ch.ID != "" {
			first, err := firstApply(ctx, tx, d, c.key.Replication, ch.ID, r.sequence)
			if err != nil {
				return err
			}
			if !first {
				c.log.Info("change already applied (a retried put): skipped", "sequence", r.sequence, "change_id", ch.ID)
				continue
			}
		}
		role := c.rep.Replicas[c.key.Replica].IAMRole
		if ch.Load != nil && d == redshift.Redshift && role == "" {
			// Redshift reads the files itself and needs an IAM role. Not poison: skipping the load
			// would leave the replica short of its rows for good; the shard waits, its error
			// shown, until the replication names a role for this replica.
			return fmt.Errorf("record %s is a %s load into Redshift replica %s, which has no IAM role to COPY with: set replicas.%s.iam_role on the replication",
				r.sequence, definition.FormatLoadRecord, c.key.Replica, c.key.Replica)
		}
		if ch.Load != nil {
			l := ch.Load
			_, err = load.FilesTx(ctx, tx, d, c.svc.store, load.Files{
				Conn: c.conn, Table: l.Table, Files: l.Files, Format: l.FileFormat, InsertMode: l.InsertMode,
				KeyColumns: l.KeyColumns, Options: l.Options, IAMRole: role,
			})
		} else {
			if terr := checkNoTxControl(ch.SQL); terr != nil {
				return &PoisonError{Sequence: r.sequence, Err: terr}
			}
			// No arguments: pgx sends the simple protocol, so a record may hold several statements.
			_, err = tx.Exec(ctx, ch.SQL)
			if err == nil && tx.Conn().PgConn().TxStatus() != 'T' {
				// checkNoTxControl missed a way to end the transaction: stop here rather than
				// write a checkpoint outside it.
				return fmt.Errorf("record %s ended the batch's transaction; refusing to go on", r.sequence)
			}
		}
		if err != nil {
			if poisonous(err) {
				return &PoisonError{Sequence: r.sequence, Err: err}
			}
			return fmt.Errorf("record %s: %w", r.sequence, err)
		}
	}
	return nil
}

// applyRows loads JSON rows into the replication's table. Consecutive rows that set the same
// columns are loaded together; a row that leaves a column out leaves it to its default. Apart
// from that grouping rows apply one after another, so the result never depends on where a
// batch happened to end — replicas batch differently and must still come out equal.
func (c *consumer) applyRows(ctx context.Context, tx pgx.Tx, d redshift.Dialect, recs []record) error {
	if d != redshift.PostgreSQL && c.rep.Staging == "" {
		// Not poison: the replication needs a setting, and the shard waits for it, its error shown.
		return fmt.Errorf(`replica %s is Redshift: records format "rows" is loaded there with COPY from the staging prefix, and the replication sets none: set staging to an s3:// prefix`, c.key.Replica)
	}
	cols, err := load.TableColumns(ctx, tx, d, c.rep.Records.Table)
	if err != nil {
		// Not poison, even when the table is missing: that is the replica not being ready, not
		// a bad record, and dead-lettering every row until someone creates it would drain the
		// stream. The shard waits, its error shown.
		return fmt.Errorf("rows of %s: %w", c.rep.Records.Table, err)
	}
	type row struct {
		rec  record
		cols []string
		key  string
	}
	rows := make([]row, 0, len(recs))
	for _, r := range recs {
		rw, err := c.decodeRow(r, cols)
		if err != nil {
			return &PoisonError{Sequence: r.sequence, Err: err}
		}
		rows = append(rows, row{rec: r, cols: rw.cols, key: rw.key})
	}
	mode := c.rep.Records.InsertMode
	if c.rep.Staging != "" {
		batch := make([]stagedRow, len(rows))
		for i, r := range rows {
			batch[i] = stagedRow{rec: r.rec, key: r.key}
		}
		return c.applyRowsStaged(ctx, tx, d, batch)
	}
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && slices.Equal(rows[end].cols, rows[start].cols) {
			end++
		}
		run := rows[start:end]
		var data [][]byte
		switch mode {
		case definition.InsertOverwriteExisting, definition.InsertKeepExisting:
			// One row per key within the run: the last one overwrites, the first one is kept.
			pick := map[string]int{}
			for i, r := range run {
				if _, seen := pick[r.key]; !seen || mode == definition.InsertOverwriteExisting {
					pick[r.key] = i
				}
			}
			for i, r := range run {
				if pick[r.key] == i {
					data = append(data, r.rec.data)
				}
			}
		default:
			for _, r := range run {
				data = append(data, r.rec.data)
			}
		}
		if _, err := load.JSONRowsTx(ctx, tx, c.rep.Records.Table, mode, c.rep.Records.KeyColumns, run[0].cols, data); err != nil {
			if poisonous(err) {
				return &PoisonError{Sequence: run[0].rec.sequence, Err: err}
			}
			return err
		}
		start = end
	}
	return nil
}

type decodedRow struct {
	cols []string // the columns the row sets, in table order
	key  string   // the key columns' values, for the key modes
}

// decodeRow checks a rows record: one JSON object whose keys are columns of the table, with a
// non-null value for every key column.
func (c *consumer) decodeRow(r record, tableCols []string) (decodedRow, error) {
	dec := json.NewDecoder(bytes.NewReader(r.data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return decodedRow{}, fmt.Errorf("record is not a JSON object (a row of %s): %w", c.rep.Records.Table, err)
	}
	if obj == nil {
		return decodedRow{}, fmt.Errorf("record is not a JSON object (a row of %s): null", c.rep.Records.Table)
	}
	if dec.More() {
		return decodedRow{}, fmt.Errorf("record holds more than one JSON value; a rows record is one object")
	}
	var out decodedRow
	for _, col := range tableCols {
		if _, ok := obj[col]; ok {
			out.cols = append(out.cols, col)
		}
	}
	if len(out.cols) != len(obj) {
		var unknown []string
		for k := range obj {
			if !slices.Contains(tableCols, k) {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		return decodedRow{}, fmt.Errorf("%s has no column %s (columns: %s)", c.rep.Records.Table, strings.Join(unknown, ", "), strings.Join(tableCols, ", "))
	}
	if c.rep.Records.InsertMode != definition.InsertAppend {
		parts := make([]string, len(c.rep.Records.KeyColumns))
		for i, k := range c.rep.Records.KeyColumns {
			v, ok := obj[strings.ToLower(k)]
			if !ok || string(v) == "null" {
				return decodedRow{}, fmt.Errorf("key column %s is missing or null; insert_mode %s needs it in every row", k, c.rep.Records.InsertMode)
			}
			parts[i] = string(v)
		}
		out.key = strings.Join(parts, "\x00")
	}
	return out, nil
}
