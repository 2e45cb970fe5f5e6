package redshift

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Row is one result row; catalog queries cast every column to text, so one representation
// serves pgx and the Redshift Data API alike.
type Row []sql.NullString

// Executor runs SQL on one database. Statements carry no parameters: every identifier and literal
// in them was quoted by QuoteIdent or QuoteLiteral, which the Data API and simple protocol both
// accept.
type Executor interface {
	Dialect() Dialect
	// Query runs one statement and returns its rows.
	Query(ctx context.Context, sql string) ([]Row, error)
	// ExecTx runs statements in one transaction: all or nothing.
	ExecTx(ctx context.Context, stmts ...string) error
	// Exec runs one statement outside any transaction block, for the statements Redshift
	// refuses inside one.
	Exec(ctx context.Context, stmt string) error
	// Queries is how many statements this executor has sent, for the plan-cost benchmark.
	Queries() int64
	Close()
}

// retryable reports whether a database error is one Redshift (or PostgreSQL) asks clients to
// retry: serialization conflicts between concurrent transactions, too many connections, and
// connections dropped by an admin or a failover.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "53300", "57P01", "57P02", "57P03", "08006", "08001", "08004":
			return true
		}
		return false
	}
	return pgconn.SafeToRetry(err)
}

// maxAttempts bounds the retries of a transient error.
const maxAttempts = 5

func withRetry(ctx context.Context, fn func() error) error {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (retrying after: %w)", ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// PgxExecutor is an Executor on a pgx connection pool.
type PgxExecutor struct {
	pool    *pgxpool.Pool
	dialect Dialect
	queries atomic.Int64
}

// OpenPgx connects to url, detects the dialect and checks the settings quoting relies on. With
// iam set, every new connection logs in with credentials from GetClusterCredentials instead of
// the URL's user and password.
func OpenPgx(ctx context.Context, url string, iam *IAMAuth) (*PgxExecutor, error) {
	if iam == nil {
		return OpenPgxWith(ctx, url, nil) // not a nil *IAMAuth inside a non-nil interface
	}
	return OpenPgxWith(ctx, url, iam)
}

// CredentialSource gives the user name and password of each new database connection: IAM
// temporary passwords, or a secret that may be rotated while the pool lives.
type CredentialSource interface {
	Credentials(ctx context.Context) (user, password string, err error)
}

// OpenPgxWith is OpenPgx with any CredentialSource; nil means the URL's own credentials.
func OpenPgxWith(ctx context.Context, url string, creds CredentialSource) (*PgxExecutor, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing the connection settings: %w", redactErr(err))
	}
	if creds != nil {
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, password, err := creds.Credentials(ctx)
			if err != nil {
				return err
			}
			cc.User, cc.Password = user, password
			return nil
		}
	}
	// The simple protocol sends text and returns text: Redshift does not support every
	// extended-protocol feature pgx would otherwise use, and our statements carry no parameters.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, redactErr(err))
	}
	e := &PgxExecutor{pool: pool}
	var version, scs string
	err = withRetry(ctx, func() error {
		return pool.QueryRow(ctx, "SELECT version(), current_setting('standard_conforming_strings')").Scan(&version, &scs)
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, redactErr(err))
	}
	e.dialect = DetectDialect(version)
	if e.dialect == PostgreSQL && scs != "on" {
		pool.Close()
		return nil, errors.New("standard_conforming_strings is off on this PostgreSQL server; sluice quotes literals for the default (on)")
	}
	return e, nil
}

// Dialect implements Executor.
func (e *PgxExecutor) Dialect() Dialect { return e.dialect }

// Queries implements Executor.
func (e *PgxExecutor) Queries() int64 { return e.queries.Load() }

// Close implements Executor.
func (e *PgxExecutor) Close() { e.pool.Close() }

// Pool is the connection pool, for work the Executor interface does not cover (COPY FROM
// STDIN, explicit transactions). Its connections use the simple protocol (see OpenPgx).
func (e *PgxExecutor) Pool() *pgxpool.Pool { return e.pool }

// Query implements Executor.
func (e *PgxExecutor) Query(ctx context.Context, q string) ([]Row, error) {
	var out []Row
	err := withRetry(ctx, func() error {
		out = nil
		e.queries.Add(1)
		rows, err := e.pool.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("query failed: %w", err)
		}
		defer rows.Close()
		n := len(rows.FieldDescriptions())
		for rows.Next() {
			r := make(Row, n)
			dest := make([]any, n)
			for i := range r {
				dest[i] = &r[i]
			}
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("reading a result row: %w", err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("query failed: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExecTx implements Executor.
func (e *PgxExecutor) ExecTx(ctx context.Context, stmts ...string) error {
	return withRetry(ctx, func() error {
		e.queries.Add(int64(len(stmts)))
		return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return &StatementError{SQL: s, Err: err}
				}
			}
			return nil
		})
	})
}

// Exec implements Executor.
func (e *PgxExecutor) Exec(ctx context.Context, stmt string) error {
	return withRetry(ctx, func() error {
		e.queries.Add(1)
		if _, err := e.pool.Exec(ctx, stmt); err != nil {
			return &StatementError{SQL: stmt, Err: err}
		}
		return nil
	})
}

// StatementError says which statement of a transaction failed.
type StatementError struct {
	SQL string
	Err error
}

func (e *StatementError) Error() string {
	msg := e.Err.Error()
	var pgErr *pgconn.PgError
	if errors.As(e.Err, &pgErr) && pgErr.Detail != "" {
		msg += ": " + pgErr.Detail
	}
	return fmt.Sprintf("%s (in: %s)", msg, e.SQL)
}

// redactSQL drops the statement text from an error, for statements that carry a password hash.
func redactSQL(err error) error {
	var se *StatementError
	if errors.As(err, &se) {
		msg := se.Err
		var pgErr *pgconn.PgError
		if errors.As(se.Err, &pgErr) && pgErr.Detail != "" {
			msg = fmt.Errorf("%w: %s", se.Err, pgErr.Detail)
		}
		return msg
	}
	return err
}
func (e *StatementError) Unwrap() error { return e.Err }

// SQLState returns the SQLSTATE of a database error, or "".
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// redactErr keeps connection errors from echoing a password: pgx's parse errors can quote the
// connection string.
func redactErr(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection settings (details withheld: they may contain the password)")
	}
	return err
}
