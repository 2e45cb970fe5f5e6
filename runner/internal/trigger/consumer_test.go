package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// env is goaws, a queue on it, and a state database.
type env struct {
	g   *acctest.Goaws
	sqs *sqs.Client
	db  *state.DB
	url string
}

func newEnv(t testing.TB, dbURL string) *env {
	t.Helper()
	ctx := context.Background()
	g, err := acctest.StartGoaws(ctx, "raw-topic")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	c, err := g.SQS()
	if err != nil {
		t.Fatal(err)
	}
	url, err := g.CreateQueue(ctx, "raw-events")
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &env{g: g, sqs: c, db: db, url: url}
}

// bothDatabases runs fn on a fresh SQLite file and a fresh PostgreSQL database.
func bothDatabases(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, acctest.NewPostgresDatabase(t)) })
}

func rawPipeline(queueURL string, edit func(s *definition.SQSTrigger)) *definition.Pipeline {
	s := &definition.SQSTrigger{QueueURL: queueURL, Bucket: "acme-raw", Pattern: "raw/{date}/{hour}/", VisibilityTimeout: "2s"}
	if edit != nil {
		edit(s)
	}
	return &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "raw", Enabled: true, Trigger: &definition.Trigger{SQS: s},
		Activities: map[string]*definition.Activity{"load": {Shell: &definition.ShellActivity{Command: []string{"true", "{{ .Params.date }}"}}}},
	}
}

// publish records p as the engine does when it reads the registry.
func (e *env) publish(t testing.TB, ps ...*definition.Pipeline) {
	t.Helper()
	ctx := context.Background()
	for _, p := range ps {
		if probs := definition.ValidatePipeline(p); len(probs) > 0 {
			t.Fatalf("pipeline %s: %v", p.Name, probs)
		}
		doc, err := definition.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.InTx(ctx, func(q state.Q) error {
			if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, time.Now()); err != nil {
				return err
			}
			return state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: true}, time.Now())
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func kinds(p *definition.Pipeline) (map[string]string, error) {
	out := map[string]string{}
	for id := range p.Activities {
		out[id] = definition.KindShell
	}
	return out, nil
}

// syncBuffer is a log sink tests read while the manager writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a Manager on the env's database with queue wrapping the real queue; stop waits for
// it to end.
func (e *env) start(t testing.TB, wrap func(Queue) Queue) (logs *syncBuffer, stop func()) {
	t.Helper()
	logs = &syncBuffer{}
	m := New(Options{
		DB: e.db, Kinds: kinds, Refresh: 200 * time.Millisecond, AfterPoll: 100 * time.Millisecond,
		Queue: func(url string) Queue {
			var q Queue = &SQS{API: e.sqs, URL: url}
			if wrap != nil {
				q = wrap(q)
			}
			return q
		},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return logs, stop
}

// send puts bodies on the queue, ten a call.
func (e *env) send(t testing.TB, bodies ...string) {
	t.Helper()
	for from := 0; from < len(bodies); from += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range bodies[from:min(from+10, len(bodies))] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := e.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(e.url), Entries: entries})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("send: %+v", out.Failed)
		}
	}
}

// queued counts the messages on the queue, visible or not: goaws's ApproximateNumberOfMessages
// counts them all (SQS's counts only the visible ones).
func (e *env) queued(t testing.TB) int {
	t.Helper()
	out, err := e.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		t.Fatalf("ApproximateNumberOfMessages: %v", err)
	}
	return n
}

// tally is what the runs of a pipeline hold.
type tally struct {
	runs       int
	objects    int            // objects over every run
	distinct   map[string]int // object -> how many runs hold it
	duplicates int            // objects held by more than one run (or twice by one)
}

func (e *env) tally(t testing.TB, pipeline string) tally {
	t.Helper()
	ctx := context.Background()
	rows, err := e.db.Reader().Query(ctx, `SELECT e.event FROM sluice_run_events e JOIN sluice_runs r ON r.id = e.run_id WHERE r.pipeline = $1`, pipeline)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := tally{distinct: map[string]int{}}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var ev definition.Event
		if err := json.Unmarshal([]byte(doc), &ev); err != nil {
			t.Fatal(err)
		}
		out.runs++
		for _, o := range ev.Objects {
			out.objects++
			k := o.Bucket + "/" + o.Key
			out.distinct[k]++
			if out.distinct[k] == 2 {
				out.duplicates++
			}
		}
	}
	return out
}

// waitFor polls cond until it holds or a minute passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keyOf(i int) string { return fmt.Sprintf("raw/2026-11-18/%02d/part-%05d.csv", i%24, i) }

func eventOf(i int) acctest.S3Object {
	o := obj(keyOf(i))
	o.Sequencer = fmt.Sprintf("0055AED6DC%08X", i)
	return o
}

