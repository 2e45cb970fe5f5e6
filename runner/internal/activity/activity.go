// Package activity is the contract between the runner's engine and the executors of activity
// kinds: what one attempt of one activity gets (a Task) and returns (a Result or an error).
// Executors live in their own packages (shell, s3copy, sqlrun, load, emrstep); the engine picks
// one by kind.
package activity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// KindNoop is a built-in kind for benchmarks and tests: it does nothing and succeeds. It is not
// part of the published format; definitions cannot name it.
const KindNoop = "noop"

// Task is one attempt of one activity of one run.
type Task struct {
	Pipeline   string
	RunID      int64
	ActivityID string
	// Attempt counts from 1.
	Attempt  int
	Interval definition.Interval
	// Activity has every template already rendered for this run (see Render).
	Activity *definition.Activity
	Params   map[string]string
	// Log is the attempt log: what the activity printed or did, bounded in size (LogBuffer).
	Log io.Writer
	// Logger logs to the runner's log, with the pipeline, run and activity attached.
	Logger *slog.Logger
}

// Data is the template data of the task's run.
func (t *Task) Data() definition.TemplateData {
	return definition.TemplateData{
		Start: t.Interval.Start, End: t.Interval.End, Params: t.Params,
		Pipeline: t.Pipeline, RunID: RunIDString(t.RunID),
	}
}

// Result is what a successful attempt reports. It is stored with the attempt and shown by
// status.
type Result struct {
	// Summary is one line for humans: "loaded 1,204 rows into web.page_views".
	Summary string `json:"summary,omitempty"`
	// Details are kind-specific facts, e.g. per-replica status of a fan-out load or the outcome
	// of each check.
	Details map[string]any `json:"details,omitempty"`
	// Warnings are problems that do not fail the activity (checks with severity warn).
	Warnings []string `json:"warnings,omitempty"`
	// Freshness is the newest data seen per subject (a table), e.g. by a freshness check.
	Freshness map[string]time.Time `json:"freshness,omitempty"`
}

// Executor runs one kind of activity. Execute must honour ctx (the per-attempt timeout and
// cancellation) and must be safe to call again for the same task after a crash: every kind but
// redshift_copy APPEND is idempotent.
type Executor interface {
	Execute(ctx context.Context, t *Task) (*Result, error)
}

// Abandoner is an Executor that can end what earlier attempts of a task left behind — a
// transient EMR cluster whose runner died — when no further attempt will run to do it: every
// attempt was cut short by a dying runner. The engine calls Abandon instead of Execute then.
type Abandoner interface {
	Abandon(ctx context.Context, t *Task) error
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, t *Task) (*Result, error)

// Execute implements Executor.
func (f ExecutorFunc) Execute(ctx context.Context, t *Task) (*Result, error) { return f(ctx, t) }

// Poker checks a wait_for precondition once: true when it holds.
type Poker interface {
	Poke(ctx context.Context, w *definition.WaitFor) (bool, error)
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (a failed QA check, an unknown
// connection, a malformed input): the engine fails the activity without using its retries.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Noop is the executor of KindNoop.
var Noop Executor = ExecutorFunc(func(ctx context.Context, _ *Task) (*Result, error) {
	return &Result{}, ctx.Err()
})
