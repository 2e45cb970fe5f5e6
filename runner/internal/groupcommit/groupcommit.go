// Package groupcommit gathers calls made at the same time into one flush, the way a database
// gathers concurrent commits into one write of its log: a call that arrives while a flush is
// running waits for it and goes into the next one, with everything else that arrived
// meanwhile. An idle batcher flushes a call at once (no timer, no added latency); a busy one
// pays one flush for many calls.
//
// There is no goroutine of its own: the caller at the head of the queue runs the flush (it
// "leads"), then hands the lead to the next waiting caller, so a batcher needs no Start or
// Stop and leaks nothing.
package groupcommit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one call's outcome of a flush.
type Result[R any] struct {
	Value R
	Err   error
}

// FlushFunc writes items at once and returns one Result per item, in order. It decides what a
// failure of the whole batch means for each item (typically: try them one by one, so that one
// bad item does not fail the others).
type FlushFunc[T, R any] func(ctx context.Context, items []T) []Result[R]

// Batcher batches calls of Do into flushes of a bounded number of items.
type Batcher[T, R any] struct {
	flush   FlushFunc[T, R]
	max     int
	timeout time.Duration

	mu    sync.Mutex
	busy  bool // a flush is running, or the lead is being handed over
	queue []*call[T, R]

	flushes, items atomic.Int64
}

type call[T, R any] struct {
	item T
	res  Result[R]
	// done is closed when res is set, or when this call is given the lead (lead is then true).
	done chan struct{}
	lead bool
}

// New returns a Batcher that flushes at most limit items at a time (limit < 1: 1). A flush runs on
// the leading caller's context without its cancellation, bounded by timeout (0: no bound): the
// items of the other callers in it must not fail because the leader's context ended.
func New[T, R any](limit int, timeout time.Duration, flush FlushFunc[T, R]) *Batcher[T, R] {
	return &Batcher[T, R]{flush: flush, max: max(limit, 1), timeout: timeout}
}

// Do adds item to the next flush and returns its result once that flush ended. It waits for
// the flush even when ctx ends first: by then the item may be written, and the caller must
// know whether it was.
func (b *Batcher[T, R]) Do(ctx context.Context, item T) (R, error) {
	c := &call[T, R]{item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.busy {
		b.mu.Unlock()
		<-c.done
		if !c.lead {
			return c.res.Value, c.res.Err
		}
	} else {
		b.busy = true
		b.mu.Unlock()
	}
	b.lead(ctx)
	return c.res.Value, c.res.Err
}

// lead flushes the head of the queue (the leading call is always its first item), delivers the
// results and hands the lead to the next waiting call, if any.
func (b *Batcher[T, R]) lead(ctx context.Context) {
	b.mu.Lock()
	n := min(len(b.queue), b.max)
	batch := b.queue[:n:n]
	b.queue = append([]*call[T, R](nil), b.queue[n:]...)
	b.mu.Unlock()

	items := make([]T, n)
	for i, c := range batch {
		items[i] = c.item
	}
	results := b.run(ctx, items)
	b.flushes.Add(1)
	b.items.Add(int64(n))
	for i, c := range batch {
		c.res = results[i]
		if i > 0 { // batch[0] is the leader, which reads its result itself
			close(c.done)
		}
	}

	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		next.lead = true
		close(next.done)
	} else {
		b.busy = false
	}
	b.mu.Unlock()
}

// run calls the flush function, turning a panic or a wrong number of results into an error
// for every item, so that no caller waits forever.
func (b *Batcher[T, R]) run(ctx context.Context, items []T) (results []Result[R]) {
	fctx := context.WithoutCancel(ctx)
	if b.timeout > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(fctx, b.timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			results = failAll[R](len(items), fmt.Errorf("group commit of %d items panicked: %v", len(items), p))
		}
	}()
	results = b.flush(fctx, items)
	if len(results) != len(items) {
		return failAll[R](len(items), fmt.Errorf("group commit: %d results for %d items", len(results), len(items)))
	}
	return results
}

func failAll[R any](n int, err error) []Result[R] {
	out := make([]Result[R], n)
	for i := range out {
		out[i].Err = err
	}
	return out
}

// Stats returns how many flushes ran and how many items they held: items/flushes is the
// average batch.
func (b *Batcher[T, R]) Stats() (flushes, items int64) { return b.flushes.Load(), b.items.Load() }