func TestConsumer_DuplicatesAndRedeliveriesMakeOneRunPerEvent(t *testing.T) {
	bothDatabases(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.publish(t, rawPipeline(e.url, nil))
		const n = 150
		var bodies []string
		for i := range n {
			body := acctest.S3EventNotification(eventOf(i))
			switch i % 3 {
			case 1:
				body = acctest.SNSEnvelope(e.g.TopicARN("raw-topic"), body)
			case 2:
				body = acctest.EventBridgeObjectCreated(eventOf(i))
			}
			bodies = append(bodies, body, body) // every message twice: a duplicated delivery
		}
		logs, _ := e.start(t, nil)
		e.send(t, bodies...)
		waitFor(t, "the queue to drain", func() bool { return e.queued(t) == 0 })
		// The first 50 again, after their runs were made and their messages deleted: a
		// redelivery of a message whose delete was lost.
		e.send(t, bodies[:100]...)
		waitFor(t, "the redelivered messages to be deleted", func() bool { return e.queued(t) == 0 })
		got := e.tally(t, "raw")
		lost := n - len(got.distinct)
		t.Logf("messages in: %d (%d distinct events), runs made: %d, duplicates: %d, lost: %d", len(bodies)+100, n, got.runs, got.duplicates, lost)
		if got.runs != n || got.duplicates != 0 || lost != 0 {
			t.Errorf("runs %d, duplicates %d, lost %d; want %d, 0, 0", got.runs, got.duplicates, lost, n)
		}
		if !strings.Contains(logs.String(), "events already made their run") {
			t.Error("no log line about redelivered messages")
		}
	})
}

// crashQueue stands in for a runner killed at a point: deletes never happen (killed between
// recording and deleting), or the context is cut right after a receive (killed between
// receiving and recording).
type crashQueue struct {
	Queue
	dropDeletes   bool
	cancelReceive context.CancelFunc
	received      *int
	mu            sync.Mutex
}

func (q *crashQueue) Receive(ctx context.Context, n int, wait, vis time.Duration) ([]Message, error) {
	msgs, err := q.Queue.Receive(ctx, n, wait, vis)
	if q.cancelReceive != nil && len(msgs) > 0 {
		q.mu.Lock()
		*q.received += len(msgs)
		q.mu.Unlock()
		q.cancelReceive() // the process dies holding these messages
	}
	return msgs, err
}

func (q *crashQueue) Delete(ctx context.Context, msgs []Message) error {
	if q.dropDeletes {
		return nil
	}
	return q.Queue.Delete(ctx, msgs)
}

func TestConsumer_KilledBetweenRecordingAndDeletingMakesNoSecondRun(t *testing.T) {
	bothDatabases(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.publish(t, rawPipeline(e.url, nil))
		const n = 60
		var bodies []string
		for i := range n {
			bodies = append(bodies, acctest.S3EventNotification(eventOf(i)))
		}
		e.send(t, bodies...)
		// The first runner records every run and is killed before any delete.
		_, stop := e.start(t, func(q Queue) Queue { return &crashQueue{Queue: q, dropDeletes: true} })
		waitFor(t, "the first runner's runs", func() bool { return e.tally(t, "raw").runs == n })
		stop()
		if q := e.queued(t); q != n {
			t.Fatalf("%d messages on the queue after the kill, want all %d", q, n)
		}
		// The next runner receives every message again once its visibility times out.
		logs, _ := e.start(t, nil)
		waitFor(t, "the redelivered messages to be deleted", func() bool { return e.queued(t) == 0 })
		got := e.tally(t, "raw")
		lost := n - len(got.distinct)
		t.Logf("messages in: %d, runs made: %d, duplicates: %d, lost: %d", n, got.runs, got.duplicates, lost)
		if got.runs != n || got.duplicates != 0 || lost != 0 {
			t.Errorf("runs %d, duplicates %d, lost %d; want %d, 0, 0", got.runs, got.duplicates, lost, n)
		}
		if strings.Contains(logs.String(), "triggered run created") {
			t.Error("the second runner made a run for an event already recorded")
		}
	})
}

