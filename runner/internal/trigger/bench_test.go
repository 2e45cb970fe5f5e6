package trigger

// Benchmarks of the trigger consumers against goaws and the state databases. Run them with
// `make bench` (scripts/bench-runner.sh prints them as markdown tables) or directly:
//
//	go test -run '^$' -bench 'Trigger' -benchtime=1x ./runner/internal/trigger/
//
// They report figures and assert only that every event made its run: never a timing.
//
//   - Throughput: benchEvents messages of one S3 event each on a queue, drained by a bare
//     ReceiveMessage/DeleteMessageBatch loop (no parsing, no database: what goaws can hand out)
//     and, refilled, turned into runs by the runner (the engine with no-op activities starting
//     them), in the same run; events/s of each and their ratio. One run per event, and batches
//     of 500 events.
//   - Latency: a steady benchRate events/s for benchLatencyFor, each message carrying the time
//     it was sent; the runner's event-to-run-started latency (the run's started_at) and the
//     bare loop's send-to-receive latency, p50 and p99, both with long polling.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchVisibility is the visibility timeout of both the bare loop and the runner: goaws now and
// then hides the messages of a ReceiveMessage whose response the SDK did not read (and retried),
// and they come back only after it.
const benchVisibility = 3 * time.Second

var (
	benchEvents     = benchSize("SLUICE_BENCH_EVENTS", 2000)
	benchRate       = benchSize("SLUICE_BENCH_EVENT_RATE", 20)
	benchLatencyFor = time.Duration(benchSize("SLUICE_BENCH_LATENCY_SECONDS", 10)) * time.Second
)

// benchPipeline is a triggered pipeline of one no-op activity.
func benchPipeline(queue string, maxEvents int) *definition.Pipeline {
	s := &definition.SQSTrigger{QueueURL: queue, Bucket: "acme-raw", Pattern: "raw/{date}/", VisibilityTimeout: "3s"}
	if maxEvents > 1 {
		s.MaxEvents, s.MaxWait = maxEvents, "1s"
	}
	return &definition.Pipeline{Format: definition.FormatPipeline, Name: "raw", Enabled: true,
		Trigger:    &definition.Trigger{SQS: s, MaxActiveRuns: 1000},
		Activities: map[string]*definition.Activity{"noop": {}}}
}

// benchRecord is publish without validation: the no-op activity has no kind.
func (e *env) benchRecord(b *testing.B, p *definition.Pipeline) {
	b.Helper()
	ctx := context.Background()
	doc, err := definition.Encode(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.db.InTx(ctx, func(q state.Q) error {
		if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, time.Now()); err != nil {
			return err
		}
		return state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: true}, time.Now())
	}); err != nil {
		b.Fatal(err)
	}
}

// benchEventBody is an S3 event for object i of a run whose key carries when it was sent.
func benchEventBody(round, i int, sent time.Time) string {
	return acctest.S3EventNotification(acctest.S3Object{Bucket: "acme-raw",
		Key:  fmt.Sprintf("raw/2026-11-18/r%d-%06d-%d.csv", round, i, sent.UnixMicro()),
		Size: 10, ETag: "e", Sequencer: fmt.Sprintf("%04X%08X", round, i), Time: sent})
}

// sentAt reads the send time back from a key.
func sentAt(key string) time.Time {
	us, _ := strconv.ParseInt(strings.TrimSuffix(key[strings.LastIndexByte(key, '-')+1:], ".csv"), 10, 64)
	return time.UnixMicro(us)
}

// startEngine starts an engine with no-op executors on the env's database, and a Manager
// feeding it.
func (e *env) startEngine(b *testing.B) (stop func()) {
	b.Helper()
	ctx := context.Background()
	eng, err := engine.New(engine.Options{DB: e.db, Executors: map[string]activity.Executor{activity.KindNoop: activity.Noop},
		Workers: 100, FetchCooldown: time.Millisecond, FetchPollInterval: 20 * time.Millisecond, Tick: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		b.Fatal(err)
	}
	m := New(Options{DB: e.db, Kinds: eng.ActivityKinds, Started: eng.PromoteNow, Refresh: 200 * time.Millisecond,
		Queue:  func(url string) Queue { return &SQS{API: e.sqs, URL: url} },
		Logger: slog.New(slog.DiscardHandler)})
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(mctx) }()
	return func() {
		cancel()
		<-done
		sctx, c := context.WithTimeout(ctx, 30*time.Second)
		defer c()
		_ = eng.Stop(sctx)
	}
}

