package subscribe_test

// Benchmarks of the stream subscribers against kinesis-local and PostgreSQL (started by TestMain
// as for the tests). Run them with `make bench` (scripts/bench-runner.sh prints them as markdown
// tables) or directly:
//
//	go test -run '^$' -bench 'Subscriber' -benchtime=1x ./runner/internal/subscribe/
//
// They report figures and assert only that every record was applied: never a timing.
//
//   - Throughput: one shard holding benchRecords records, read benchCallLimit a call by a bare
//     GetRecords loop (no apply, no pause: what kinesis-local can hand out) and applied into PostgreSQL by one
//     subscriber, in the same run; records/s of each and their ratio.
//   - Lag: a steady 1,000 records/s put into a 8-shard stream for benchLagFor, applied by one
//     runner serving three replicas with the default batch settings; each record is an INSERT
//     carrying its put time and call, and the replica notes when it applied it
//     (clock_timestamp()); a record is visible at the last apply of its transaction, just
//     before the commit.
//   - Memory: the peak heap of a runner applying N and 10×N records of 1 KiB with the default
//     batch (500 records, 1 MiB): bounded by the batch, the two are about the same.

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/subscribe"
)

// benchSize reads a size from the environment (to try bigger or smaller runs by hand), else def.
func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var (
	benchRecords   = benchSize("SLUICE_BENCH_RECORDS", 10000)    // throughput: records in the shard
	benchCallLimit = benchSize("SLUICE_BENCH_CALL_LIMIT", 2500)  // throughput: records per GetRecords call, both sides
	benchMemN      = benchSize("SLUICE_BENCH_MEM_RECORDS", 1000) // memory: N (and 10×N)
	benchLagRate   = benchSize("SLUICE_BENCH_LAG_RATE", 1000)    // lag: records/s put
	benchLagFor    = time.Duration(benchSize("SLUICE_BENCH_LAG_SECONDS", 10)) * time.Second
	benchLagShards = int32(benchSize("SLUICE_BENCH_LAG_SHARDS", 8)) //nolint:gosec // a handful
	benchLagWarmup = 2 * time.Second                                // put, but not counted: the consumers start and catch up
)

// kinesis-local's PutRecords slows down as a shard fills (measured on 2 cores: ~1,000 records/s
// into a fresh 2-shard stream, ~200/s once it holds 8,000 records; ~5,000/s into a fresh
// stream), so the lag run is short and spread over 8 shards: longer, and the producer cannot
// keep up 1,000 records/s (8 shards by default: each holds less). put-rec/s reports the rate it
// reached.

const benchWait = 5 * time.Minute // how long any run may take before the benchmark fails

// benchStream is newStream for benchmarks: the stream is deleted at the end, since kinesis-local
// keeps every record in memory and slows down as it holds more.
func benchStream(b *testing.B, shards int32) (string, string) {
	b.Helper()
	name, arn := newStream(b, shards)
	b.Cleanup(func() {
		_, _ = kinesisClient(b).DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
	})
	return name, arn
}

// fill puts total records into the stream, 500 per PutRecords call (the API's most), spread
// over 64 partition keys, and returns how long it took.
func fill(b *testing.B, stream string, total int, data func(i int) string) time.Duration {
	b.Helper()
	c := kinesisClient(b)
	start := time.Now()
	for i := 0; i < total; {
		var entries []types.PutRecordsRequestEntry
		for ; i < total && len(entries) < 500; i++ {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%03d", i%64)), Data: []byte(data(i))})
		}
		putAll(b, c, stream, entries)
	}
	return time.Since(start)
}

// putAll puts entries with PutRecords, retrying the ones it refuses.
func putAll(b *testing.B, c *kinesis.Client, stream string, entries []types.PutRecordsRequestEntry) {
	b.Helper()
	for tries := 0; len(entries) > 0; tries++ {
		if tries == 100 {
			b.Fatalf("PutRecords refused %d records 100 times", len(entries))
		}
		out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			b.Fatalf("PutRecords: %v", err)
		}
		var retry []types.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				retry = append(retry, entries[i])
			}
		}
		entries = retry
	}
}

