package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

// job is the load of one activity into one connection.
type job struct {
	ex   *executor
	a    *definition.RedshiftCopyActivity
	opts []option
	conn string
	log  *lockedWriter
}

// run loads the target in one transaction and returns its counts.
func (j *job) run(ctx context.Context) (Replica, error) {
	if my, ok := j.ex.conns.(MySQLConns); ok && my.Kind(j.conn) == "mysql" {
		db, err := my.GetMySQL(ctx, j.conn)
		if err != nil {
			if connectionUnusable(err) {
				err = activity.Permanent(err)
			}
			return Replica{}, err
		}
		return j.runMySQL(ctx, db)
	}
	x, err := j.ex.conns.Get(ctx, j.conn)
	if err != nil {
		if connectionUnusable(err) {
			err = activity.Permanent(err)
		}
		return Replica{}, err
	}
	d := x.Dialect()
	t, err := parseTarget(j.a.Table, d)
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	// Everything that can be decided before touching the database is, so a definition mistake
	// costs no transaction.
	var pc *pgCopy
	var copies []redshiftCopy
	switch {
	case d == redshift.Redshift:
		var copySQL string
		copySQL, err = redshiftCopySQL(j.a.From, j.a.Format, j.a.IAMRole, j.opts)
		copies = []redshiftCopy{{from: j.a.From, sql: copySQL}}
	case strings.HasPrefix(j.a.From, DynamoDBScheme):
		err = fmt.Errorf("redshift_copy.from: %s: DynamoDB tables load into Redshift connections only (Redshift reads them itself); %s is PostgreSQL", j.a.From, j.conn)
	default:
		pc, err = planPostgres(j.a.Format, j.opts)
	}
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	var files []string
	if pc != nil {
		if files, err = j.ex.files(ctx, j.a.From); err != nil {
			return Replica{}, err
		}
		for _, n := range pc.notes {
			j.log.printf("%s: note: %s", j.conn, n)
		}
	}

	tx, err := x.Pool().Begin(ctx)
	if err != nil {
		return Replica{}, fmt.Errorf("beginning the transaction: %w", err)
	}
	// After a commit Rollback does nothing; after a failure it undoes everything, even when ctx
	// has ended (that is often why it failed).
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	r, err := j.inTx(ctx, tx, d, t, pc, files, copies)
	if err != nil {
		return Replica{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Replica{}, fmt.Errorf("committing the load into %s: %w", t, err)
	}
	r.Status = StatusSuccess
	j.log.printf("%s: %s: %d rows from the files, %d deleted, %d inserted into %s", j.conn, j.a.InsertMode, r.Copied, r.Deleted, r.Rows, t)
	return r, nil
}

// inTx loads the files into the target inside tx, which the caller commits: through the
// staging table, then the insert mode. On PostgreSQL files are streamed (pc set); on Redshift
// each of copies has Redshift read its files.
func (j *job) inTx(ctx context.Context, tx pgx.Tx, d redshift.Dialect, t target, pc *pgCopy, files []string, copies []redshiftCopy) (Replica, error) {
	cols, err := j.columns(ctx, tx, t, d)
	if err != nil {
		return Replica{}, err
	}
	if _, err := tx.Exec(ctx, createStagingSQL(t)); err != nil {
		return Replica{}, sqlErr("creating the staging table", err)
	}

	var r Replica
	if pc != nil {
		r.Copied, err = j.streamFiles(ctx, tx, files, cols, pc)
	} else {
		for _, c := range copies {
			n, cerr := j.copyRedshift(ctx, tx, c)
			if cerr != nil {
				return Replica{}, cerr
			}
			r.Copied += n
		}
	}
	if err != nil {
		return Replica{}, err
	}

	if len(j.a.KeyColumns) > 0 && j.a.InsertMode != definition.InsertAppend && j.a.InsertMode != definition.InsertTruncate {
		if err := j.checkKeys(ctx, tx); err != nil {
			return Replica{}, err
		}
	}
	del, ins, err := mergeSQL(j.a.InsertMode, t, cols, j.keys())
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	if del != "" {
		tag, err := tx.Exec(ctx, del)
		if err != nil {
			return Replica{}, sqlErr("deleting target rows ("+j.a.InsertMode+")", err)
		}
		r.Deleted = tag.RowsAffected()
	}
	tag, err := tx.Exec(ctx, ins)
	if err != nil {
		return Replica{}, sqlErr("inserting into "+t.String()+" ("+j.a.InsertMode+")", err)
	}
	r.Rows = tag.RowsAffected()
	if _, err := tx.Exec(ctx, dropStagingSQL()); err != nil {
		return Replica{}, sqlErr("dropping the staging table", err)
	}
	return r, nil
}

// keys are the key columns as stored (unquoted identifiers fold to lower case).
func (j *job) keys() []string {
	out := make([]string, len(j.a.KeyColumns))
	for i, k := range j.a.KeyColumns {
		out[i] = strings.ToLower(k)
	}
	return out
}

// columns reads the target's loadable columns; no columns means no table (or none we may see).
func (j *job) columns(ctx context.Context, tx pgx.Tx, t target, d redshift.Dialect) ([]string, error) {
	rows, err := tx.Query(ctx, columnsQuery(t, d))
	if err != nil {
		return nil, sqlErr("reading the columns of "+t.String(), err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, sqlErr("reading the columns of "+t.String(), err)
	}
	if len(cols) == 0 {
		return nil, activity.Permanent(fmt.Errorf("redshift_copy.table: table %s does not exist on connection %s (or this connection's user cannot see it); create it first", t, j.conn))
	}
	for i, k := range j.keys() {
		if !slices.Contains(cols, k) {
			return nil, activity.Permanent(fmt.Errorf("redshift_copy.key_columns[%d]: %q is not a column of %s (columns: %s)", i, j.a.KeyColumns[i], t, strings.Join(cols, ", ")))
		}
	}
	return cols, nil
}

// streamFiles copies every file into the staging table through COPY … FROM STDIN.
func (j *job) streamFiles(ctx context.Context, tx pgx.Tx, files, cols []string, pc *pgCopy) (int64, error) {
	sql := copyStdinSQL(cols, pc.with)
	var total int64
	for _, url := range files {
		n, err := j.streamFile(ctx, tx, url, cols, sql, pc)
		if err != nil {
			return 0, err
		}
		j.log.printf("%s: %s: %d rows", j.conn, url, n)
		total += n
	}
	return total, nil
}

func (j *job) streamFile(ctx context.Context, tx pgx.Tx, url string, cols []string, sql string, pc *pgCopy) (int64, error) {
	r, closer, err := j.ex.openFile(ctx, url, pc)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	switch {
	case j.a.Format == definition.FormatJSON:
		r = newJSONCSV(r, url, cols)
	case pc.text:
		r = &textCSV{rec: newTextRecords(r, url, pc)}
	}
	// pgx turns a read error into a CopyFail whose server error only echoes the message; the
	// reader's own error (with its Permanent mark) is the one to report.
	src := &errKeeper{r: r}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, src, sql)
	if src.err != nil {
		return 0, fmt.Errorf("loading %s: %w", url, src.err)
	}
	if err != nil {
		return 0, sqlErr("loading "+url, err)
	}
	return tag.RowsAffected(), nil
}

// redshiftCopy is one COPY Redshift runs itself: from (an object or a prefix) and its SQL.
type redshiftCopy struct{ from, sql string }

// copyRedshift has Redshift load the files into the staging table.
func (j *job) copyRedshift(ctx context.Context, tx pgx.Tx, c redshiftCopy) (int64, error) {
	j.log.printf("%s: %s", j.conn, c.sql)
	if _, err := tx.Exec(ctx, c.sql); err != nil {
		return 0, sqlErr("COPY from "+c.from, err)
	}
	// Redshift's COPY command tag carries no count; pg_last_copy_count() does.
	var n int64
	if err := tx.QueryRow(ctx, "SELECT pg_last_copy_count()").Scan(&n); err != nil {
		return 0, sqlErr("reading the COPY row count", err)
	}
	j.log.printf("%s: %s: %d rows", j.conn, c.from, n)
	return n, nil
}

// checkKeys refuses staging rows with a NULL or repeated key (see keyProblemSQL).
func (j *job) checkKeys(ctx context.Context, tx pgx.Tx) error {
	keys := j.keys()
	rows, err := tx.Query(ctx, keyProblemSQL(keys))
	if err != nil {
		return sqlErr("checking the key columns", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return sqlErr("checking the key columns", err)
		}
		return nil
	}
	vals := make([]*string, len(keys))
	dest := make([]any, len(keys)+1)
	for i := range vals {
		dest[i] = &vals[i]
	}
	var count int64
	dest[len(keys)] = &count
	if err := rows.Scan(dest...); err != nil {
		return sqlErr("checking the key columns", err)
	}
	parts := make([]string, len(keys))
	for i, v := range vals {
		if v == nil {
			return activity.Permanent(fmt.Errorf("redshift_copy.key_columns: the files hold a row whose key column %s is NULL; insert_mode %s needs every row to have a key", keys[i], j.a.InsertMode))
		}
		parts[i] = keys[i] + "=" + *v
	}
	return activity.Permanent(fmt.Errorf("redshift_copy.key_columns: the files hold %d rows with key (%s); insert_mode %s needs one row per key", count, strings.Join(parts, ", "), j.a.InsertMode))
}

// errKeeper remembers the error of the reader COPY streams from.
type errKeeper struct {
	r   io.Reader
	err error
}

func (e *errKeeper) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err //nolint:wrapcheck // io.EOF must reach pgx unwrapped; other errors are kept above
}

// sqlErr wraps a database error with what was being done. Errors in the data or the
// definition (SQLSTATE classes 22 data exception, 23 integrity constraint violation, 42 syntax
// error or access rule violation — a missing column, no privilege) cannot be fixed by a retry
// and are Permanent; the rest (connection loss, serialization failures) are not.
func sqlErr(doing string, err error) error {
	msg := err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Detail != "" {
			msg += ": " + pgErr.Detail
		}
		if pgErr.Where != "" {
			msg += " (" + pgErr.Where + ")"
		}
	}
	out := &dbError{msg: doing + ": " + msg, err: err}
	switch code := redshift.SQLState(err); {
	case strings.HasPrefix(code, "22"), strings.HasPrefix(code, "23"), strings.HasPrefix(code, "42"):
		return activity.Permanent(out)
	}
	return out
}

// dbError is a database error with what was being done and the server's detail and context in
// its message; it still unwraps to the driver's error.
type dbError struct {
	msg string
	err error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.err }
