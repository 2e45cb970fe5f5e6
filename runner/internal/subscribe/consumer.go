package subscribe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// consumer applies one shard of a replication to one replica while it holds the shard's lease.
type consumer struct {
	svc    *Service
	rep    *definition.Replication
	key    state.ShardKey
	conn   string // the replica's connection name
	stream string
	kin    Kinesis
	log    *slog.Logger
	cancel context.CancelCauseFunc
	done   chan struct{}
	// stopping is closed once the consumer is asked to stop (it may still be finishing).
	stopping chan struct{}
	version  string

	prog       state.ShardProgress
	lastPoison string // the record a "stop" last notified of, so a retry does not notify again
	maxRecords int
	maxBytes   int
	maxLatency time.Duration
	pollEvery  time.Duration
	// callGap spaces the consumer's GetRecords calls while records flow: every consumer of a
	// shard shares its 5 calls per second, so each replica takes its share
	// (definition.Replication.FlowingCallGap).
	callGap time.Duration
}

var (
	errLeaseLost = errors.New("the lease was lost: another runner consumes the shard now")
	errFinished  = errors.New("shard finished")
)

// run consumes the shard until it is finished, the lease is lost, or ctx ends; it then gives the
// lease back (unless lost).
func (c *consumer) run(ctx context.Context) {
	defer close(c.done)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go c.renew(ctx, cancel)

	backoff := time.Second
	for {
		err := c.consume(ctx)
		if ctx.Err() != nil {
			break
		}
		var pe *PoisonError
		switch {
		case errors.Is(err, errFinished):
			c.prog.State, c.prog.Error, c.prog.MillisBehind, c.prog.RecordsBehind = state.ShardFinished, "", nil, ptr(int64(0))
			c.report(ctx)
			c.log.Info("shard finished: consumed to its end", "sequence", c.prog.Sequence)
			c.release()
			return
		case errors.As(err, &pe):
			// Not reading: the last MillisBehindLatest would go stale (0 while the backlog grows),
			// so it is reported unknown until the consumer reads again.
			c.prog.State, c.prog.Error, c.prog.MillisBehind, c.prog.RecordsBehind = state.ShardStopped, pe.Error(), nil, nil
			c.report(ctx)
			if c.lastPoison != pe.Sequence {
				c.lastPoison = pe.Sequence
				c.log.Error("poison record: the shard is stopped on it (poison = stop); nothing after it is applied until the replica accepts it",
					"sequence", pe.Sequence, "error", pe.Err.Error())
				c.svc.notifyPoison(ctx, c, pe.Sequence, pe.Err, false)
			}
			if !c.sleep(ctx, c.svc.stopRetry) {
				break
			}
			continue
		case errors.Is(err, errCheckpointMoved):
			c.svc.conflicts.Add(1)
			c.log.Warn("checkpoint moved under this consumer; starting again from the replica's checkpoint")
			backoff = time.Second
			continue
		case err != nil:
			c.prog.State, c.prog.Error, c.prog.MillisBehind, c.prog.RecordsBehind = state.ShardRetrying, err.Error(), nil, nil // see above
			c.report(ctx)
			c.log.Warn("shard consumer failed; retrying from the replica's checkpoint", "error", err.Error(), "retry_in", backoff.String())
			if !c.sleep(ctx, backoff) {
				break
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
	}
	if !errors.Is(context.Cause(ctx), errLeaseLost) {
		c.release()
	}
}

// renew extends the lease every third of its life; a lease it cannot renew (taken, or the
// state database unreachable past the lease's end) stops the consumer.
func (c *consumer) renew(ctx context.Context, cancel context.CancelCauseFunc) {
	ttl := c.svc.leaseTTL
	until := c.svc.now().Add(ttl)
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := c.svc.now().Add(ttl)
		var ok bool
		err := c.svc.db.InTx(ctx, func(q state.Q) error {
			var err error
			ok, err = state.RenewShardLease(ctx, q, c.key, c.svc.owner, next)
			return err
		})
		switch {
		case err == nil && ok:
			until = next
		case err == nil:
			c.log.Warn("lease taken by another runner; stopping this consumer")
			cancel(errLeaseLost)
			return
		case c.svc.now().After(until):
			c.log.Warn("lease could not be renewed before it lapsed; stopping this consumer", "error", err.Error())
			cancel(errLeaseLost)
			return
		}
	}
}

func (c *consumer) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.svc.db.InTx(ctx, func(q state.Q) error { return state.ReleaseShardLease(ctx, q, c.key, c.svc.owner) }); err != nil {
		c.log.Warn("releasing the lease", "error", err.Error())
	}
}

// report writes the consumer's progress to the state database, for status and metrics. A
// failure is logged only: progress is for people, the checkpoint is in the replica.
func (c *consumer) report(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	now := c.svc.now()
	if err := c.svc.db.InTx(ctx, func(q state.Q) error { return state.ReportShard(ctx, q, c.key, c.svc.owner, c.prog, now) }); err != nil {
		c.log.Warn("reporting shard progress", "error", err.Error())
	}
}