// bareRead reads the stream's only shard from TRIM_HORIZON with GetRecords (benchCallLimit
// records a call, as the subscriber's batch) until it has want records, and returns how long
// that took from its GetShardIterator call. gap spaces the calls' starts: 0 reads flat out (what
// kinesis-local can hand out), 200 ms reads at Kinesis's limit of 5 calls a second per shard,
// which any reader of a real stream must keep to (the subscriber does).
func bareRead(b *testing.B, stream string, want int, gap time.Duration) time.Duration {
	b.Helper()
	c := kinesisClient(b)
	ctx := context.Background()
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now() // from GetShardIterator, as the subscriber is timed
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: shards.Shards[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		b.Fatal(err)
	}
	iter := it.ShardIterator
	got, size := 0, 0
	for got < want {
		called := time.Now()
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(benchCallLimit))}) //nolint:gosec // ≤ 10,000
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range out.Records {
			size += len(r.Data)
		}
		got += len(out.Records)
		iter = out.NextShardIterator
		if got < want {
			time.Sleep(gap - time.Since(called))
		}
		if len(out.Records) == 0 && time.Since(start) > benchWait {
			b.Fatalf("bare read: %d of %d records after %s", got, want, benchWait)
		}
	}
	if size == 0 {
		b.Fatal("bare read: records without data")
	}
	return time.Since(start)
}

// waitCheckpointed waits until the replicas' checkpoints of replication count want records each.
func waitCheckpointed(b *testing.B, replication string, want int64, urls ...string) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(benchWait)
	for _, url := range urls {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		for {
			var n int64
			// The table appears once the subscriber has started: until then, nothing is applied.
			err := c.QueryRow(ctx, `SELECT COALESCE(SUM(records), 0) FROM sluice.replication_checkpoints WHERE replication = $1`, replication).Scan(&n)
			if err == nil && n >= want {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d records checkpointed after %s (last error: %v)", url, n, want, benchWait, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = c.Close(ctx)
	}
}

// BenchmarkSubscriberThroughput applies one shard into PostgreSQL with one subscriber, as
// statements (an INSERT per record) and as rows (JSON rows, inserted together), against a bare
// GetRecords loop over the same shard in the same run. Both read benchCallLimit records a call
// (the subscriber's max_records): kinesis-local would hand out a whole 10,000-record shard in
// one call, and with one call there is nothing for reading and applying to overlap with.
func BenchmarkSubscriberThroughput(b *testing.B) {
	for _, format := range []string{definition.RecordsStatements, definition.RecordsRows} {
		b.Run(format, func(b *testing.B) {
			var bareTotal, pacedTotal, subTotal, fillTotal time.Duration
			for range b.N {
				b.StopTimer()
				stream, arn := benchStream(b, 1)
				data := func(i int) string { return insertSQL(fmt.Sprintf("k%03d", i%64), i+1) }
				if format == definition.RecordsRows {
					data = func(i int) string { return rowJSON(fmt.Sprintf("k%03d", i%64), i+1) }
				}
				fillTotal += fill(b, stream, benchRecords, data)
				url := newReplica(b)
				r := replication("bench", arn, "a")
				r.Batch.MaxRecords, r.Batch.MaxLatency = benchCallLimit, "1s"
				if format == definition.RecordsRows {
					r.Records = definition.Records{Format: definition.RecordsRows, Table: "app.t", InsertMode: definition.InsertAppend}
				}
				dir := publish(b, "", r)
				// The bare read before and after the subscriber, so that neither side has
				// kinesis-local warmer than the other.
				bare := bareRead(b, stream, benchRecords, 0)
				paced := bareRead(b, stream, benchRecords, time.Second/definition.ShardReadCallsPerSecond)
				b.StartTimer()
				// Timed from the consumer's first GetShardIterator, as the bare read is from its
				// ListShards: the service's start (registry, state database, lease) is not a shard's.
				first := &firstIterator{}
				s := startService(b, svcOpts{registryDir: dir, conns: map[string]string{"a": url}, replicas: []string{"a"}, quiet: true,
					wrap: func(k subscribe.Kinesis) subscribe.Kinesis { first.Kinesis = k; return first }})
				waitCheckpointed(b, "bench", int64(benchRecords), url)
				subTotal += time.Since(first.at())
				b.StopTimer()
				s.stop()
				bare += bareRead(b, stream, benchRecords, 0)
				bareTotal += bare / 2
				paced += bareRead(b, stream, benchRecords, time.Second/definition.ShardReadCallsPerSecond)
				pacedTotal += paced / 2
				if got := count(applied(b, url)); got != benchRecords {
					b.Fatalf("replica holds %d rows, want %d", got, benchRecords)
				}
			}
			n := float64(benchRecords) * float64(b.N)
			sub, bare, pacedRate := n/subTotal.Seconds(), n/bareTotal.Seconds(), n/pacedTotal.Seconds()
			b.ReportMetric(sub, "subscriber-rec/s")
			b.ReportMetric(bare, "bare-rec/s")
			b.ReportMetric(sub/bare, "ratio")
			b.ReportMetric(pacedRate, "paced-rec/s")
			b.ReportMetric(sub/pacedRate, "paced-ratio")
			b.ReportMetric(n/fillTotal.Seconds(), "put-rec/s")
			b.ReportMetric(float64(benchRecords), "records")
		})
	}
}

// firstIterator is a Kinesis client that notes when GetShardIterator is first called.
type firstIterator struct {
	subscribe.Kinesis
	once  sync.Once
	first atomic.Int64
}

func (f *firstIterator) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.once.Do(func() { f.first.Store(time.Now().UnixNano()) })
	return f.Kinesis.GetShardIterator(ctx, in, optFns...)
}

