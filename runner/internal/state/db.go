// Package state is the runner's database: where it opens (SQLite file or PostgreSQL), the
// runner's own tables beside River's (runs, activity instances, attempts, freshness, the
// definitions each run started with), their migrations, and the queries on them. Everything
// here runs inside a transaction the caller owns, so the engine can change these tables in the
// same transaction as the River job that causes the change.
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver River's riversqlite driver runs on
)

// Dialect is the database the state lives in.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DefaultURL is the database a runner uses when none is given: a SQLite file in the working
// directory. One runner per SQLite file; several runners share a PostgreSQL database.
const DefaultURL = "sqlite://sluice-runner.db"

// DB is an open state database. Exactly one of SQL and Pool is set.
type DB struct {
	Dialect Dialect
	// Where is the database for messages: the SQLite path or the PostgreSQL URL without its
	// password.
	Where string
	// SQL is the SQLite database, limited to one connection: SQLite allows one writer, and a
	// second connection would meet SQLITE_BUSY instead of waiting its turn in the pool.
	SQL *sql.DB
	// Pool is the PostgreSQL pool.
	Pool *pgxpool.Pool

	lock *os.File // SQLite: held for the life of the DB so that one runner uses the file
}

// ParseURL says which database rawURL names: "sqlite://path", "sqlite:///abs/path" or a plain
// file path for SQLite, "postgres://…" or "postgresql://…" for PostgreSQL.
func ParseURL(rawURL string) (Dialect, string, error) {
	switch {
	case rawURL == "":
		return ParseURL(DefaultURL)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := pgxpool.ParseConfig(rawURL); err != nil {
			return "", "", fmt.Errorf("database URL %s: %w", redact(rawURL), errors.Unwrap(err))
		}
		return Postgres, rawURL, nil
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if path == "" {
			return "", "", errors.New(`database URL "sqlite://" names no file: use sqlite://sluice-runner.db or sqlite:///var/lib/sluice/runner.db`)
		}
		return SQLite, path, nil
	case strings.Contains(rawURL, "://"):
		scheme, _, _ := strings.Cut(rawURL, "://")
		return "", "", fmt.Errorf("database URL scheme %q is not supported: use sqlite://<file> (one runner) or postgres://… (several runners)", scheme)
	default:
		return SQLite, rawURL, nil
	}
}

// Open opens the database rawURL names and brings its schema up to date (River's migrations,
// then the runner's).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	dialect, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var db *DB
	switch dialect {
	case Postgres:
		db, err = openPostgres(ctx, target)
	default:
		db, err = openSQLite(ctx, target)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", redact(rawURL), errors.Unwrap(err))
	}
	if cfg.MaxConns < 10 {
		cfg.MaxConns = 10 // River's producer, notifier and elector each hold one
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the state database %s: %w", redact(rawURL), redactErr(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to the state database %s: %w", redact(rawURL), redactErr(err))
	}
	return &DB{Dialect: Postgres, Where: redact(rawURL), Pool: pool}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state database %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("state database %s: %w", abs, err)
	}
	lock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, err
	}
	// WAL lets readers (status) work beside the writer; busy_timeout makes a second process
	// (sluice-runner status while serve runs) wait instead of failing; _txlock=immediate takes
	// the write lock at BEGIN so that two transactions never deadlock upgrading a read lock.
	dsn := "file:" + abs + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("state database %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		unlock(lock)
		return nil, fmt.Errorf("state database %s: %w", abs, err)
	}
	return &DB{Dialect: SQLite, Where: abs, SQL: db, lock: lock}, nil
}

// OpenReadOnly opens a SQLite state database for reading while a runner holds it (status), or
// a PostgreSQL one as Open does. It does not migrate.
func OpenReadOnly(ctx context.Context, rawURL string) (*DB, error) {
	dialect, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if dialect == Postgres {
		return openPostgres(ctx, target)
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, fmt.Errorf("state database %s: %w", target, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("state database %s: %w (has a runner run here? pass --database)", abs, err)
	}
	db, err := sql.Open("sqlite", "file:"+abs+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("state database %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1)
	return &DB{Dialect: SQLite, Where: abs, SQL: db}, nil
}

// Close closes the database.
func (db *DB) Close() {
	if db.SQL != nil {
		_ = db.SQL.Close()
	}
	if db.Pool != nil {
		db.Pool.Close()
	}
	unlock(db.lock)
}

// Q runs statements: on a transaction (Tx) or, for reads, on the database.
type Q interface {
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	Query(ctx context.Context, q string, args ...any) (Rows, error)
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// SQLQ adapts a database/sql transaction or database to Q.
func SQLQ(x interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
},
) Q {
	return sqlQ{x}
}

type sqlQ struct {
	x interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
}

func (s sqlQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.x.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", firstWords(q), err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func (s sqlQ) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := s.x.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", firstWords(q), err)
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// PgxQ adapts a pgx transaction or pool to Q.
func PgxQ(x interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
},
) Q {
	return pgxQ{x}
}

type pgxQ struct {
	x interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}
}

func (p pgxQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.x.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", firstWords(q), err)
	}
	return tag.RowsAffected(), nil
}

func (p pgxQ) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := p.x.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", firstWords(q), err)
	}
	return rows, nil
}

// Reader is a Q on the whole database, for reads outside any transaction.
func (db *DB) Reader() Q {
	if db.Pool != nil {
		return PgxQ(db.Pool)
	}
	return SQLQ(db.SQL)
}

// InTx runs fn in a transaction of its own and commits it when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(q Q) error) error {
	if db.Pool != nil {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("beginning a transaction: %w", err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err := fn(PgxQ(tx)); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("committing: %w", err)
		}
		return nil
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(SQLQ(tx)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// firstWords names a statement in errors without echoing all of it.
func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 4 {
		f = f[:4]
	}
	return strings.Join(f, " ")
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// redactErr drops pgx's connection-string details, which can carry the password.
func redactErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Config.Password != "" { // replacing "" would garble every character
		return errors.New(strings.ReplaceAll(ce.Error(), ce.Config.Password, "xxxxx"))
	}
	return err
}

type (
	pgxTx = pgx.Tx
	sqlTx = *sql.Tx
)
