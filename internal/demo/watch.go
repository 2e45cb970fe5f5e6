package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Watching the replicas demo: the runners' status and metrics, and each replica's lag behind
// the producer.

// shard is the part of `status --replicas --output json` the demo reads.
type shard struct {
	Replica      string `json:"replica"`
	Shard        string `json:"shard"`
	State        string `json:"state"`
	Applied      int64  `json:"applied_records"`
	MillisBehind *int64 `json:"millis_behind_latest"`
	LastError    string `json:"last_error"`
}

// monitor reads `sluice-runner status --replicas --output json` every second and keeps the
// latest shards, and scrapes sluice_replica_millis_behind_latest from a runner's /metrics five
// times a second for the largest lag of each replica: a subscriber reports the lag of its last
// read when it commits a batch, so a backlog shows for a moment, until the next batch.
type monitor struct {
	bin     string
	env     []string
	metrics string // URL of a runner's /metrics

	mu     sync.Mutex
	shards []shard
	lag    map[string]int64
	err    error
}

func newMonitor(bin string, env []string, metrics string) *monitor {
	return &monitor{bin: bin, env: env, metrics: metrics, lag: map[string]int64{}}
}

func (m *monitor) run(ctx context.Context) {
	status := time.NewTicker(time.Second)
	defer status.Stop()
	scrape := time.NewTicker(200 * time.Millisecond)
	defer scrape.Stop()
	m.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-status.C:
			m.poll(ctx)
		case <-scrape.C:
			m.scrape(ctx)
		}
	}
}

// scrape reads the lag of every replica's shards from /metrics.
func (m *monitor) scrape(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metrics, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // the runner is starting or stopping: the next scrape will do
	}
	defer resp.Body.Close()
	lags := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		replica, v, ok := behindLatest(sc.Text())
		if ok && v > lags[replica] {
			lags[replica] = v
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for r, v := range lags {
		if v > m.lag[r] {
			m.lag[r] = v
		}
	}
}

// behindLatest parses one line of sluice_replica_millis_behind_latest{…replica="R"…} V.
func behindLatest(line string) (string, int64, bool) {
	rest, ok := strings.CutPrefix(line, "sluice_replica_millis_behind_latest{")
	if !ok {
		return "", 0, false
	}
	labels, value, ok := strings.Cut(rest, "} ")
	if !ok {
		return "", 0, false
	}
	_, replica, ok := strings.Cut(labels, `replica="`)
	if !ok {
		return "", 0, false
	}
	replica, _, _ = strings.Cut(replica, `"`)
	v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil {
		return "", 0, false
	}
	return replica, int64(v), true
}

func (m *monitor) poll(ctx context.Context) {
	cmd := exec.CommandContext(ctx, m.bin, "status", "--replicas", "--output", "json")
	cmd.Env = append(os.Environ(), m.env...)
	data, err := cmd.Output()
	var shards []shard
	if err == nil {
		err = json.Unmarshal(data, &shards)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			m.err = fmt.Errorf("sluice-runner status --replicas: %w", err)
		}
		return
	}
	m.err = nil
	m.shards = shards
	for _, s := range shards {
		if s.MillisBehind != nil && *s.MillisBehind > m.lag[s.Replica] {
			m.lag[s.Replica] = *s.MillisBehind
		}
	}
}

func (m *monitor) snapshot() ([]shard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]shard(nil), m.shards...), m.err
}

func (m *monitor) applied() map[string]int64 {
	shards, _ := m.snapshot()
	out := map[string]int64{}
	for _, s := range shards {
		out[s.Replica] += s.Applied
	}
	return out
}

func (m *monitor) maxLag() map[string]time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Duration{}
	for _, r := range Replicas {
		out[r] = time.Duration(m.lag[r]) * time.Millisecond
	}
	return out
}

// waitProgress waits until replica has applied more records than it had when called.
func waitProgress(ctx context.Context, m *monitor, replica string, limit time.Duration) error {
	before := m.applied()[replica]
	deadline := time.Now().Add(limit)
	for m.applied()[replica] <= before {
		if time.Now().After(deadline) {
			shards, err := m.snapshot()
			return fmt.Errorf("replica %s applied nothing within %s of its runner's restart%s: %+v", replica, limit, statusError(err), shards)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// statusError says why the last `status` failed, if it did.
func statusError(err error) string {
	if err == nil {
		return ""
	}
	return " (the last status failed: " + err.Error() + ")"
}

// waitApplied waits until every replica has checkpointed want records, printing progress.
func (m *monitor) waitApplied(ctx context.Context, want int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		got := m.applied()
		done := true
		var parts []string
		for _, r := range Replicas {
			parts = append(parts, fmt.Sprintf("%s %d", r, got[r]))
			if got[r] < want {
				done = false
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			shards, err := m.snapshot()
			return fmt.Errorf("the replicas did not apply all %d records within %s: %s%s\n%+v", want, limit, strings.Join(parts, ", "), statusError(err), shards)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// countReplicas reads every replica: its checkpointed records and dead letters, and the rows
// of every table the demo wrote, against what was produced.
// lagProbe measures how far behind the producer each replica is, end to end: five times a
// second it reads the highest id of each produced table in each replica, and a replica's lag is
// how long ago the oldest round it does not hold yet was put. A replica that cannot be read
// (down) is measured again as soon as it can be.
type lagProbe struct {
	prod *producer
	urls map[string]string

	mu  sync.Mutex
	max map[string]time.Duration
}

func newLagProbe(prod *producer, urls map[string]string) *lagProbe {
	return &lagProbe{prod: prod, urls: urls, max: map[string]time.Duration{}}
}

func (p *lagProbe) run(ctx context.Context) {
	var wg sync.WaitGroup
	for r, url := range p.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.probe(ctx, r, url)
		}()
	}
	wg.Wait()
}

func (p *lagProbe) probe(ctx context.Context, replica, url string) {
	var c *pgx.Conn
	defer func() {
		if c != nil {
			c.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		if c == nil {
			cfg, err := pgx.ParseConfig(url)
			if err != nil {
				return
			}
			cfg.ConnectTimeout = time.Second
			if c, err = pgx.ConnectConfig(ctx, cfg); err != nil {
				c = nil
				continue // down: measured when it is back
			}
		}
		now := time.Now()
		var lag time.Duration
		for _, t := range p.prod.tables {
			var applied int64
			err := c.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM analytics."+t.name).Scan(&applied)
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == "42P01":
				applied = 0 // its CREATE TABLE is not applied yet
			case err != nil:
				c.Close(context.WithoutCancel(ctx))
				c = nil
			}
			if c == nil {
				break
			}
			lag = max(lag, t.behind(applied, now))
		}
		if c == nil {
			continue
		}
		p.mu.Lock()
		p.max[replica] = max(p.max[replica], lag)
		p.mu.Unlock()
	}
}

func (p *lagProbe) maxLag() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Duration{}
	for r, d := range p.max {
		out[r] = d
	}
	return out
}

// background is a goroutine that runs until its work returns or it is stopped.
type background struct {
	cancel   context.CancelFunc
	finished chan struct{}
	err      error // the work's, once finished is closed
}

func goBackground(ctx context.Context, work func(context.Context) error) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, finished: make(chan struct{})}
	go func() { b.err = work(ctx); close(b.finished) }()
	return b
}

// done says, without waiting, whether the work has returned, and its error.
func (b *background) done() (bool, error) {
	select {
	case <-b.finished:
		return true, b.err
	default:
		return false, nil
	}
}

// stop cancels the work and waits for it to return; it may be called again.
func (b *background) stop() {
	b.cancel()
	<-b.finished
}
