package subscribe_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/subscribe"
)

// The tests run against a real kinesis-local and a real PostgreSQL, both started once for the
// package; every test makes its own stream and databases.
var (
	kin *acctest.Kinesis
	pg  *acctest.Postgres
	seq atomic.Int64
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	if kin, err = acctest.StartKinesis(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "subscribe tests: kinesis-local:", err, "(run `make tools`)")
		os.Exit(1)
	}
	if pg, err = acctest.StartPostgres(ctx); err != nil {
		kin.Stop()
		fmt.Fprintln(os.Stderr, "subscribe tests: postgres:", err, "(run `make tools`)")
		os.Exit(1)
	}
	code := m.Run()
	kin.Stop()
	pg.Stop()
	os.Exit(code)
}

func kinesisClient(t testing.TB) *kinesis.Client {
	t.Helper()
	c, err := kin.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newStream creates a provisioned stream with n shards and waits until it is active; it returns
// its name and ARN.
func newStream(t testing.TB, n int32) (string, string) {
	t.Helper()
	name := fmt.Sprintf("repl-%d-%d", os.Getpid(), seq.Add(1))
	c := kinesisClient(t)
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(n)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, name)
	return name, "arn:aws:kinesis:" + acctest.Region + ":000000000000:stream/" + name
}