func TestConsumer_KilledBetweenReceivingAndRecordingLosesNothing(t *testing.T) {
	bothDatabases(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.publish(t, rawPipeline(e.url, nil))
		const n = 40
		var bodies []string
		for i := range n {
			bodies = append(bodies, acctest.S3EventNotification(eventOf(i)))
		}
		e.send(t, bodies...)
		// Three runners in a row die right after a receive, before recording anything.
		held := 0
		for range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			c := &consumer{url: e.url, q: &crashQueue{Queue: &SQS{API: e.sqs, URL: e.url}, cancelReceive: cancel, received: &held},
				rec: &Recorder{DB: e.db, Kinds: kinds, Now: time.Now}, log: slog.New(slog.DiscardHandler), now: time.Now}
			l, err := NewListener(rawPipeline(e.url, nil))
			if err != nil {
				t.Fatal(err)
			}
			c.setListeners([]*Listener{l})
			c.run(ctx)
		}
		if got := e.tally(t, "raw"); got.runs != 0 || held == 0 {
			t.Fatalf("the killed runners made %d runs holding %d messages", got.runs, held)
		}
		e.start(t, nil)
		waitFor(t, "the queue to drain", func() bool { return e.queued(t) == 0 })
		got := e.tally(t, "raw")
		lost := n - len(got.distinct)
		t.Logf("messages in: %d (%d received by killed runners), runs made: %d, duplicates: %d, lost: %d", n, held, got.runs, got.duplicates, lost)
		if got.runs != n || got.duplicates != 0 || lost != 0 {
			t.Errorf("runs %d, duplicates %d, lost %d; want %d, 0, 0", got.runs, got.duplicates, lost, n)
		}
	})
}

func TestConsumer_UnusableMessagesStayForTheDeadLetterQueueWithAReason(t *testing.T) {
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	// The pipelines' queue moves a message to its dead-letter queue at the second receive.
	ctx := context.Background()
	dlq, err := e.g.CreateQueue(ctx, "raw-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("raw-events-redrive"), Attributes: map[string]string{
		"RedrivePolicy": `{"maxReceiveCount":"2","deadLetterTargetArn":"arn:aws:sqs:` + e.g.Region + `:` + e.g.AccountID + `:raw-events-dlq"}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.url = aws.ToString(out.QueueUrl)
	b := rawPipeline(e.url, nil)
	b.Name = "b"
	b.Trigger.SQS = &definition.SQSTrigger{QueueURL: e.url, After: []string{"a"}, VisibilityTimeout: "1s"}
	b.Activities = map[string]*definition.Activity{"load": {Shell: &definition.ShellActivity{Command: []string{"true"}}}}
	e.publish(t, rawPipeline(e.url, func(s *definition.SQSTrigger) { s.VisibilityTimeout = "1s" }), b)
	logs, stop := e.start(t, nil)
	other := obj("cooked/2026-11-18/13/x.csv")
	e.send(t,
		`{"hello": "<script>alert(1)</script>"}`, // malformed
		acctest.S3EventNotification(other),       // no pipeline's filter matches
		`{"format":"sluice/notification.v1","event":"success","pipeline":"nobody","run_id":3,"interval_start":"2026-11-18T00:00:00Z","interval_end":"2026-11-19T00:00:00Z"}`,
		`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-18T13:00:00.000Z","Bucket":"acme-raw"}`, // ignored: deleted
	)
	waitFor(t, "the log lines", func() bool {
		l := logs.String()
		return strings.Count(l, "left on the queue for its redrive policy") >= 3 && strings.Contains(l, "holds nothing to run; deleted")
	})
	main := e.url
	waitFor(t, "the unusable messages to reach the dead-letter queue", func() bool {
		e.url = dlq
		n := e.queued(t)
		e.url = main
		return n == 3 && e.queued(t) == 0
	})
	stop()
	l := logs.String()
	for _, want := range []string{
		`"pipelines":"b, raw"`, "neither an S3 event notification",
		"s3://acme-raw/cooked/2026-11-18/13/x.csv", `raw (bucket acme-raw, pattern \"raw/{date}/{hour}/\")`,
		"notification of nobody", "b (notifications of a)",
	} {
		if !strings.Contains(l, want) {
			t.Errorf("the logs do not say %q:\n%s", want, l)
		}
	}
	if got := e.tally(t, "raw"); got.runs != 0 {
		t.Errorf("unusable messages made %d runs", got.runs)
	}
}

