package groupcommit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/groupcommit"
)

// double flushes by doubling each item, after a pause that lets other calls queue up.
func double(pause time.Duration, sizes *[]int, mu *sync.Mutex) groupcommit.FlushFunc[int, int] {
	return func(_ context.Context, items []int) []groupcommit.Result[int] {
		mu.Lock()
		*sizes = append(*sizes, len(items))
		mu.Unlock()
		time.Sleep(pause)
		out := make([]groupcommit.Result[int], len(items))
		for i, v := range items {
			if v < 0 {
				out[i].Err = fmt.Errorf("item %d is negative", v)
				continue
			}
			out[i].Value = 2 * v
		}
		return out
	}
}

// TestEveryCallGetsItsOwnResult: 500 concurrent calls, each with its own value, batched into
// far fewer flushes, none bigger than the limit, and each caller gets its own result.
func TestEveryCallGetsItsOwnResult(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	b := groupcommit.New(64, 0, double(2*time.Millisecond, &sizes, &mu))
	const calls = 500
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			got, err := b.Do(context.Background(), i)
			if err != nil || got != 2*i {
				errs <- fmt.Errorf("Do(%d) = %d, %w; want %d", i, got, err, 2*i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	flushes, items := b.Stats()
	if items != calls {
		t.Errorf("flushed %d items, want %d", items, calls)
	}
	if flushes >= calls/4 {
		t.Errorf("%d flushes for %d concurrent calls: not batching", flushes, calls)
	}
	for _, n := range sizes {
		if n > 64 {
			t.Errorf("a flush of %d items, limit 64", n)
		}
	}
	t.Logf("%d calls in %d flushes", calls, flushes)
}

// TestAnIdleBatcherFlushesAtOnce: a lone call is flushed by itself, without waiting for more.
func TestAnIdleBatcherFlushesAtOnce(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	b := groupcommit.New(100, 0, double(0, &sizes, &mu))
	for i := range 3 {
		if got, err := b.Do(context.Background(), i); err != nil || got != 2*i {
			t.Fatalf("Do(%d) = %d, %v", i, got, err)
		}
	}
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 1 || sizes[2] != 1 {
		t.Errorf("flush sizes %v, want [1 1 1]", sizes)
	}
}

// TestErrorsAreTheItemsOwn: an item's error reaches its caller only.
func TestErrorsAreTheItemsOwn(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	b := groupcommit.New(100, 0, double(time.Millisecond, &sizes, &mu))
	var wg sync.WaitGroup
	var bad, good atomic.Int64
	for i := range 40 {
		v := i
		if i%4 == 0 {
			v = -i - 1
		}
		wg.Go(func() {
			_, err := b.Do(context.Background(), v)
			switch {
			case v < 0 && err != nil:
				bad.Add(1)
			case v >= 0 && err == nil:
				good.Add(1)
			default:
				t.Errorf("Do(%d): %v", v, err)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 10 || good.Load() != 30 {
		t.Errorf("%d failed and %d succeeded, want 10 and 30", bad.Load(), good.Load())
	}
}

// TestAPanickingFlushFailsItsItemsAndTheNextFlushRuns: no caller hangs on a panic, and the
// batcher goes on.
func TestAPanickingFlushFailsItsItemsAndTheNextFlushRuns(t *testing.T) {
	var n atomic.Int64
	b := groupcommit.New(10, 0, func(_ context.Context, items []int) []groupcommit.Result[int] {
		if n.Add(1) == 1 {
			panic("boom")
		}
		return make([]groupcommit.Result[int], len(items))
	})
	if _, err := b.Do(context.Background(), 1); err == nil || err.Error() != "group commit of 1 items panicked: boom" {
		t.Fatalf("first Do: %v, want the panic as an error", err)
	}
	if _, err := b.Do(context.Background(), 2); err != nil {
		t.Fatalf("second Do: %v", err)
	}
}

// TestAWrongNumberOfResultsIsAnError: a flush function that loses results fails the calls
// instead of handing out zero values as successes.
func TestAWrongNumberOfResultsIsAnError(t *testing.T) {
	b := groupcommit.New(10, 0, func(context.Context, []int) []groupcommit.Result[int] { return nil })
	if _, err := b.Do(context.Background(), 1); err == nil {
		t.Fatal("no error for a flush that returned no results")
	}
}

// TestTheLeadersCancellationDoesNotFailTheFlush: the flush runs on the leader's context
// without its cancellation, so the other callers' items are written; the timeout still bounds
// it.
func TestTheLeadersCancellationDoesNotFailTheFlush(t *testing.T) {
	b := groupcommit.New(10, 50*time.Millisecond, func(ctx context.Context, items []int) []groupcommit.Result[int] {
		out := make([]groupcommit.Result[int], len(items))
		for i, v := range items {
			if v == 1 {
				<-ctx.Done() // until the timeout
				out[i].Err = ctx.Err()
			} else {
				out[i].Err = ctx.Err()
			}
		}
		return out
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Do(ctx, 0); err != nil {
		t.Fatalf("a flush led by a cancelled context failed: %v", err)
	}
	start := time.Now()
	if _, err := b.Do(context.Background(), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do(1) = %v, want the timeout", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the timeout of 50ms took %s", waited)
	}
}