func waitActive(t testing.TB, name string) {
	t.Helper()
	c := kinesisClient(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not active: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// newReplica creates a database with the test table t (k, n) whose bigserial id records the
// order rows arrived in; it returns its URL.
func newReplica(t testing.TB) string {
	t.Helper()
	name := newReplicaName()
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	url := pg.URL(name)
	execSQL(t, url, `CREATE SCHEMA app; CREATE TABLE app.t (id BIGSERIAL PRIMARY KEY, k TEXT NOT NULL, n INTEGER NOT NULL CHECK (n > 0))`)
	return url
}

func newReplicaName() string { return fmt.Sprintf("replica_%d_%d", os.Getpid(), seq.Add(1)) }

func execSQL(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// replication is a statements replication of stream arn to the given replicas (name →
// connection), read from TRIM_HORIZON and stopping on poison records.
func replication(name, arn string, replicas ...string) *definition.Replication {
	r := &definition.Replication{
		Format: definition.FormatReplication, Name: name, StreamARN: arn,
		Replicas:      map[string]definition.Replica{},
		Records:       definition.Records{Format: definition.RecordsStatements},
		Batch:         definition.Batch{MaxRecords: 100, MaxBytes: definition.MaxRecordBytes, MaxLatency: "200ms"},
		StartPosition: definition.StartPosition{Type: definition.StartTrimHorizon},
		Poison:        definition.Poison{Policy: definition.PoisonStop},
		PollInterval:  "100ms",
	}
	for _, rep := range replicas {
		r.Replicas[rep] = definition.Replica{Connection: rep, Region: acctest.Region}
	}
	return r
}

// publish writes replications into a file registry (a fresh one when dir is "") and returns it.
func publish(t testing.TB, dir string, reps ...*definition.Replication) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	for _, r := range reps {
		if probs := definition.ValidateReplication(r); len(probs) > 0 {
			t.Fatalf("invalid replication: %v", definition.Problems(probs))
		}
		data, err := definition.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(registry.ReplicationKey(r.Name)))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// service is a running subscriber Service.
type service struct {
	svc    *subscribe.Service
	cancel context.CancelFunc
	done   chan struct{}
	conns  *conn.Resolver
	db     *state.DB
}

type svcOpts struct {
	registryDir string
	database    string            // state database URL; a fresh SQLite file when ""
	conns       map[string]string // connection name → URL
	replicas    []string
	notifier    subscribe.Notifier
	leaseTTL    time.Duration
	stopRetry   time.Duration
	now         func() time.Time // the runner's clock; time.Now when nil
	quiet       bool             // discard the service's log (benchmarks print b.Log always)
	tick        time.Duration    // how often the service reads the registry and shards; 200ms when 0
	// wrap, when set, wraps the Kinesis client the service uses (benchmarks time its calls).
	wrap func(subscribe.Kinesis) subscribe.Kinesis
	// s3 serves s3:// URLs (staging, dead letters); file:// only when nil.
	s3 storage.S3API
}

// startService starts a Service in this process; it is stopped at the end of the test.
func startService(t testing.TB, o svcOpts) *service {
	t.Helper()
	ctx := context.Background()
	if o.database == "" {
		o.database = "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	}
	db, err := state.Open(ctx, o.database)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := conn.NewResolver(o.conns, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, "file://"+o.registryDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var client subscribe.Kinesis = kinesisClient(t)
	if o.wrap != nil {
		client = o.wrap(client)
	}
	if o.leaseTTL == 0 {
		o.leaseTTL = 3 * time.Second
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.tick == 0 {
		o.tick = 200 * time.Millisecond
	}
	svc, err := subscribe.New(subscribe.Options{
		DB: db, Registry: reg, Conns: conns, Store: storage.New(o.s3), Notifier: o.notifier,
		Kinesis:  func(context.Context, string) (subscribe.Kinesis, error) { return client, nil },
		Replicas: o.replicas, LeaseTTL: o.leaseTTL, Tick: o.tick, StopRetry: o.stopRetry, Now: o.now,
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	s := &service{svc: svc, cancel: cancel, done: make(chan struct{}), conns: conns, db: db}
	go func() {
		defer close(s.done)
		_ = svc.Run(runCtx)
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *service) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cancel()
	<-s.done
	s.conns.Close()
	s.db.Close()
}

// testWriter sends log lines to t.Log, so a failing test shows what the subscriber did.
type testWriter struct{ t testing.TB }

var logMu sync.Mutex

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// producer puts records into a stream and remembers what it put, in the order Kinesis took it
// for each partition key.
type producer struct {
	t      testing.TB
	c      *kinesis.Client
	stream string
	mu     sync.Mutex
	put    map[string][]int // key → values in put order
}

func newProducer(t testing.TB, stream string) *producer {
	return &producer{t: t, c: kinesisClient(t), stream: stream, put: map[string][]int{}}
}

// round puts one record per key (value n for key k), in one PutRecords call: a call holds at
// most one record of a key, and calls follow each other, so per key the put order is the
// round order whatever PutRecords does within a call.
func (p *producer) round(keys int, n int, data func(k string, n int) string) {
	p.t.Helper()
	var entries []types.PutRecordsRequestEntry
	for i := range keys {
		k := fmt.Sprintf("k%03d", i)
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: []byte(data(k, n))})
	}
	for len(entries) > 0 {
		out, err := p.c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(p.stream), Records: entries})
		if err != nil {
			p.t.Fatalf("PutRecords: %v", err)
		}
		var retry []types.PutRecordsRequestEntry
		p.mu.Lock()
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				retry = append(retry, entries[i])
				continue
			}
			k := aws.ToString(entries[i].PartitionKey)
			p.put[k] = append(p.put[k], n)
		}
		p.mu.Unlock()
		entries = retry
	}
}

func (p *producer) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.put {
		n += len(v)
	}
	return n
}

// insertSQL is a statements record that inserts (k, n).
func insertSQL(k string, n int) string {
	return fmt.Sprintf("INSERT INTO app.t (k, n) VALUES ('%s', %d)", k, n)
}

// rowJSON is a rows record of (k, n).
func rowJSON(k string, n int) string { return fmt.Sprintf(`{"k": %q, "n": %d}`, k, n) }

// applied reads app.t per key in the order the rows were inserted (id).
func applied(t testing.TB, url string) map[string][]int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(context.Background(), `SELECT k, n FROM app.t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = append(out[k], n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(m map[string][]int) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// waitApplied waits until the replica holds as many rows as were produced (or the timeout).
func waitApplied(t testing.TB, url string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := count(applied(t, url))
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica has %d rows after %s, want %d", got, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// diff compares what the replica holds with what was produced, key by key and in order: it
// returns the duplicates, the gaps and the keys out of order (all zero when equal row for row).
func diff(produced, got map[string][]int) (duplicates, gaps, disordered int) {
	keys := map[string]bool{}
	for k := range produced {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	for k := range keys {
		want := map[int]int{}
		for _, n := range produced[k] {
			want[n]++
		}
		have := map[int]int{}
		for _, n := range got[k] {
			have[n]++
		}
		for n, c := range have {
			if c > want[n] {
				duplicates += c - want[n]
			}
		}
		for n, c := range want {
			if have[n] < c {
				gaps += c - have[n]
			}
		}
		if !sort.IntsAreSorted(got[k]) {
			disordered++
		}
	}
	return duplicates, gaps, disordered
}

// assertEqual fails unless the replica equals what was produced, row for row, in order per key.
func assertEqual(t testing.TB, name string, produced, got map[string][]int) {
	t.Helper()
	d, g, o := diff(produced, got)
	t.Logf("%s: produced %d, applied %d, duplicates %d, gaps %d, keys out of order %d", name, count(produced), count(got), d, g, o)
	if d != 0 || g != 0 || o != 0 || count(produced) != count(got) {
		t.Fatalf("%s differs from what was produced: duplicates %d, gaps %d, keys out of order %d (produced %d, applied %d)",
			name, d, g, o, count(produced), count(got))
	}
}

func (p *producer) produced() map[string][]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]int, len(p.put))
	for k, v := range p.put {
		out[k] = append([]int(nil), v...)
	}
	return out
}