func (f *firstIterator) at() time.Time { return time.Unix(0, f.first.Load()) }

// lagTable receives the lag benchmark's records: the put time, the apply time and the
// transaction, whose last apply time is when the record became visible (its commit follows).
const lagTable = `CREATE TABLE app.lag (put_at TIMESTAMPTZ NOT NULL, call INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL, xid BIGINT NOT NULL)`

// lagSQL is the record put at put by PutRecords call number call.
func lagSQL(put time.Time, call int) string {
	return "INSERT INTO app.lag VALUES ('" + put.UTC().Format(time.RFC3339Nano) + "', " + strconv.Itoa(call) + ", clock_timestamp(), txid_current())"
}

// percentile is the p-th percentile (0 < p ≤ 1) of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// BenchmarkSubscriberLag puts benchLagRate records/s into a 8-shard stream for benchLagFor and
// reports, per replica of three served by one runner with the default batch settings, the lag
// to visible (the last apply of the record's transaction, just before its commit) from the put
// (the PutRecords call's start) and from kinesis-local accepting it (the call's end): p50, p99,
// max in ms. The second is the subscriber's share; the difference is kinesis-local's.
func BenchmarkSubscriberLag(b *testing.B) {
	for range b.N {
		b.StopTimer()
		stream, arn := benchStream(b, benchLagShards)
		names := []string{"a", "b", "c"}
		conns := map[string]string{}
		for _, n := range names {
			conns[n] = newReplica(b)
			execSQL(b, conns[n], lagTable)
		}
		r := replication("lag", arn, names...)
		r.Batch = definition.Batch{MaxRecords: definition.DefaultBatchMaxRecords, MaxBytes: definition.DefaultBatchMaxBytes, MaxLatency: definition.DefaultBatchMaxLatency}
		r.PollInterval = definition.DefaultPollInterval
		dir := publish(b, "", r)
		// The runner's default tick (the tests use a faster one): the tick's ListShards calls are
		// part of the load a runner puts on the stream.
		startService(b, svcOpts{registryDir: dir, conns: conns, replicas: names, quiet: true, tick: subscribe.DefaultTick})

		// Put at a steady rate: every 50 ms, as many records as are due by now (at most 500 a
		// call), each stamped with the time its call starts.
		c := kinesisClient(b)
		begin := time.Now()
		counted := begin.Add(benchLagWarmup)
		end := counted.Add(benchLagFor)
		put := 0
		var calls []float64   // how long each PutRecords call took, ms: kinesis-local's share of the lag
		var ended []time.Time // when each PutRecords call returned, by call number
		// 50 ms, not less: kinesis-local takes ~50 ms a PutRecords call whatever it holds, so
		// smaller calls every 10 ms fall behind 1,000 records/s. A record's lag counts from
		// its call's start, so the wait for the tick is not in it.
		tick := time.NewTicker(50 * time.Millisecond)
		for now := range tick.C {
			if now.After(end) {
				break
			}
			due := int(now.Sub(begin).Seconds() * float64(benchLagRate))
			for put < due {
				at := time.Now()
				var entries []types.PutRecordsRequestEntry
				for ; put < due && len(entries) < 500; put++ {
					entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%03d", put%64)), Data: []byte(lagSQL(at, len(ended)))})
				}
				putAll(b, c, stream, entries)
				ended = append(ended, time.Now())
				if at.After(counted) {
					calls = append(calls, float64(time.Since(at).Microseconds())/1000)
				}
			}
		}
		tick.Stop()
		rate := float64(put) / time.Since(begin).Seconds()
		waitCheckpointed(b, "lag", int64(put), conns["a"], conns["b"], conns["c"])
		b.ReportMetric(rate, "put-rec/s")
		b.ReportMetric(float64(benchLagShards), "shards")
		slices.Sort(calls)
		if len(calls) > 0 {
			b.ReportMetric(calls[len(calls)/2], "put-call-p50-ms")
			b.ReportMetric(calls[len(calls)*99/100], "put-call-p99-ms")
		}
		for _, n := range names {
			// Per record: from its put (the call's start) and from kinesis-local accepting it
			// (the call's end, the subscriber's share) to visible in the replica.
			var fromPut, fromAccepted []float64
			rows, err := pgxQuery(b, conns[n], `SELECT put_at, call, MAX(applied_at) OVER (PARTITION BY xid) FROM app.lag WHERE put_at >= $1`, counted)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rows {
				putAt, call, visible := r[0].(time.Time), int(r[1].(int32)), r[2].(time.Time)
				fromPut = append(fromPut, float64(visible.Sub(putAt).Microseconds())/1000)
				fromAccepted = append(fromAccepted, float64(visible.Sub(ended[call]).Microseconds())/1000)
			}
			slices.Sort(fromPut)
			slices.Sort(fromAccepted)
			b.ReportMetric(percentile(fromPut, 0.5), n+"-put-p50-ms")
			b.ReportMetric(percentile(fromPut, 0.99), n+"-put-p99-ms")
			b.ReportMetric(percentile(fromAccepted, 0.5), n+"-accepted-p50-ms")
			b.ReportMetric(percentile(fromAccepted, 0.99), n+"-accepted-p99-ms")
			b.ReportMetric(percentile(fromAccepted, 1), n+"-accepted-max-ms")
		}
	}
}

