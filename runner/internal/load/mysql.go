package load

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/mysql"
)

// Loads into MySQL and MariaDB (a mysql:// connection): the runner reads the files (csv, or
// JSON objects), inserts their rows into a temporary staging table in batches of quoted
// literals, and merges them into the target with the insert mode, in one transaction on one
// session. The session runs with ANSI_QUOTES, so the staging and merge statements are those of
// PostgreSQL but for the few MySQL spells differently.

// MySQLConns resolves MySQL connections; *conn.Resolver implements it.
type MySQLConns interface {
	Kind(name string) string
	GetMySQL(ctx context.Context, name string) (*mysql.DB, error)
}

// mysqlBatchRows and mysqlBatchBytes bound one INSERT of staging rows.
const (
	mysqlBatchRows  = 500
	mysqlBatchBytes = 1 << 20
)

// runMySQL loads the target on a MySQL connection in one transaction.
func (j *job) runMySQL(ctx context.Context, db *mysql.DB) (Replica, error) {
	t, err := parseTarget(j.a.Table, redshift.PostgreSQL)
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	if strings.HasPrefix(j.a.From, DynamoDBScheme) {
		return Replica{}, activity.Permanent(fmt.Errorf("redshift_copy.from: %s: DynamoDB tables load into Redshift connections only; %s is MySQL", j.a.From, j.conn))
	}
	if j.a.Format == definition.FormatParquet {
		return Replica{}, activity.Permanent(errors.New("redshift_copy.format: parquet needs a Redshift connection; MySQL loads csv and json"))
	}
	pc, err := planPostgres(j.a.Format, j.opts)
	if err != nil {
		return Replica{}, activity.Permanent(fmt.Errorf("%w (MySQL connection)", err))
	}
	if pc.quote != 0 && pc.quote != '"' {
		return Replica{}, activity.Permanent(errors.New("redshift_copy.options: QUOTE other than '\"' is not supported when loading into MySQL"))
	}
	files, err := j.ex.files(ctx, j.a.From)
	if err != nil {
		return Replica{}, err
	}
	c, err := db.SQL().Conn(ctx)
	if err != nil {
		return Replica{}, fmt.Errorf("opening a MySQL session: %w", err)
	}
	// A rollback keeps MySQL's temporary tables: a failed load drops its staging table before the
	// session goes back to the pool, and a load drops any left over before it begins.
	dropStaging := "DROP TEMPORARY TABLE IF EXISTS " + redshift.QuoteIdent(stagingTable)
	defer func() {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), dropStaging)
		_ = c.Close()
	}()
	if _, err := c.ExecContext(ctx, dropStaging); err != nil {
		return Replica{}, fmt.Errorf("dropping a left-over staging table: %w", err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return Replica{}, fmt.Errorf("beginning the transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	cols, err := j.mysqlColumns(ctx, tx, t)
	if err != nil {
		return Replica{}, err
	}
	// CREATE and DROP TEMPORARY TABLE do not commit the transaction (other DDL would).
	if _, err := tx.ExecContext(ctx, createStagingSQL(t)); err != nil {
		return Replica{}, fmt.Errorf("creating the staging table: %w", err)
	}
	var r Replica
	for _, url := range files {
		n, err := j.mysqlFile(ctx, tx, url, cols, pc)
		if err != nil {
			return Replica{}, err
		}
		j.log.printf("%s: %s: %d rows", j.conn, url, n)
		r.Copied += n
	}
	keys := j.keys()
	if len(keys) > 0 && j.a.InsertMode != definition.InsertAppend && j.a.InsertMode != definition.InsertTruncate {
		var dup string
		err := tx.QueryRowContext(ctx, strings.ReplaceAll(keyProblemSQL(keys), "AS VARCHAR(256)", "AS CHAR(256)")).Scan(sqlDiscard(len(keys)+1, &dup)...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return Replica{}, fmt.Errorf("checking the key columns: %w", err)
		default:
			return Replica{}, activity.Permanent(fmt.Errorf("redshift_copy.key_columns: the files hold a key (%s) that is NULL or appears more than once; "+
				"%s needs one row per key", strings.Join(j.a.KeyColumns, ", "), j.a.InsertMode))
		}
	}
	del, ins, err := mergeSQL(j.a.InsertMode, t, cols, keys)
	if err != nil {
		return Replica{}, activity.Permanent(err)
	}
	if j.a.InsertMode == definition.InsertOverwriteExisting {
		// MySQL's multi-table DELETE names the target in USING too.
		sq := redshift.QuoteIdent(stagingTable)
		var on []string
		for _, k := range keys {
			on = append(on, t.quoted()+"."+redshift.QuoteIdent(k)+" = "+sq+"."+redshift.QuoteIdent(k))
		}
		del = "DELETE FROM " + t.quoted() + " USING " + t.quoted() + " INNER JOIN " + sq + " ON " + strings.Join(on, " AND ")
	}
	if del != "" {
		res, err := tx.ExecContext(ctx, del)
		if err != nil {
			return Replica{}, mysqlErr("deleting the replaced rows", err)
		}
		r.Deleted, _ = res.RowsAffected()
	}
	res, err := tx.ExecContext(ctx, ins)
	if err != nil {
		return Replica{}, mysqlErr("inserting into "+t.String(), err)
	}
	r.Rows, _ = res.RowsAffected()
	if _, err := tx.ExecContext(ctx, "DROP TEMPORARY TABLE "+redshift.QuoteIdent(stagingTable)); err != nil {
		return Replica{}, fmt.Errorf("dropping the staging table: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Replica{}, fmt.Errorf("committing the load into %s: %w", t, err)
	}
	r.Status = StatusSuccess
	j.log.printf("%s: %s: %d rows from the files, %d deleted, %d inserted into %s", j.conn, j.a.InsertMode, r.Copied, r.Deleted, r.Rows, t)
	return r, nil
}

// sqlDiscard returns n scan targets, the first being first.
func sqlDiscard(n int, first *string) []any {
	out := []any{first}
	for i := 1; i < n; i++ {
		out = append(out, new(sql.NullString))
	}
	return out
}

func mysqlErr(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if mysql.Permanent(err) {
		return activity.Permanent(err)
	}
	return err
}

// mysqlColumns reads the target's columns (generated ones cannot be written).
func (j *job) mysqlColumns(ctx context.Context, tx *sql.Tx, t target) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = "+mysql.QuoteLiteral(t.schema)+
		" AND table_name = "+mysql.QuoteLiteral(t.table)+" AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position")
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", t, err)
	}
	defer func() { _ = rows.Close() }()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("reading the columns of %s: %w", t, err)
		}
		cols = append(cols, strings.ToLower(c))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", t, err)
	}
	if len(cols) == 0 {
		return nil, activity.Permanent(fmt.Errorf("redshift_copy.table: table %s does not exist on connection %s (the schema is the MySQL database); create it first", t, j.conn))
	}
	for i, k := range j.keys() {
		found := false
		for _, c := range cols {
			found = found || c == k
		}
		if !found {
			return nil, activity.Permanent(fmt.Errorf("redshift_copy.key_columns[%d]: %q is not a column of %s (columns: %s)", i, j.a.KeyColumns[i], t, strings.Join(cols, ", ")))
		}
	}
	return cols, nil
}

