// Package precond checks wait_for preconditions: an object exists, a prefix holds objects, a
// query returns rows. The engine pokes until the condition holds or the wait times out; one poke
// is one cheap look.
package precond

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/mysql"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// Storage is the part of *storage.Store the pokers use.
type Storage interface {
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	Exists(ctx context.Context, url string) (bool, error)
}

var _ Storage = (*storage.Store)(nil)

// New returns the Poker of wait_for preconditions. Poke returns (false, nil) while the condition
// does not hold, and an error only when it cannot be checked: a malformed URL, S3 not
// configured, an unknown connection, a query that does not parse (all permanent), or a store or
// database that failed (retryable).
func New(store Storage, conns *conn.Resolver, opts ...Option) activity.Poker {
	p := &poker{store: store, conns: conns}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Option configures the Poker.
type Option func(*poker)

// Runs tells whether another pipeline's successful runs cover an interval (wait_for.pipeline);
// state.Covered on the runner's state database.
type Runs interface {
	Covered(ctx context.Context, pipeline string, from, to time.Time) (ok bool, missing time.Time, err error)
}

// WithRuns checks wait_for.pipeline against runs; without it the condition cannot be checked.
func WithRuns(r Runs) Option { return func(p *poker) { p.runs = r } }

type poker struct {
	store Storage
	conns *conn.Resolver
	runs  Runs
}

func (p *poker) Poke(ctx context.Context, w *definition.WaitFor) (bool, error) {
	if w == nil {
		return false, activity.Permanent(errors.New("wait_for: no precondition given"))
	}
	set := 0
	for _, on := range []bool{w.S3KeyExists != "", w.S3PrefixNotEmpty != "", w.SQLReturnsRows != nil, w.Pipeline != nil} {
		if on {
			set++
		}
	}
	if set != 1 {
		return false, activity.Permanent(fmt.Errorf("wait_for sets %d conditions; set exactly one of s3_key_exists, s3_prefix_not_empty, sql_returns_rows, pipeline", set))
	}
	switch {
	case w.Pipeline != nil:
		return p.pipelineSucceeded(ctx, w.Pipeline)
	case w.S3KeyExists != "":
		ok, err := p.store.Exists(ctx, w.S3KeyExists)
		if err != nil {
			return false, storageErr("wait_for.s3_key_exists", err)
		}
		return ok, nil
	case w.S3PrefixNotEmpty != "":
		objs, err := p.store.List(ctx, w.S3PrefixNotEmpty)
		if err != nil {
			return false, storageErr("wait_for.s3_prefix_not_empty", err)
		}
		return len(objs) > 0, nil
	default:
		return p.sqlReturnsRows(ctx, w.SQLReturnsRows)
	}
}

// pipelineSucceeded holds when the named pipeline's successful runs cover [Start, End) (the
// engine renders them from the waiting run's interval when the definition leaves them empty).
func (p *poker) pipelineSucceeded(ctx context.Context, w *definition.WaitForPipeline) (bool, error) {
	if p.runs == nil {
		return false, activity.Permanent(errors.New("wait_for.pipeline: this runner has no state database to check"))
	}
	from, err := time.Parse(time.RFC3339Nano, w.Start)
	if err != nil {
		return false, activity.Permanent(fmt.Errorf("wait_for.pipeline.start %q: %w", w.Start, err))
	}
	to, err := time.Parse(time.RFC3339Nano, w.End)
	if err != nil {
		return false, activity.Permanent(fmt.Errorf("wait_for.pipeline.end %q: %w", w.End, err))
	}
	if !to.After(from) {
		return false, activity.Permanent(fmt.Errorf("wait_for.pipeline: end %s is not after start %s", w.End, w.Start))
	}
	ok, _, err := p.runs.Covered(ctx, w.Name, from, to)
	if err != nil {
		return false, fmt.Errorf("wait_for.pipeline %s: %w", w.Name, err)
	}
	return ok, nil
}

// storageErr marks the errors retrying cannot fix. The store's errors name the URL.
func storageErr(path string, err error) error {
	err = fmt.Errorf("%s: %w", path, err)
	if errors.Is(err, storage.ErrInvalidURL) || errors.Is(err, storage.ErrS3NotConfigured) {
		return activity.Permanent(err)
	}
	return err
}

// sqlReturnsRows runs the query wrapped as SELECT 1 FROM (<sql>) LIMIT 1: the answer is the same
// (at least one row or none), but a poke never fetches more than one row of a large result and
// the author's SQL cannot be anything but a query.
func (p *poker) sqlReturnsRows(ctx context.Context, q *definition.SQLReturnsRows) (bool, error) {
	const path = "wait_for.sql_returns_rows"
	body := strings.TrimRight(strings.TrimSpace(q.SQL), "; \t\r\n")
	if body == "" {
		return false, activity.Permanent(fmt.Errorf("%s.sql is empty", path))
	}
	var query func(context.Context, string) ([]redshift.Row, error)
	var err error
	if p.conns.Kind(q.Connection) == conn.KindMySQL {
		var db *mysql.DB
		if db, err = p.conns.GetMySQL(ctx, q.Connection); err == nil {
			query = db.Query
		}
	} else {
		var x *redshift.PgxExecutor
		if x, err = p.conns.Get(ctx, q.Connection); err == nil {
			query = x.Query
		}
	}
	if err != nil {
		err = fmt.Errorf("%s.connection: %w", path, err)
		if conn.IsPermanent(err) {
			return false, activity.Permanent(err)
		}
		return false, err
	}
	// The newline ends a trailing -- comment before the closing parenthesis.
	rows, err := query(ctx, "SELECT 1 FROM (\n"+body+"\n) AS sluice_wait_for LIMIT 1")
	if err != nil {
		err = fmt.Errorf("%s on connection %s: %w", path, q.Connection, err)
		if mysql.Permanent(err) {
			return false, activity.Permanent(err)
		}
		switch redshift.SQLState(err) {
		case "42601", "42P01", "42703", "42883", "3F000":
			// syntax error, undefined table, column or function, schema: the query itself is
			// wrong. An undefined table counts: waiting for a table to appear is written as a
			// query on the catalog, which parses whether or not the table exists.
			return false, activity.Permanent(err)
		}
		return false, err
	}
	return len(rows) > 0, nil
}
