// Package export executes `export` activities: the rows of a query written to S3 or file://. On
// PostgreSQL and MySQL the runner streams them (csv or JSON lines, gzip optional) into one
// object; on Redshift an UNLOAD writes them. Each attempt of an interval writes the same
// location and replaces what an earlier attempt wrote, so a retry or a reprocess leaves one
// copy of the rows.
package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/mysql"
)

// Storage writes the output; *storage.Store implements it.
type Storage interface {
	Put(ctx context.Context, url string, r io.Reader) error
}

// New returns the executor of export activities.
func New(store Storage, conns *conn.Resolver) activity.Executor {
	return activity.ExecutorFunc(func(ctx context.Context, t *activity.Task) (*activity.Result, error) {
		return run(ctx, store, conns, t)
	})
}

// Object is the name of the object the runner writes under a prefix.
func Object(format string, gz bool) string {
	name := "part-00000." + format
	if gz {
		name += ".gz"
	}
	return name
}

func run(ctx context.Context, store Storage, conns *conn.Resolver, t *activity.Task) (*activity.Result, error) {
	x := t.Activity.Export
	if x == nil {
		return nil, activity.Permanent(fmt.Errorf("activity %q has no export block", t.ActivityID))
	}
	if x.Format != definition.ExportCSV && x.Format != definition.ExportJSON {
		return nil, activity.Permanent(fmt.Errorf("export.format %q is not one of %s", x.Format, strings.Join(definition.ExportFormats(), ", ")))
	}
	query := strings.TrimRight(strings.TrimSpace(x.Query), "; \t\r\n")
	if query == "" {
		return nil, activity.Permanent(errors.New("export.query is empty"))
	}
	log := t.Log
	if log == nil {
		log = io.Discard
	}
	if conns.Kind(x.Connection) == conn.KindMySQL {
		db, err := conns.GetMySQL(ctx, x.Connection)
		if err != nil {
			return nil, connErr(err)
		}
		return stream(ctx, store, x, log, func(ctx context.Context, emit func(cols []string, vals [][]byte) error) error {
			return queryMySQL(ctx, db.SQL(), query, emit)
		})
	}
	pg, err := conns.Get(ctx, x.Connection)
	if err != nil {
		return nil, connErr(err)
	}
	if pg.Dialect() == redshift.Redshift {
		return unload(ctx, pg, x, query, log)
	}
	return stream(ctx, store, x, log, func(ctx context.Context, emit func(cols []string, vals [][]byte) error) error {
		return queryPostgres(ctx, pg, query, emit)
	})
}

func connErr(err error) error {
	if conn.IsPermanent(err) {
		return activity.Permanent(fmt.Errorf("export.connection: %w", err))
	}
	return fmt.Errorf("export.connection: %w", err)
}

// target is where the runner writes: to itself, or the part object under the prefix to.
func target(x *definition.ExportActivity) string {
	if strings.HasSuffix(x.To, "/") {
		return x.To + Object(x.Format, x.Gzip)
	}
	return x.To
}