// runsStarted counts the runs the engine started, and their starts.
func (e *env) runsStarted(b *testing.B) (n int, starts map[int64]time.Time) {
	b.Helper()
	rows, err := e.db.Reader().Query(context.Background(), `SELECT id, started_at FROM sluice_runs WHERE started_at IS NOT NULL`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	starts = map[int64]time.Time{}
	for rows.Next() {
		var id, at int64
		if err := rows.Scan(&id, &at); err != nil {
			b.Fatal(err)
		}
		starts[id] = state.FromMicros(at)
	}
	return len(starts), starts
}

// drainBare receives and deletes until n messages went, as fast as goaws allows.
func (e *env) drainBare(b *testing.B, n int, onMessage func(body string)) {
	b.Helper()
	ctx := context.Background()
	q := &SQS{API: e.sqs, URL: e.url}
	for got := 0; got < n; {
		msgs, err := q.Receive(ctx, 10, longPoll, benchVisibility)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if onMessage != nil {
				onMessage(m.Body)
			}
		}
		if err := q.Delete(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		got += len(msgs)
	}
}

func BenchmarkTriggerThroughput(b *testing.B) {
	for _, c := range []struct {
		name      string
		pg        bool
		maxEvents int
	}{{"sqlite/one-run-per-event", false, 0}, {"postgres/one-run-per-event", true, 0}, {"postgres/batches-of-500", true, 500}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				url := "sqlite://" + filepath.Join(b.TempDir(), "state.db")
				if c.pg {
					url = acctest.NewPostgresDatabase(b)
				}
				e := newEnv(b, url)
				bodies := make([]string, benchEvents)
				for i := range bodies {
					bodies[i] = benchEventBody(0, i, time.Now())
				}
				e.send(b, bodies...)
				began := time.Now()
				e.drainBare(b, benchEvents, nil)
				bare := time.Since(began)

				for i := range bodies {
					bodies[i] = benchEventBody(1, i, time.Now())
				}
				e.send(b, bodies...)
				e.benchRecord(b, benchPipeline(e.url, c.maxEvents))
				wantRuns := benchEvents
				if c.maxEvents > 1 {
					wantRuns = (benchEvents + c.maxEvents - 1) / c.maxEvents
				}
				began = time.Now()
				stop := e.startEngine(b)
				var recorded time.Duration
				for {
					if recorded == 0 && e.queued(b) == 0 {
						recorded = time.Since(began)
					}
					if n, _ := e.runsStarted(b); recorded > 0 && n >= wantRuns {
						break
					}
					if time.Since(began) > 5*time.Minute {
						b.Fatal("the runner did not turn the events into runs within 5 minutes")
					}
					time.Sleep(20 * time.Millisecond)
				}
				started := time.Since(began)
				stop()
				got := e.tally(b, "raw")
				if len(got.distinct) != benchEvents || got.duplicates != 0 {
					b.Fatalf("%d distinct objects in runs, %d duplicates; want %d, 0", len(got.distinct), got.duplicates, benchEvents)
				}
				b.ReportMetric(float64(benchEvents), "events")
				b.ReportMetric(float64(got.runs), "runs")
				b.ReportMetric(float64(benchEvents)/bare.Seconds(), "bare-events/s")
				b.ReportMetric(float64(benchEvents)/recorded.Seconds(), "runner-events/s")
				b.ReportMetric(float64(benchEvents)/started.Seconds(), "started-events/s")
				b.ReportMetric(bare.Seconds()/recorded.Seconds(), "ratio")
			}
		})
	}
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Millisecond)
}

// sendSteadily sends benchRate events a second for benchLatencyFor, each carrying its send time.
func (e *env) sendSteadily(b *testing.B, round int) int {
	b.Helper()
	ctx := context.Background()
	tick := time.NewTicker(time.Second / time.Duration(benchRate))
	defer tick.Stop()
	n := 0
	for end := time.Now().Add(benchLatencyFor); time.Now().Before(end); n++ {
		<-tick.C
		if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.url), MessageBody: aws.String(benchEventBody(round, n, time.Now()))}); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

func BenchmarkTriggerLatency(b *testing.B) {
	for range b.N {
		e := newEnv(b, acctest.NewPostgresDatabase(b))
		// The bare loop: send-to-receive, with long polling.
		var mu sync.Mutex
		var bare []time.Duration
		sent := -1 // known once sending ends
		recvDone := make(chan struct{})
		go func() {
			defer close(recvDone)
			ctx := context.Background()
			q := &SQS{API: e.sqs, URL: e.url}
			for {
				msgs, err := q.Receive(ctx, 10, longPoll, benchVisibility)
				if err != nil {
					return
				}
				now := time.Now()
				mu.Lock()
				for _, m := range msgs {
					if p, err := Parse(m.Body); err == nil && len(p.Events) == 1 {
						bare = append(bare, now.Sub(sentAt(p.Events[0].Key)))
					}
				}
				finished := sent >= 0 && len(bare) >= sent
				mu.Unlock()
				_ = q.Delete(ctx, msgs)
				if finished {
					return
				}
			}
		}()
		n := e.sendSteadily(b, 0)
		mu.Lock()
		sent = n
		mu.Unlock()
		select {
		case <-recvDone:
		case <-time.After(time.Minute):
			b.Fatal("the bare loop did not receive every message")
		}

		// The runner: event-to-run-started.
		e.benchRecord(b, benchPipeline(e.url, 0))
		stop := e.startEngine(b)
		time.Sleep(time.Second) // the consumer starts
		n = e.sendSteadily(b, 1)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if got, _ := e.runsStarted(b); got >= n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the runner did not start a run per event within 2 minutes")
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		_, starts := e.runsStarted(b)
		var runner []time.Duration
		rows, err := e.db.Reader().Query(context.Background(), `SELECT run_id, event FROM sluice_run_events`)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var doc string
			if err := rows.Scan(&id, &doc); err != nil {
				b.Fatal(err)
			}
			i := strings.Index(doc, `"key":"`)
			key := doc[i+7:]
			key = key[:strings.IndexByte(key, '"')]
			runner = append(runner, starts[id].Sub(sentAt(key)))
		}
		rows.Close()
		b.ReportMetric(float64(benchRate), "events/s")
		b.ReportMetric(float64(len(runner)), "runs")
		b.ReportMetric(percentile(runner, 0.50), "runner-p50-ms")
		b.ReportMetric(percentile(runner, 0.99), "runner-p99-ms")
		b.ReportMetric(percentile(bare, 0.50), "bare-p50-ms")
		b.ReportMetric(percentile(bare, 0.99), "bare-p99-ms")
	}
}
