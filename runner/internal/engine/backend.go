package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
}

// client is what the engine needs of a River client, whatever its transaction type.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	// inTx runs fn in a new transaction (job is the job being worked, or nil) and commits.
	inTx(ctx context.Context, job *river.Job[ActivityArgs], fn func(txn) error) error
}

type backend[TTx any] struct {
	*river.Client[TTx]
	begin func(ctx context.Context) (TTx, state.Q, func() error, func(), error)
}

type txnImpl[TTx any] struct {
	b   *backend[TTx]
	tx  TTx
	q   state.Q
	job *river.Job[ActivityArgs]
}

func (t *txnImpl[TTx]) Q() state.Q { return t.q }

func (t *txnImpl[TTx]) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, bool, error) {
	res, err := t.b.InsertTx(ctx, t.tx, args, opts)
	if err != nil {
		return 0, false, fmt.Errorf("queueing a %s job: %w", args.Kind(), err)
	}
	return res.Job.ID, res.UniqueSkippedAsDuplicate, nil
}

func (t *txnImpl[TTx]) InsertMany(ctx context.Context, params []river.InsertManyParams) ([]int64, error) {
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
	if err := fn(&txnImpl[TTx]{b: b, tx: tx, q: q, job: job}); err != nil {
		return err
	}
	return commit()
}

func newPgxBackend(db *state.DB, cfg *river.Config) (*backend[pgx.Tx], error) {
	c, err := river.NewClient(riverpgxv5.New(db.Pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("starting River on %s: %w", db.Where, err)
	}
	return &backend[pgx.Tx]{Client: c, begin: func(ctx context.Context) (pgx.Tx, state.Q, func() error, func(), error) {
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