// mysqlFile inserts one file's rows into the staging table.
func (j *job) mysqlFile(ctx context.Context, tx *sql.Tx, url string, cols []string, pc *pgCopy) (int64, error) {
	r, closer, err := j.ex.openFile(ctx, url, pc)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	next := j.mysqlRecords(r, url, cols, pc)
	head := "INSERT INTO " + redshift.QuoteIdent(stagingTable) + " (" + redshift.QuoteIdentList(cols) + ") VALUES "
	var b strings.Builder
	var n, inBatch int64
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, b.String()); err != nil {
			return mysqlErr("loading "+url, err)
		}
		b.Reset()
		inBatch = 0
		return nil
	}
	for {
		rec, line, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		if len(rec) != len(cols) {
			return 0, activity.Permanent(fmt.Errorf("loading %s: line %d has %d fields, the table %d columns (%s)", url, line, len(rec), len(cols), strings.Join(cols, ", ")))
		}
		if inBatch == 0 {
			b.WriteString(head)
		} else {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, v := range rec {
			if i > 0 {
				b.WriteString(", ")
			}
			if v == nil {
				b.WriteString("NULL")
			} else {
				b.WriteString(mysql.QuoteLiteral(*v))
			}
		}
		b.WriteByte(')')
		n++
		inBatch++
		if inBatch >= mysqlBatchRows || b.Len() >= mysqlBatchBytes {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, flush()
}

// mysqlRecords reads a file's records: nil fields are NULL. csv (and JSON, as CSV) goes through
// encoding/csv, where the NULL string (empty unless NULL AS) is NULL; text through textRecords.
func (j *job) mysqlRecords(r io.Reader, url string, cols []string, pc *pgCopy) func() ([]*string, int, error) {
	if pc.text {
		tr := newTextRecords(r, url, pc)
		return func() ([]*string, int, error) {
			rec, err := tr.Read()
			return rec, tr.line, err
		}
	}
	if j.a.Format == definition.FormatJSON {
		r = newJSONCSV(r, url, cols)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	if pc.delimiter != 0 && j.a.Format == definition.FormatCSV {
		cr.Comma = rune(pc.delimiter)
	}
	null := ""
	if pc.null != nil {
		null = *pc.null
	}
	return func() ([]*string, int, error) {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, line, activity.Permanent(fmt.Errorf("loading %s: %w", url, err))
			}
			return nil, line, fmt.Errorf("loading %s: %w", url, err)
		}
		out := make([]*string, len(rec))
		for i := range rec {
			if rec[i] != null {
				v := rec[i]
				out[i] = &v
			}
		}
		return out, line, nil
	}
}
