// Package s3copy is the executor of s3_copy activities: it copies one object, or every object
// under a prefix, between s3:// and file:// locations in any direction (s3→file, file→s3,
// s3→s3, file→file). Copies overwrite, so running an attempt again gives the same result.
package s3copy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// workers is how many objects of a prefix are copied at once: enough to hide S3's per-request
// latency on a prefix of many small files, few enough not to be throttled.
const workers = 4

// New returns the executor of s3_copy activities, reading and writing through store.
func New(store *storage.Store) activity.Executor { return &executor{store: store} }

type executor struct{ store *storage.Store }

// job is one object to copy.
type job struct{ from, to string }

// Execute copies the task's s3_copy.from to s3_copy.to. A from ending in "/" is a prefix: every
// object under it is copied under to, which must then end in "/", keeping its name relative to
// from. Otherwise from is one object, copied to the key to or, when to ends in "/", into it under
// its own base name.
func (e *executor) Execute(ctx context.Context, t *activity.Task) (*activity.Result, error) {
	if t.Activity == nil || t.Activity.S3Copy == nil {
		return nil, activity.Permanent(fmt.Errorf("activity %q has no s3_copy block", t.ActivityID))
	}
	from, to := t.Activity.S3Copy.From, t.Activity.S3Copy.To
	jobs, err := e.plan(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("s3_copy from %s to %s: %w", from, to, err)
	}
	log := t.Log
	if log == nil {
		log = io.Discard
	}
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		_, _ = fmt.Fprintf(log, format+"\n", args...)
	}
	logf("copying %d %s from %s to %s", len(jobs), plural(len(jobs), "object"), from, to)

	var bytes atomic.Int64
	if err := e.copyAll(ctx, jobs, &bytes, logf); err != nil {
		return nil, fmt.Errorf("s3_copy from %s to %s: %w", from, to, err)
	}
	n, b := len(jobs), bytes.Load()
	logf("copied %d %s, %d bytes", n, plural(n, "object"), b)
	return &activity.Result{
		Summary: fmt.Sprintf("copied %d %s (%s) from %s to %s", n, plural(n, "object"), formatBytes(b), from, to),
		Details: map[string]any{"objects": n, "bytes": b, "from": from, "to": to},
	}, nil
}

// plan checks the locations and lists what to copy. Its errors are Permanent when a retry
// cannot help: a malformed URL, no S3 client, a missing source object, an empty prefix.
func (e *executor) plan(ctx context.Context, from, to string) ([]job, error) {
	if !strings.HasSuffix(from, "/") {
		if err := storage.Validate(from); err != nil {
			return nil, classify(err)
		}
		dest := to
		if strings.HasSuffix(to, "/") {
			dest = storage.Join(to, from[strings.LastIndexByte(from, '/')+1:])
		}
		if err := storage.Validate(dest); err != nil {
			return nil, classify(err)
		}
		if dest == from {
			return nil, activity.Permanent(errors.New("from and to are the same object"))
		}
		return []job{{from: from, to: dest}}, nil
	}
	if err := storage.ValidatePrefix(from); err != nil {
		return nil, classify(err)
	}
	if !strings.HasSuffix(to, "/") {
		return nil, activity.Permanent(fmt.Errorf("from is a prefix (it ends in \"/\"), so to must be one too: use %s/", to))
	}
	if err := storage.ValidatePrefix(to); err != nil {
		return nil, classify(err)
	}
	if strings.HasPrefix(to, from) {
		// Each run would copy the previous run's output again, one level deeper.
		return nil, activity.Permanent(errors.New("to is inside from: copy to a location outside the source prefix"))
	}
	objs, err := e.store.List(ctx, from)
	if err != nil {
		return nil, classify(err)
	}
	if len(objs) == 0 {
		return nil, activity.Permanent(fmt.Errorf("nothing matched: there are no objects under %s (names starting with \".\" are skipped); use wait_for s3_prefix_not_empty to wait for them", from))
	}
	jobs := make([]job, len(objs))
	for i, o := range objs {
		jobs[i] = job{from: o.URL, to: to + strings.TrimPrefix(o.URL, from)}
	}
	return jobs, nil
}

// copyAll copies jobs with a few workers; the first failure stops the rest.
func (e *executor) copyAll(ctx context.Context, jobs []job, bytes *atomic.Int64, logf func(string, ...any)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan job)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for j := range next {
				n, err := e.copyOne(ctx, j)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				bytes.Add(n)
				logf("copied %s to %s (%d bytes)", j.from, j.to, n)
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- j:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err() //nolint:wrapcheck // the caller names the copy; context errors must stay matchable
}

// copyOne streams one object and returns its size.
func (e *executor) copyOne(ctx context.Context, j job) (int64, error) {
	rc, err := e.store.Open(ctx, j.from)
	if err != nil {
		return 0, classify(err)
	}
	defer rc.Close()
	// A local file is sent as it is, so that a copy to S3 need not spool it first.
	if rs, ok := rc.(io.ReadSeeker); ok {
		if size, err := rs.Seek(0, io.SeekEnd); err == nil {
			if _, err := rs.Seek(0, io.SeekStart); err != nil {
				return 0, fmt.Errorf("rewinding %s: %w", j.from, err)
			}
			if err := e.store.Put(ctx, j.to, rs); err != nil {
				return 0, classify(err)
			}
			return size, nil
		}
	}
	cr := &countingReader{r: rc}
	if err := e.store.Put(ctx, j.to, cr); err != nil {
		return 0, classify(err)
	}
	return cr.n, nil
}

// classify marks the storage errors that no retry can fix as Permanent. A missing object is one:
// a late upstream is what wait_for is for.
func classify(err error) error {
	if errors.Is(err, storage.ErrInvalidURL) || errors.Is(err, storage.ErrS3NotConfigured) || storage.IsNotFound(err) {
		return activity.Permanent(err)
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err //nolint:wrapcheck // io.Reader contract: io.EOF must pass unwrapped
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// formatBytes shows n in binary units with one decimal: "512 B", "1.5 KiB", "3.2 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