// pgxQuery reads every row of a query as values.
func pgxQuery(b *testing.B, url, sql string, args ...any) ([][]any, error) {
	b.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// padSQL is a 1 KiB statements record.
func padSQL(i int) string {
	return fmt.Sprintf("INSERT INTO app.t (k, n) VALUES ('k%03d', %d) -- %s", i%64, i+1, strings.Repeat("x", 980))
}

// BenchmarkSubscriberMemory applies N and 10×N records of 1 KiB with the default batch
// (500 records, 1 MiB) and reports the peak heap of the process while it does: the heap in
// use by objects (live and not yet collected) and the live heap after each GC, both above the
// level before the runner started.
func BenchmarkSubscriberMemory(b *testing.B) {
	for _, n := range []int{benchMemN, 10 * benchMemN} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			var peakObjects, peakLive uint64
			for range b.N {
				b.StopTimer()
				stream, arn := benchStream(b, 1)
				fill(b, stream, n, padSQL)
				url := newReplica(b)
				r := replication("mem", arn, "a")
				r.Batch = definition.Batch{MaxRecords: definition.DefaultBatchMaxRecords, MaxBytes: definition.DefaultBatchMaxBytes, MaxLatency: definition.DefaultBatchMaxLatency}
				dir := publish(b, "", r)
				runtime.GC()
				h := startHeapSampler()
				b.StartTimer()
				s := startService(b, svcOpts{registryDir: dir, conns: map[string]string{"a": url}, replicas: []string{"a"}, quiet: true})
				waitCheckpointed(b, "mem", int64(n), url)
				b.StopTimer()
				objects, live := h.stop()
				s.stop()
				peakObjects, peakLive = max(peakObjects, objects), max(peakLive, live)
			}
			b.ReportMetric(float64(peakObjects)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-MB")
			b.ReportMetric(float64(n)*1024/(1<<20), "data-MB")
		})
	}
}

// heapSampler records the peaks of two runtime/metrics (read without stopping the world) above
// their level when it started: heap objects (live and garbage not yet swept) and the live heap
// as the last GC marked it.
type heapSampler struct {
	base       [2]uint64
	peak       [2]atomic.Uint64
	quit       chan struct{}
	finish     sync.WaitGroup
	sampleLock sync.Mutex
	samples    []metrics.Sample
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{quit: make(chan struct{}), samples: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}}
	h.base = h.read()
	h.finish.Add(1)
	go func() {
		defer h.finish.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			h.sample()
			select {
			case <-h.quit:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) read() [2]uint64 {
	h.sampleLock.Lock()
	defer h.sampleLock.Unlock()
	metrics.Read(h.samples)
	return [2]uint64{h.samples[0].Value.Uint64(), h.samples[1].Value.Uint64()}
}

func (h *heapSampler) sample() {
	v := h.read()
	for i := range v {
		if v[i] > h.peak[i].Load() {
			h.peak[i].Store(v[i])
		}
	}
}

// stop returns the peaks above the starting levels: heap objects, live heap.
func (h *heapSampler) stop() (uint64, uint64) {
	close(h.quit)
	h.finish.Wait()
	h.sample()
	var out [2]uint64
	for i := range out {
		if p := h.peak[i].Load(); p > h.base[i] {
			out[i] = p - h.base[i]
		}
	}
	return out[0], out[1]
}
