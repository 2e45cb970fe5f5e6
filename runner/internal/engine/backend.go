package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// txn is one transaction of the state database with River's job operations on it. The
// engine's logic is written against it once; backend[TTx] implements it for each driver.
type txn interface {
	Q() state.Q
	// Insert inserts a job in this transaction and returns its id; skipped is true when a
	// unique job with the same arguments already exists.
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (id int64, skipped bool, err error)
	// InsertMany inserts jobs in one statement and returns their ids in the same order
	// (the existing job's id for a unique job that was already there).
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]int64, error)
	// CompleteJob marks the job being worked completed, in this transaction.
	CompleteJob(ctx context.Context) error
	// CancelJob cancels a job in this transaction: a queued job never runs, and the runner
	// working a running one cancels its context (at once with a notifier, within two seconds
	// when polling).
	CancelJob(ctx context.Context, id int64) error
	// AfterCommit runs fn once the transaction has committed, and never if it does not:
	// what must not happen for a change that rolled back (a metric counted, a kick of the
	// loop that must see the change).
	AfterCommit(fn func())
}

// client is what the engine needs of a River client, whatever its transaction type.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	// inTx runs fn in a new transaction (job is the job being worked, or nil) and commits.
	inTx(ctx context.Context, job *river.Job[ActivityArgs], fn func(txn) error) error
	// statements and commits made through inTx so far.
	totals() (statements, commits int64)
	// autocommit runs fn's one statement as a transaction of its own, without BEGIN and
	// COMMIT round trips (PostgreSQL commits a lone statement by itself); where the backend
	// cannot (SQLite), it is inTx.
	autocommit(ctx context.Context, fn func(q state.Q) error) error
}

func (b *backend[TTx]) totals() (int64, int64) {
	return b.counts.Statements.Load(), b.counts.Commits.Load()
}

type backend[TTx any] struct {
	*river.Client[TTx]
	begin func(ctx context.Context) (TTx, state.Q, func() error, func(), error)
	// pool runs lone statements outside any transaction (nil: not supported).
	pool state.Q
	// counts are the statements and commits of the transactions run through inTx: the hot
	// path's cost, which a test bounds per activity and `make bench` reports.
	counts Counts
}

// Counts are the statements and commits the engine's job transactions made (activities
// started and finished, runs started); River's own fetching and completing are not in them.
type Counts struct {
	Statements, Commits atomic.Int64
}

// countingQ counts the statements run on a transaction.
type countingQ struct {
	state.Q
	n *atomic.Int64
}

func (c countingQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.n.Add(1)
	return c.Q.Exec(ctx, q, args...)
}

func (c countingQ) Query(ctx context.Context, q string, args ...any) (state.Rows, error) {
	c.n.Add(1)
	return c.Q.Query(ctx, q, args...)
}

type txnImpl[TTx any] struct {
	b     *backend[TTx]
	tx    TTx
	q     state.Q
	job   *river.Job[ActivityArgs]
	after []func()
}

func (t *txnImpl[TTx]) AfterCommit(fn func()) { t.after = append(t.after, fn) }

func (t *txnImpl[TTx]) Q() state.Q { return countingQ{Q: t.q, n: &t.b.counts.Statements} }

func (t *txnImpl[TTx]) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, bool, error) {
	t.b.counts.Statements.Add(1)
	res, err := t.b.InsertTx(ctx, t.tx, args, opts)
	if err != nil {
		return 0, false, fmt.Errorf("queueing a %s job: %w", args.Kind(), err)
	}
	return res.Job.ID, res.UniqueSkippedAsDuplicate, nil
}

func (t *txnImpl[TTx]) InsertMany(ctx context.Context, params []river.InsertManyParams) ([]int64, error) {
	t.b.counts.Statements.Add(1) // one INSERT for all of them
	res, err := t.b.InsertManyTx(ctx, t.tx, params)
	if err != nil {
		return nil, fmt.Errorf("queueing %d jobs: %w", len(params), err)
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.Job.ID
	}
	return ids, nil
}

func (t *txnImpl[TTx]) CompleteJob(ctx context.Context) error {
	if t.job == nil {
		return nil
	}
	t.b.counts.Statements.Add(1)
	if _, err := river.JobCompleteTx[riverdriver.Driver[TTx]](ctx, t.tx, t.job); err != nil {
		return fmt.Errorf("completing job %d: %w", t.job.ID, err)
	}
	return nil
}

func (t *txnImpl[TTx]) CancelJob(ctx context.Context, id int64) error {
	if _, err := t.b.JobCancelTx(ctx, t.tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("cancelling job %d: %w", id, err)
	}
	return nil
}

func (b *backend[TTx]) inTx(ctx context.Context, job *river.Job[ActivityArgs], fn func(txn) error) error {
	tx, q, commit, rollback, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer rollback()
	t := &txnImpl[TTx]{b: b, tx: tx, q: q, job: job}
	if err := fn(t); err != nil {
		return err
	}
	b.counts.Commits.Add(1)
	if err := commit(); err != nil {
		return err
	}
	for _, f := range t.after {
		f()
	}
	return nil
}

func (b *backend[TTx]) autocommit(ctx context.Context, fn func(q state.Q) error) error {
	if b.pool == nil {
		return b.inTx(ctx, nil, func(t txn) error { return fn(t.Q()) })
	}
	b.counts.Commits.Add(1)
	return fn(countingQ{Q: b.pool, n: &b.counts.Statements})
}

func newPgxBackend(db *state.DB, cfg *river.Config) (*backend[pgx.Tx], error) {
	c, err := river.NewClient(riverpgxv5.New(db.Pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("starting River on %s: %w", db.Where, err)
	}
	return &backend[pgx.Tx]{Client: c, pool: state.PgxQ(db.Pool), begin: func(ctx context.Context) (pgx.Tx, state.Q, func() error, func(), error) {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("beginning a transaction: %w", err)
		}
		commit := func() error {
			if err := tx.Commit(ctx); err != nil {
				return fmt.Errorf("committing: %w", err)
			}
			return nil
		}
		return tx, state.PgxQ(tx), commit, func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }, nil
	}}, nil
}

func newSQLiteBackend(db *state.DB, cfg *river.Config) (*backend[*sql.Tx], error) {
	c, err := river.NewClient(riversqlite.New(db.SQL), cfg)
	if err != nil {
		return nil, fmt.Errorf("starting River on %s: %w", db.Where, err)
	}
	return &backend[*sql.Tx]{Client: c, begin: func(ctx context.Context) (*sql.Tx, state.Q, func() error, func(), error) {
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("beginning a transaction: %w", err)
		}
		commit := func() error {
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("committing: %w", err)
			}
			return nil
		}
		return tx, state.SQLQ(tx), commit, func() { _ = tx.Rollback() }, nil
	}}, nil
}
