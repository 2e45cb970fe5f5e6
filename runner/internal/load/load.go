// Package load is the executor of redshift_copy activities: it loads files (s3:// or file://,
// csv, json or parquet) into a table on one connection or fans out to several (replicas).
//
// Each target is loaded in one transaction: a temporary staging table LIKE the target receives
// the files, the insert mode moves the rows into the target, the staging table is dropped and
// the commit publishes everything at once. Any failure rolls back and leaves the target as it
// was, so every mode but APPEND can be retried safely:
//
//   - TRUNCATE: DELETE FROM target (not TRUNCATE, which on Redshift commits the transaction and
//     on PostgreSQL locks readers out), then INSERT … SELECT from staging.
//   - APPEND: INSERT … SELECT from staging. A retry after a commit loads the rows again.
//   - KEEP_EXISTING: insert the staging rows whose key_columns match no target row.
//   - OVERWRITE_EXISTING: DELETE FROM target USING staging where the keys match, then insert
//     every staging row.
//
// The key modes do not deduplicate within a load: files whose rows repeat a key, or have a NULL
// key, fail the load with a Permanent error naming the key. Which of two rows "wins" depends on
// an order COPY does not keep, and a NULL key never matches, so a retry would insert that row
// again — either would break idempotence silently.
//
// On Redshift the staging table is filled by COPY … FROM 's3://…' IAM_ROLE …, which Redshift
// runs itself (from is then a key prefix to Redshift, even without a trailing "/"). On
// PostgreSQL (local development and tests) the runner streams each file through COPY … FROM
// STDIN: csv as it is, json converted to CSV on the fly, .gz and .bz2 decompressed. Objects
// named "_…" under a prefix (_SUCCESS) are markers and are not loaded.
//
// A fan-out loads every replica independently; see Execute for what a partial failure means.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// Storage reads the files of a load; *storage.Store implements it.
type Storage interface {
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	Open(ctx context.Context, url string) (io.ReadCloser, error)
}

// Conns resolves connection names; *conn.Resolver implements it.
type Conns interface {
	Get(ctx context.Context, name string) (*redshift.PgxExecutor, error)
}

// MaxParallelReplicas bounds how many replicas of a fan-out load at once: each holds a
// connection and, on PostgreSQL, streams files through the runner.
const MaxParallelReplicas = 4

// Replica statuses in Result.Details["replicas"].
const (
	StatusSuccess = "success"
	StatusFailed  = "failed"
)

// Replica is the outcome of the load on one connection, in Result.Details["replicas"] (a
// map[string]Replica keyed by connection name).
type Replica struct {
	Status string `json:"status"`
	// Rows is how many rows the load inserted into the target (0 on failure: it rolled back).
	Rows int64 `json:"rows"`
	// Copied is how many rows the files held; Deleted how many target rows the insert mode
	// deleted (TRUNCATE, OVERWRITE_EXISTING).
	Copied  int64  `json:"copied"`
	Deleted int64  `json:"deleted"`
	Error   string `json:"error,omitempty"`
}

type executor struct {
	store Storage
	conns Conns
}

// New returns the executor of redshift_copy activities.
func New(store Storage, conns Conns) activity.Executor {
	return &executor{store: store, conns: conns}
}

