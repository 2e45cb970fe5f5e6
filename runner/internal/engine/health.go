package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// DefaultUnhealthyAfter is how many ticks in a row must fail before Unhealthy reports the
// runner unhealthy: one failed tick is often a blip (a registry or database that did not answer
// for a moment) and the next tick retries everything; three in a row (45s at the default tick)
// is a runner that schedules nothing, which an orchestrator should see.
const DefaultUnhealthyAfter = 3

// TickMetrics is what a Metrics may also count: every tick, whether it failed, and how many
// documents under pipelines/ it could not read. Optional, so that a Metrics for a benchmark
// need not implement it.
type TickMetrics interface {
	TickFinished(failed bool, unreadable int)
}

// tickHealth is the record of the loop's ticks (status.Ticks), and the unreadable documents
// of the tick in progress.
type tickHealth struct {
	mu      sync.Mutex
	t       status.Ticks
	pending map[string]string // key -> error, filled by watchedRegistry during scheduleDue
}

// noteUnreadable records a pipeline document the current tick could not read.
func (h *tickHealth) noteUnreadable(key string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending == nil {
		h.pending = map[string]string{}
	}
	h.pending[key] = err.Error()
}

// unreadable returns what made key unreadable in this tick, if it was.
func (h *tickHealth) unreadable(key string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg, ok := h.pending[key]
	return msg, ok
}

// beginTick forgets the unreadable documents of the tick before.
func (h *tickHealth) beginTick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = map[string]string{}
}

// endTick records the outcome of a tick that ended at now.
func (h *tickHealth) endTick(now time.Time, err error, scheduled bool) (unreadable int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.t.Last = now
	if scheduled {
		h.t.Unreadable = h.t.Unreadable[:0:0]
		for key, msg := range h.pending {
			h.t.Unreadable = append(h.t.Unreadable, status.DocumentError{Key: key, Error: msg})
		}
		sort.Slice(h.t.Unreadable, func(i, j int) bool { return h.t.Unreadable[i].Key < h.t.Unreadable[j].Key })
	}
	if err == nil {
		h.t.LastOK = now
		h.t.Consecutive = 0
		return len(h.t.Unreadable)
	}
	h.t.Failures++
	h.t.Consecutive++
	h.t.LastError = err.Error()
	h.t.LastErrorAt = now
	return len(h.t.Unreadable)
}

// Ticks is the record of the loop's ticks: failures (total and in a row), the last error and
// when, and the documents the last tick could not read.
func (e *Engine) Ticks() status.Ticks {
	e.health.mu.Lock()
	defer e.health.mu.Unlock()
	t := e.health.t
	t.Unreadable = append([]status.DocumentError(nil), t.Unreadable...)
	t.UnhealthyAfter = e.opts.UnhealthyAfter
	return t
}

// Unhealthy says why the runner is unhealthy by its ticks, or returns nil: when the last
// UnhealthyAfter ticks (or more) all failed. A document that cannot be read does not make the
// runner unhealthy — the others are scheduled — but it is on the status page and in
// sluice_registry_unreadable_documents.
func (e *Engine) Unhealthy() error {
	t := e.Ticks()
	if t.Consecutive < t.UnhealthyAfter {
		return nil
	}
	since := "since the runner started"
	if !t.LastOK.IsZero() {
		since = "since " + t.LastOK.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("the last %d ticks failed (unhealthy after %d; no tick succeeded %s); the last, at %s: %s",
		t.Consecutive, t.UnhealthyAfter, since, t.LastErrorAt.UTC().Format(time.RFC3339), t.LastError)
}

// recordTick records a tick's outcome, logs it and counts it. A tick cut short because the
// runner is stopping is not a failure.
func (e *Engine) recordTick(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	n := e.health.endTick(e.now(), err, e.opts.Schedule)
	if tm, ok := e.opts.Metrics.(TickMetrics); ok {
		tm.TickFinished(err != nil, n)
	}
}

// watchedRegistry is the registry as the scheduler reads it. Every pipeline document it cannot
// read is recorded by key for the status page, and the listing goes on without it: one bad
// entry under pipelines/ (a directory, a pipe, a dangling symlink, a document over the size
// limit, a name that is not a safe path element) fails that document only, and the others are
// scheduled. Errors of the registry itself (missing, unreachable) still fail the tick.
type watchedRegistry struct {
	registry.Registry
	health *tickHealth
	log    *slog.Logger
}

func (w *watchedRegistry) List(ctx context.Context, prefix string) ([]string, error) {
	entries, err := w.ListStamped(ctx, prefix)
	return registry.Keys(entries), err
}

// ListStamped lists with the underlying registry's stamps when it has them (none otherwise:
// every document is then read every tick), recording unreadable entries as List does.
func (w *watchedRegistry) ListStamped(ctx context.Context, prefix string) ([]registry.Entry, error) {
	var entries []registry.Entry
	var err error
	if sl, ok := w.Registry.(registry.StampLister); ok {
		entries, err = sl.ListStamped(ctx, prefix)
	} else {
		var keys []string
		keys, err = w.Registry.List(ctx, prefix)
		for _, k := range keys {
			entries = append(entries, registry.Entry{Key: k})
		}
	}
	var le *registry.ListError
	if prefix == registry.PipelinesPrefix && errors.As(err, &le) {
		for _, en := range le.Entries {
			w.health.noteUnreadable(en.Key, en.Err)
			w.log.Error("skipping a pipeline document that cannot be read", "key", en.Key, "error", en.Err.Error())
			// still listed (with no stamp: never taken from the cache): the scheduler's read
			// of it fails alone, and its pipeline is not taken for removed
			entries = append(entries, registry.Entry{Key: en.Key})
		}
		return entries, nil
	}
	return entries, err
}

func (w *watchedRegistry) Get(ctx context.Context, key string) ([]byte, error) {
	if !strings.HasPrefix(key, registry.PipelinesPrefix) {
		return w.Registry.Get(ctx, key)
	}
	// The name is checked before the key is read: "pipelines/...json" holds pipeline "..",
	// which the provider refuses and the runner must not schedule either.
	name := strings.TrimSuffix(strings.TrimPrefix(key, registry.PipelinesPrefix), ".json")
	if err := definition.ValidateName("pipeline", name); err != nil {
		err = fmt.Errorf("registry %s: key %q: %w", w.URL(), key, err)
		w.health.noteUnreadable(key, err)
		return nil, err
	}
	if msg, ok := w.health.unreadable(key); ok {
		return nil, errors.New(msg) // the listing found it unreadable: do not open it again
	}
	data, err := w.Registry.Get(ctx, key)
	if err != nil {
		w.health.noteUnreadable(key, err)
	}
	return data, err
}