// stream runs the query through source and writes its rows to the target as they come: the
// result is never held in memory. The object appears whole or not at all (Storage.Put).
func stream(ctx context.Context, store Storage, x *definition.ExportActivity, log io.Writer,
	source func(context.Context, func([]string, [][]byte) error) error) (*activity.Result, error) {
	to := target(x)
	pr, pw := io.Pipe()
	var rows int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var w io.Writer = pw
		var zw *gzip.Writer
		if x.Gzip {
			zw = gzip.NewWriter(pw)
			w = zw
		}
		enc := newEncoder(w, x)
		err := source(ctx, func(cols []string, vals [][]byte) error {
			if vals == nil {
				return enc.header(cols)
			}
			rows++
			return enc.row(cols, vals)
		})
		if err == nil && zw != nil {
			err = zw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	err := store.Put(ctx, to, pr)
	_ = pr.CloseWithError(errors.New("the export stopped")) // ends the writer if Put stopped reading
	<-done
	if err != nil {
		if activity.IsPermanent(err) {
			return nil, err
		}
		var se *redshift.StatementError
		if errors.As(err, &se) && (mysql.Permanent(se.Err) || permanentPG(se.Err)) {
			return nil, activity.Permanent(fmt.Errorf("export.query on %s: %w", x.Connection, se.Err))
		}
		return nil, fmt.Errorf("export to %s: %w", to, err)
	}
	_, _ = fmt.Fprintf(log, "wrote %d rows to %s\n", rows, to)
	return &activity.Result{
		Summary: fmt.Sprintf("exported %d rows to %s", rows, to),
		Details: map[string]any{"connection": x.Connection, "to": to, "rows": rows, "format": x.Format},
	}, nil
}

func permanentPG(err error) bool {
	switch redshift.SQLState(err) {
	case "42601", "42P01", "42703", "42883", "3F000":
		return true
	}
	return false
}

// encoder writes rows as csv (NULL an empty field, an empty string "") or JSON lines (values as
// the database's text, NULL as null).
type encoder struct {
	w      io.Writer
	x      *definition.ExportActivity
	buf    bytes.Buffer
	header func([]string) error
}

func newEncoder(w io.Writer, x *definition.ExportActivity) *encoder {
	e := &encoder{w: w, x: x}
	e.header = func(cols []string) error {
		if !x.Header || x.Format != definition.ExportCSV {
			return nil
		}
		vals := make([][]byte, len(cols))
		for i, c := range cols {
			vals[i] = []byte(c)
		}
		return e.row(cols, vals)
	}
	return e
}

func (e *encoder) row(cols []string, vals [][]byte) error {
	e.buf.Reset()
	if e.x.Format == definition.ExportJSON {
		e.buf.WriteByte('{')
		for i, c := range cols {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			k, _ := json.Marshal(c)
			e.buf.Write(k)
			e.buf.WriteByte(':')
			if vals[i] == nil {
				e.buf.WriteString("null")
			} else {
				v, _ := json.Marshal(string(vals[i]))
				e.buf.Write(v)
			}
		}
		e.buf.WriteString("}\n")
	} else {
		for i, v := range vals {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			if v == nil {
				continue
			}
			if len(v) == 0 || bytes.ContainsAny(v, ",\"\r\n") {
				e.buf.WriteByte('"')
				e.buf.Write(bytes.ReplaceAll(v, []byte(`"`), []byte(`""`)))
				e.buf.WriteByte('"')
			} else {
				e.buf.Write(v)
			}
		}
		e.buf.WriteByte('\n')
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return fmt.Errorf("writing a row: %w", err)
	}
	return nil
}

// queryPostgres runs the query in the simple protocol, whose results are text, and passes each
// row on (first the columns, with nil values).
func queryPostgres(ctx context.Context, x *redshift.PgxExecutor, query string, emit func([]string, [][]byte) error) error {
	rows, err := x.Pool().Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return &redshift.StatementError{SQL: query, Err: err}
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	if err := emit(cols, nil); err != nil {
		return err
	}
	for rows.Next() {
		if err := emit(cols, rows.RawValues()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return &redshift.StatementError{SQL: query, Err: err}
	}
	return nil
}

// queryMySQL runs the query (text protocol: no arguments) and passes each row on.
func queryMySQL(ctx context.Context, db *sql.DB, query string, emit func([]string, [][]byte) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return &redshift.StatementError{SQL: query, Err: err}
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("reading the columns of the result: %w", err)
	}
	if err := emit(cols, nil); err != nil {
		return err
	}
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	vals := make([][]byte, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("reading a row: %w", err)
		}
		for i, r := range raw {
			if r == nil {
				vals[i] = nil
			} else {
				vals[i] = []byte(r)
			}
		}
		if err := emit(cols, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return &redshift.StatementError{SQL: query, Err: err}
	}
	return nil
}

// UnloadSQL is the UNLOAD that has Redshift write the rows itself. CLEANPATH clears the prefix
// first, so a retry leaves only its own files; PARALLEL OFF writes one file while it stays under
// Redshift's 6.2 GB part size.
func UnloadSQL(x *definition.ExportActivity, query string) (string, error) {
	if !strings.HasPrefix(x.To, "s3://") {
		return "", fmt.Errorf("export.to: %q: Redshift UNLOADs to s3:// only", x.To)
	}
	if x.IAMRole == "" {
		return "", errors.New("export.iam_role is required on Redshift: the role UNLOAD assumes to write to S3")
	}
	lit := redshift.Redshift.QuoteLiteral
	var b strings.Builder
	b.WriteString("UNLOAD (" + lit(query) + ") TO " + lit(x.To) + " IAM_ROLE " + lit(x.IAMRole))
	if x.Format == definition.ExportJSON {
		b.WriteString(" FORMAT AS JSON")
	} else {
		b.WriteString(" FORMAT AS CSV")
		if x.Header {
			b.WriteString(" HEADER")
		}
	}
	if x.Gzip {
		b.WriteString(" GZIP")
	}
	b.WriteString(" CLEANPATH PARALLEL OFF")
	return b.String(), nil
}

func unload(ctx context.Context, x *redshift.PgxExecutor, a *definition.ExportActivity, query string, log io.Writer) (*activity.Result, error) {
	stmt, err := UnloadSQL(a, query)
	if err != nil {
		return nil, activity.Permanent(err)
	}
	_, _ = fmt.Fprintf(log, "%s\n", stmt)
	if err := x.Exec(ctx, stmt); err != nil {
		if permanentPG(err) {
			return nil, activity.Permanent(fmt.Errorf("export on %s: %w", a.Connection, err))
		}
		return nil, fmt.Errorf("export on %s: %w", a.Connection, err)
	}
	return &activity.Result{
		Summary: fmt.Sprintf("unloaded to %s", a.To),
		Details: map[string]any{"connection": a.Connection, "to": a.To, "format": a.Format},
	}, nil
}