// Execute loads the files into the table on every connection of the activity, in parallel
// (MaxParallelReplicas at a time), each in its own transaction.
//
// When some replicas fail the others stay committed; the error lists the failed ones and the
// Result (returned along with the error) holds every replica's status. A retry loads every
// replica again — the runner keeps no state to skip the ones that succeeded — which is harmless
// for every mode but APPEND. For APPEND with at least one committed replica the error is
// therefore Permanent: an automatic retry would duplicate the rows there; reprocess by hand once
// the failed replicas are fixed (or load them with their own activity).
func (e *executor) Execute(ctx context.Context, t *activity.Task) (*activity.Result, error) {
	if t.Activity == nil || t.Activity.RedshiftCopy == nil {
		return nil, activity.Permanent(errors.New("redshift_copy: the activity has no redshift_copy block"))
	}
	a := t.Activity.RedshiftCopy
	names := a.Connections
	if a.Connection != "" {
		names = []string{a.Connection}
	}
	if len(names) == 0 {
		return nil, activity.Permanent(errors.New("redshift_copy: set connection or connections"))
	}
	// Checks that need no database, so a broken definition fails the same way on every replica.
	// (Redshift's longer identifier limit here; each connection checks its own dialect's.)
	if _, err := parseTarget(a.Table, redshift.Redshift); err != nil {
		return nil, activity.Permanent(err)
	}
	opts, err := parseOptions(a.Options)
	if err != nil {
		return nil, activity.Permanent(err)
	}
	if _, _, err := mergeSQL(a.InsertMode, target{}, nil, a.KeyColumns); err != nil {
		return nil, activity.Permanent(err)
	}
	if (a.InsertMode == definition.InsertKeepExisting || a.InsertMode == definition.InsertOverwriteExisting) && len(a.KeyColumns) == 0 {
		return nil, activity.Permanent(fmt.Errorf("redshift_copy.key_columns: insert_mode %s needs key_columns", a.InsertMode))
	}

	logw := lockedWriter{w: t.Log}
	if t.Log == nil {
		logw.w = io.Discard
	}
	logger := t.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	results := make([]Replica, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, MaxParallelReplicas)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = fmt.Errorf("connection %s: %w", name, ctx.Err())
				results[i] = Replica{Status: StatusFailed, Error: errs[i].Error()}
				return
			}
			j := &job{ex: e, a: a, opts: opts, conn: name, log: &logw}
			r, err := j.run(ctx)
			if err != nil {
				errs[i] = err
				results[i] = Replica{Status: StatusFailed, Error: err.Error()}
				logger.Warn("redshift_copy failed on a connection", "connection", name, "table", a.Table, "error", err.Error())
				return
			}
			results[i] = r
			logger.Info("redshift_copy loaded", "connection", name, "table", a.Table, "rows", r.Rows, "copied", r.Copied, "deleted", r.Deleted)
		})
	}
	wg.Wait()

	return summarize(a, names, results, errs)
}

// summarize builds the Result and, when any replica failed, the error.
func summarize(a *definition.RedshiftCopyActivity, names []string, results []Replica, errs []error) (*activity.Result, error) {
	replicas := make(map[string]Replica, len(names))
	var failed, succeeded []string
	var failures []error
	allPermanent := true
	for i, name := range names {
		replicas[name] = results[i]
		if errs[i] != nil {
			failed = append(failed, name)
			failures = append(failures, fmt.Errorf("%s: %w", name, errs[i]))
			allPermanent = allPermanent && activity.IsPermanent(errs[i])
			continue
		}
		succeeded = append(succeeded, name)
	}
	res := &activity.Result{Details: map[string]any{"replicas": replicas}}
	if len(failed) == 0 {
		// "loaded 1,204 rows into web.page_views on warehouse, 1,204 on replica"
		res.Summary = "loaded " + thousands(results[0].Rows) + " rows into " + a.Table + " on " + names[0]
		for i := 1; i < len(names); i++ {
			res.Summary += ", " + thousands(results[i].Rows) + " on " + names[i]
		}
		return res, nil
	}

	if len(names) == 1 {
		res.Summary = fmt.Sprintf("redshift_copy into %s on %s failed and was rolled back", a.Table, names[0])
		err := fmt.Errorf("%s: %w", res.Summary, errs[0])
		if allPermanent {
			err = activity.Permanent(err)
		}
		return res, err
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "redshift_copy into %s failed on %d of %d connections (%s), rolled back there", a.Table, len(failed), len(names), strings.Join(failed, ", "))
	if len(succeeded) > 0 {
		fmt.Fprintf(&msg, "; committed on %s", strings.Join(succeeded, ", "))
		if a.InsertMode == definition.InsertAppend {
			msg.WriteString("; not retried automatically: insert_mode APPEND would load the rows again where they were committed")
		} else {
			msg.WriteString(" (a retry loads those again, which insert_mode " + a.InsertMode + " makes harmless)")
		}
	}
	res.Summary = msg.String()
	err := fmt.Errorf("%s: %w", msg.String(), errors.Join(failures...))
	if allPermanent || (a.InsertMode == definition.InsertAppend && len(succeeded) > 0) {
		err = activity.Permanent(err)
	}
	return res, err
}

// thousands formats n with comma separators: 1204 → "1,204".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// lockedWriter serialises the attempt log of parallel replicas (Task.Log need not be safe for
// concurrent use) and keeps each line whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.w, format+"\n", args...)
}

// connectionUnusable reports whether err says the connection cannot be used and retrying will not help: no such connection, or an unusable secret.
func connectionUnusable(err error) bool { return conn.IsPermanent(err) }
