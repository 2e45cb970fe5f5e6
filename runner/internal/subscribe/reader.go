package subscribe

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// fetch is one GetRecords response, as the reader hands it to the applier.
type fetch struct {
	recs         []record
	bytes        int
	millisBehind *int64
	closed       bool // no next iterator: the shard is closed and this was its end
	err          error
}

// readAhead is the consumer's reader: it calls GetRecords while the applier applies the batch
// before, so the replica's commit and the stream's round trip overlap instead of adding up.
// Memory stays bounded by the batch: the channel holds one response and the reader waits for
// the applier to take it before reading the next (a response holds at most max_records records,
// the limit passed to every call).
//
// Calls are spaced callGap apart while records flow and pollEvery apart at the tip, from the
// start of one call to the start of the next: every consumer of a shard shares its 5 calls a
// second. The reader stops at the shard's end, on an error (sent to the applier, which starts
// again from the replica's checkpoint), or when ctx ends.
//
// unapplied counts the records read and not yet applied: the reader adds a response's records
// before handing it over, the applier takes a batch's off once it is committed.
func (c *consumer) readAhead(ctx context.Context, iter *string, limit int32, unapplied *atomic.Int64) <-chan fetch {
	ch := make(chan fetch, 1)
	go func() {
		defer close(ch)
		for {
			called := time.Now()
			out, err := c.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(limit)})
			if err != nil {
				select {
				case ch <- fetch{err: fmt.Errorf("reading records: %w", err)}:
				case <-ctx.Done():
				}
				return
			}
			f := fetch{millisBehind: out.MillisBehindLatest, closed: out.NextShardIterator == nil, recs: make([]record, 0, len(out.Records))}
			for _, r := range out.Records {
				f.recs = append(f.recs, record{
					sequence: aws.ToString(r.SequenceNumber), partitionKey: aws.ToString(r.PartitionKey),
					data: r.Data, arrival: aws.ToTime(r.ApproximateArrivalTimestamp),
				})
				f.bytes += len(r.Data)
			}
			unapplied.Add(int64(len(f.recs)))
			select {
			case ch <- f:
			case <-ctx.Done():
				return
			}
			if f.closed {
				return
			}
			iter = out.NextShardIterator
			wait := c.callGap
			if len(out.Records) == 0 {
				wait = c.pollEvery
			}
			if !c.sleep(ctx, wait-time.Since(called)) {
				return
			}
		}
	}()
	return ch
}
