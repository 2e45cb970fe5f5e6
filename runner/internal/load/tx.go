package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

// This file is the load as a step of someone else's transaction: the stream subscriber
// applies a batch of records and writes its checkpoint in one transaction, so the load must
// neither begin nor commit one. Errors follow the executor's rules: activity.Permanent marks a
// mistake in the data or the definition (a retry cannot help), anything else may pass.

// Files describes a load of exact files (not a prefix), as a sluice/load.v1 stream record
// carries them.
type Files struct {
	// Conn names the connection in messages.
	Conn       string
	Table      string
	Files      []string
	Format     string
	InsertMode string
	KeyColumns []string
	Options    []string
	// IAMRole is the role Redshift assumes to read the files (Redshift only).
	IAMRole string
	// Log receives the load's progress lines; nil discards them.
	Log io.Writer
}

// FilesTx loads f into its table inside tx, through the staging table and the insert mode,
// exactly as a redshift_copy activity does, without committing. store reads the files
// (PostgreSQL streams them through the runner; Redshift reads each s3:// file itself).
func FilesTx(ctx context.Context, tx pgx.Tx, d redshift.Dialect, store Storage, f Files) (Replica, error) {
	a := &definition.RedshiftCopyActivity{
		Connection: f.Conn, Table: f.Table, Format: f.Format, InsertMode: f.InsertMode,
		KeyColumns: f.KeyColumns, Options: f.Options, IAMRole: f.IAMRole,
	}
	if len(f.Files) > 0 {
		a.From = f.Files[0]
	}
	opts, err := parseOptions(f.Options)
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	t, err := parseTarget(f.Table, d)
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	w := f.Log
	if w == nil {
		w = io.Discard
	}
	j := &job{ex: &executor{store: store}, a: a, opts: opts, conn: f.Conn, log: &lockedWriter{w: w}}
	var pc *pgCopy
	var copies []redshiftCopy
	if d == redshift.Redshift {
		for _, file := range f.Files {
			sql, err := redshiftCopySQL(file, f.Format, f.IAMRole, opts)
			if err != nil {
				return Replica{}, activity.Permanent(err)
			}
			copies = append(copies, redshiftCopy{from: file, sql: sql})
		}
	} else if pc, err = planPostgres(f.Format, opts); err != nil {
		return Replica{}, activity.Permanent(err)
	}
	r, err := j.inTx(ctx, tx, d, t, pc, f.Files, copies)
	if err != nil {
		return Replica{}, err
	}
	r.Status = StatusSuccess
	return r, nil
}

// TableColumns lists the columns of table (schema.table) a load may write, in table order.
// A table that does not exist (or that the connection cannot see) is a Permanent error.
func TableColumns(ctx context.Context, tx pgx.Tx, d redshift.Dialect, table string) ([]string, error) {
	t, err := parseTarget(table, d)
	if err != nil {
		return nil, activity.Permanent(err)
	}
	rows, err := tx.Query(ctx, columnsQuery(t, d))
	if err != nil {
		return nil, sqlErr("reading the columns of "+t.String(), err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, sqlErr("reading the columns of "+t.String(), err)
	}
	if len(cols) == 0 {
		return nil, activity.Permanent(fmt.Errorf("table %s does not exist (or this connection's user cannot see it); create it first", t))
	}
	return cols, nil
}

// JSONRowsTx inserts rows — JSON objects whose keys are among cols — into table inside tx on
// PostgreSQL, with the insert mode: APPEND inserts them; KEEP_EXISTING and OVERWRITE_EXISTING
// go through a staging table and the same merge as a load. PostgreSQL converts each value to
// its column's type (json_populate_recordset), so a value the column cannot hold fails here as
// a data error. Columns not in cols get their defaults (APPEND) or stay as they are.
//
// The caller has already reduced the rows to one per key for the key modes: a stream is
// ordered, so unlike files it knows which of two rows with one key came last.
func JSONRowsTx(ctx context.Context, tx pgx.Tx, table, mode string, keys, cols []string, rows [][]byte) (int64, error) {
	t, err := parseTarget(table, redshift.PostgreSQL)
	if err != nil {
		return 0, activity.Permanent(err)
	}
	for _, k := range keys {
		if !slices.Contains(cols, strings.ToLower(k)) {
			return 0, activity.Permanent(fmt.Errorf("key column %q is not among the columns the rows set (%s)", k, strings.Join(cols, ", ")))
		}
	}
	var doc bytes.Buffer
	doc.WriteByte('[')
	for i, r := range rows {
		if i > 0 {
			doc.WriteByte(',')
		}
		doc.Write(r)
	}
	doc.WriteByte(']')
	colList := redshift.QuoteIdentList(cols)
	// NULL::schema.table is the table's row type: each JSON value is cast to its column's type.
	source := "SELECT " + colList + " FROM json_populate_recordset(NULL::" + t.quoted() + ", $1::json)"
	if mode == definition.InsertAppend {
		tag, err := tx.Exec(ctx, "INSERT INTO "+t.quoted()+" ("+colList+") "+source, doc.String())
		if err != nil {
			return 0, sqlErr("inserting rows into "+t.String(), err)
		}
		return tag.RowsAffected(), nil
	}
	// The staging table has only the columns the rows set: LIKE would copy NOT NULL columns the
	// rows leave to their defaults (a serial id) and refuse every row.
	if _, err := tx.Exec(ctx, "CREATE TEMPORARY TABLE "+redshift.QuoteIdent(stagingTable)+" AS SELECT "+colList+" FROM "+t.quoted()+" WITH NO DATA"); err != nil {
		return 0, sqlErr("creating the staging table", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+redshift.QuoteIdent(stagingTable)+" ("+colList+") "+source, doc.String()); err != nil {
		return 0, sqlErr("staging rows for "+t.String(), err)
	}
	lower := make([]string, len(keys))
	for i, k := range keys {
		lower[i] = strings.ToLower(k)
	}
	del, ins, err := mergeSQL(mode, t, cols, lower)
	if err != nil {
		return 0, activity.Permanent(err)
	}
	if del != "" {
		if _, err := tx.Exec(ctx, del); err != nil {
			return 0, sqlErr("deleting target rows ("+mode+")", err)
		}
	}
	tag, err := tx.Exec(ctx, ins)
	if err != nil {
		return 0, sqlErr("inserting into "+t.String()+" ("+mode+")", err)
	}
	if _, err := tx.Exec(ctx, dropStagingSQL()); err != nil {
		return 0, sqlErr("dropping the staging table", err)
	}
	return tag.RowsAffected(), nil
}