// sleep waits d (no time when d ≤ 0) and reports whether ctx is still live.
func (c *consumer) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// consume reads the shard from the replica's checkpoint and applies it batch by batch. It
// returns errFinished once a closed shard is applied to its end, a *PoisonError when the shard
// stops on a record, or the error that interrupted it; the caller starts again from the
// replica's checkpoint, so nothing read but not committed is ever lost or applied twice.
func (c *consumer) consume(ctx context.Context) error {
	x, err := c.svc.conns.Get(ctx, c.conn)
	if err != nil {
		return fmt.Errorf("connection %s: %w", c.conn, err)
	}
	cp, err := ensureCheckpoint(ctx, x, c.key.Replication, c.key.Shard, c.startFor())
	if err != nil {
		return err
	}
	pruneChangeIDs(ctx, x, c.key.Replication)
	c.prog.Sequence, c.prog.Applied = cp.sequence, cp.records
	if cp.finished {
		return errFinished
	}
	in, err := iteratorInput(c.stream, c.key.Shard, cp, &c.rep.StartPosition.Timestamp)
	if err != nil {
		return err
	}
	it, err := c.kin.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("getting a shard iterator (%s): %w", in.ShardIteratorType, err)
	}
	// The reader stops with this call: an error, the lease or the end returns from here, and
	// the next call starts again from the replica's checkpoint.
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var unapplied atomic.Int64
	fetched := c.readAhead(rctx, it.ShardIterator, int32(c.maxRecords), &unapplied) //nolint:gosec // max_records ≤ 10000
	var pending []record
	var pendingBytes int
	var first time.Time
	for {
		var f fetch
		select {
		case f = <-fetched:
		case <-ctx.Done():
			return fmt.Errorf("consumer stopped: %w", ctx.Err())
		}
		if f.err != nil {
			return f.err
		}
		if len(pending) == 0 && len(f.recs) > 0 {
			first = c.svc.now()
		}
		pending = append(pending, f.recs...)
		pendingBytes += f.bytes
		firstRead := c.prog.MillisBehind == nil
		c.prog.MillisBehind = f.millisBehind
		c.prog.RecordsBehind = ptr(unapplied.Load())
		if firstRead {
			c.report(ctx) // the lag is known from the first read on, records or not
		}
		caughtUp := len(f.recs) == 0 || aws.ToInt64(f.millisBehind) == 0
		for {
			flush := f.closed || len(pending) >= c.maxRecords || pendingBytes >= c.maxBytes ||
				(len(pending) > 0 && (caughtUp || c.svc.now().Sub(first) >= c.maxLatency))
			if !flush {
				break
			}
			// A batch is at most max_records records: the reader reads ahead, so pending may hold
			// more; the rest waits for the next batch (at once, if it is full too).
			n := min(len(pending), c.maxRecords)
			batch := pending[:n]
			last := f.closed && n == len(pending)
			o, err := c.applyBatch(ctx, x, cp, batch, last)
			if err != nil {
				return fmt.Errorf("applying %d records after %s: %w", len(batch), seqOrStart(cp), err)
			}
			cp = o.checkpoint
			c.prog.RecordsBehind = ptr(unapplied.Add(-int64(n)))
			for _, r := range batch {
				pendingBytes -= len(r.data)
			}
			pending = pending[n:]
			if len(pending) == 0 {
				pending = nil // let the applied records go
			} else {
				first = c.svc.now()
			}
			c.prog.Applied, c.prog.Sequence = cp.records, cp.sequence
			if o.applied > 0 || len(o.deadLetters) > 0 {
				c.prog.LastApplied = c.svc.now()
			}
			for _, dl := range o.deadLetters {
				c.log.Warn("poison record written to the dead-letter prefix; going on", "sequence", dl.Sequence, "url", dl.url, "error", dl.Error)
				c.svc.notifyPoison(ctx, c, dl.Sequence, errors.New(dl.Error), true)
			}
			if o.stopped != nil {
				return o.stopped
			}
			c.prog.State, c.prog.Error = state.ShardReading, ""
			c.report(ctx)
			if last {
				return errFinished
			}
			if len(pending) == 0 {
				break
			}
		}
		if f.closed && len(pending) == 0 {
			return errFinished
		}
	}
}

// startFor is where the shard is read from while the replica has applied nothing of it: the
// replication's start position, except that LATEST applies only to the shards open when the
// replica started (initLatest wrote theirs); a shard met later is a reshard's child and is read
// from its beginning, or records put between the reshard and now would be skipped.
func (c *consumer) startFor() string {
	if c.rep.StartPosition.Type == definition.StartLatest {
		return definition.StartTrimHorizon
	}
	return c.rep.StartPosition.Type
}

func seqOrStart(cp checkpoint) string {
	if cp.sequence == "" {
		return cp.start
	}
	return cp.sequence
}

func parseTimestamp(s *string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, aws.ToString(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("start_position AT_TIMESTAMP: %w", err)
	}
	return t, nil
}

func ptr[T any](v T) *T { return &v }