func TestConsumer_BurstOfTenThousandEventsIntoOneBatchedPipeline(t *testing.T) {
	e := newEnv(t, acctest.NewPostgresDatabase(t))
	e.publish(t, rawPipeline(e.url, func(s *definition.SQSTrigger) { s.MaxEvents = 1000; s.MaxWait = "3s"; s.VisibilityTimeout = "30s" }))
	const n = 10000
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = acctest.S3EventNotification(eventOf(i))
	}
	sendStart := time.Now()
	e.send(t, bodies...)
	sent := time.Since(sendStart)
	start := time.Now()
	e.start(t, nil)
	waitFor(t, "the burst to drain", func() bool { return e.queued(t) == 0 })
	took := time.Since(start)
	got := e.tally(t, "raw")
	lost := n - len(got.distinct)
	t.Logf("messages in: %d (sent in %s), runs made: %d, objects in runs: %d, duplicates: %d, lost: %d, drained in %s (%.0f events/s)",
		n, sent.Round(time.Millisecond), got.runs, got.objects, got.duplicates, lost, took.Round(time.Millisecond), float64(n)/took.Seconds())
	if got.objects != n || got.duplicates != 0 || lost != 0 {
		t.Errorf("objects %d, duplicates %d, lost %d; want %d, 0, 0", got.objects, got.duplicates, lost, n)
	}
	if got.runs < n/1000 || got.runs > n/1000+5 {
		t.Errorf("%d runs for %d events in batches of 1000", got.runs, n)
	}
	// Every run's interval spans the hours of its objects' keys.
	runs, err := state.RecentRuns(context.Background(), e.db.Reader(), "raw", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.IntervalStart.Before(time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)) || r.IntervalEnd.After(time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("run %d interval [%s, %s) is outside the day of its keys", r.ID, r.IntervalStart, r.IntervalEnd)
		}
	}
}

// Two runners on one PostgreSQL database read one queue whose every message is sent twice: each
// event still makes one run (the per-pipeline lock and the dedupe keys), none is lost.
func TestConsumer_TwoRunnersOnePostgresMakeOneRunPerEvent(t *testing.T) {
	e := newEnv(t, acctest.NewPostgresDatabase(t))
	e.publish(t, rawPipeline(e.url, func(s *definition.SQSTrigger) { s.MaxEvents = 7; s.MaxWait = "1s" }))
	const n = 300
	var bodies []string
	for i := range n {
		body := acctest.S3EventNotification(eventOf(i))
		bodies = append(bodies, body, body)
	}
	e.start(t, nil)
	e.start(t, nil)
	e.send(t, bodies...)
	waitFor(t, "the queue to drain", func() bool { return e.queued(t) == 0 })
	got := e.tally(t, "raw")
	lost := n - len(got.distinct)
	t.Logf("messages in: %d (%d events) read by two runners, runs made: %d, objects in runs: %d, duplicates: %d, lost: %d",
		len(bodies), n, got.runs, got.objects, got.duplicates, lost)
	if got.objects != n || got.duplicates != 0 || lost != 0 {
		t.Errorf("objects %d, duplicates %d, lost %d; want %d, 0, 0", got.objects, got.duplicates, lost, n)
	}
}

// extendCount counts the messages whose visibility the consumer extends.
type extendCount struct {
	Queue
	n atomic.Int64
}

func (q *extendCount) Extend(ctx context.Context, msgs []Message, d time.Duration) error {
	q.n.Add(int64(len(msgs)))
	return q.Queue.Extend(ctx, msgs, d)
}

// A recording held up longer than the visibility timeout (here: another transaction holds
// the pipeline's lock for three timeouts) keeps its messages invisible meanwhile, so they are
// not delivered again while their runs are being committed; the run is made once.
func TestConsumer_SlowRecordingKeepsItsMessagesInvisible(t *testing.T) {
	e := newEnv(t, acctest.NewPostgresDatabase(t))
	e.publish(t, rawPipeline(e.url, nil)) // visibility_timeout 2s
	ctx := context.Background()
	locked, unlock := make(chan struct{}), make(chan struct{})
	go func() {
		_ = e.db.InTx(ctx, func(q state.Q) error {
			if err := state.LockPipeline(ctx, q, e.db.Dialect, "raw"); err != nil {
				return err
			}
			close(locked)
			<-unlock
			return nil
		})
	}()
	<-locked
	e.send(t, acctest.S3EventNotification(eventOf(1)))
	ext := &extendCount{}
	e.start(t, func(q Queue) Queue { ext.Queue = q; return ext })
	time.Sleep(6 * time.Second) // three visibility timeouts with the recording blocked
	if got := ext.n.Load(); got < 2 {
		t.Errorf("the message's visibility was extended %d times while its recording waited 6s; want at least 2 (every 1s)", got)
	}
	if q := e.visibleNow(t); q != 0 {
		t.Errorf("%d messages visible on the queue while their recording waits: another consumer could receive them", q)
	}
	close(unlock)
	waitFor(t, "the message to be deleted", func() bool { return e.queued(t) == 0 })
	if got := e.tally(t, "raw"); got.runs != 1 || got.duplicates != 0 {
		t.Errorf("runs %d, duplicates %d; want 1 run, 0 duplicates", got.runs, got.duplicates)
	}
}

// visibleNow receives what another consumer would get from the queue now (hiding it for a
// second), and says how many messages that was.
func (e *env) visibleNow(t testing.TB) int {
	t.Helper()
	out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(e.url), MaxNumberOfMessages: 10, VisibilityTimeout: 1, WaitTimeSeconds: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Messages)
}
