package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// The replicas demo runs examples/multi-region on one machine: kinesis-local for the stream,
// one PostgreSQL server holding the three replica databases (use1_a, use1_b, euw1) and the
// runners' shared state database, and one `sluice-runner serve --replicas NAME` process per
// replica. It loads days of events through the example's pipeline (stream_put), streams
// inserts, updates, deletes and DDL into four tables with `sluice-runner put` under four
// partition keys, and meanwhile SIGKILLs a subscriber mid-batch and restarts it, reshards the
// stream 2 → 4 with `terraform apply -var shard_count=4`, and takes a replica away for a while.
// It ends when every replica has applied every record, with `sluice-runner replicas verify`.
//
// The state database: one PostgreSQL database shared by the three runners, the backfill and
// `status`. Leases only mean something where the runners meet (a killed runner's leases are
// seen to lapse and are taken over), `status --replicas` shows every replica in one call, and
// the runs the backfill made are the ones the runners' schedulers see, so no interval is run
// twice. SQLite would give each runner a file of its own and none of that.

// Replicas are the example's replica names (runner connections), in the order they are shown.
var Replicas = []string{"use1_a", "use1_b", "euw1"}

// killed and paused are the replicas the demo SIGKILLs the subscriber of, and takes away.
const killed, paused = "use1_b", "euw1"

// ReplicasSize is how much the replicas demo produces, and how long the outage lasts.
type ReplicasSize struct {
	// Days of events loaded through the pipeline, EventsPerDay rows each (two CSV files a day).
	Days, EventsPerDay int
	// RowsPerChange is the rows of each INSERT the producer puts; PutEvery how often it puts
	// into each of its four tables.
	RowsPerChange int
	PutEvery      time.Duration
	// Outage is how long the paused replica is away.
	Outage time.Duration
}

// FullSize is `make demo-replicas`: a few hundred thousand rows, a twenty-second outage.
var FullSize = ReplicasSize{Days: 4, EventsPerDay: 60_000, RowsPerChange: 250, PutEvery: 500 * time.Millisecond, Outage: 20 * time.Second}

// SmallSize is the same story with fewer rows and a shorter outage, for the test.
var SmallSize = ReplicasSize{Days: 2, EventsPerDay: 2_000, RowsPerChange: 20, PutEvery: 500 * time.Millisecond, Outage: 8 * time.Second}

// ReplicasOptions say where the replicas demo works, with which binaries, and how big it is.
type ReplicasOptions struct {
	Options
	Size ReplicasSize
}

// TableCount is one replicated table: the rows the demo produced for it and each replica's.
type TableCount struct {
	Table    string
	Expected int64
	Replicas map[string]int64
	// Sums are a second figure per table, order-sensitive (sum of amounts after the updates):
	// expected and per replica; zero for tables without one.
	ExpectedSum int64
	Sums        map[string]int64
}

// ReplicasResult is what the replicas demo did and found.
type ReplicasResult struct {
	// RowsProduced counts the rows produced: loaded events plus inserted rows.
	RowsProduced int64
	// Records is every record put into the stream (loads, statements, DDL).
	Records int64
	// Applied is the records each replica checkpointed (its sluice.replication_checkpoints).
	Applied map[string]int64
	// DeadLetters per replica: records no replica could apply (0 when all is well).
	DeadLetters map[string]int64
	// Kills says how many subscribers were SIGKILLed; KilledDuring what the replica was doing.
	Kills        int
	KilledDuring string
	// Shards before and after the reshard.
	ShardsBefore, ShardsAfter int
	Outage                    time.Duration
	Tables                    []TableCount
	// MaxLag is the largest MillisBehindLatest the runners' /metrics showed for each replica.
	// It is the lag left after a read: a read that returns the whole backlog (up to
	// max_records) reads 0, however old the backlog was.
	MaxLag map[string]time.Duration
	// MaxBehindProducer is the largest end-to-end lag of each replica: how long ago the oldest
	// round of the producer the replica did not hold yet had been put.
	MaxBehindProducer map[string]time.Duration
	// Verify is the output of `sluice-runner replicas verify warehouse`; it exited 0.
	Verify  string
	Elapsed time.Duration
}

// RunReplicas runs the replicas demo.
func RunReplicas(ctx context.Context, o ReplicasOptions) (res *ReplicasResult, err error) {
	began := time.Now()
	size := o.Size
	if size.Days == 0 {
		size = FullSize
	}
	today := o.Today
	if today.IsZero() {
		today = time.Now().UTC()
	}
	end := today.UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -size.Days)
	res = &ReplicasResult{Applied: map[string]int64{}, DeadLetters: map[string]int64{}, MaxLag: map[string]time.Duration{}, ShardsBefore: 2, ShardsAfter: 4, Outage: size.Outage}
	out := o.Out

	if err := os.RemoveAll(o.Dir); err != nil {
		return nil, fmt.Errorf("cleaning %s: %w", o.Dir, err)
	}
	events := filepath.Join(o.Dir, "events")
	say(out, "Generating %d days of events (%d rows a day, two CSV files a day) under %s", size.Days, size.EventsPerDay, events)
	if err := writeEvents(events, start, size.Days, size.EventsPerDay); err != nil {
		return nil, err
	}

	say(out, "Starting kinesis-local (the stream) and a throwaway PostgreSQL (the three replicas and the runners' state database)")
	kin, err := acctest.StartKinesis(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting kinesis-local: %w (run `make tools`)", err)
	}
	defer kin.Stop()
	pg, err := acctest.StartPostgres(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w (run `make tools`)", err)
	}
	defer pg.Stop()
	for _, db := range append(append([]string{}, Replicas...), "sluice_state") {
		if err := pg.CreateDatabase(ctx, db); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "kinesis-local %s; PostgreSQL 127.0.0.1:%d with databases %s and sluice_state\n", kin.Endpoint, pg.Port, strings.Join(Replicas, ", "))

	// The example, copied with the module it uses so its relative source path holds.
	say(out, "terraform apply examples/multi-region: the stream (2 shards), the warehouse module on each replica, the replication, the pipeline")
	exDir := filepath.Join(o.Dir, "examples", "multi-region")
	if err := copyFiles(filepath.Join(o.Root, "examples", "multi-region"), exDir); err != nil {
		return nil, err
	}
	module := filepath.Join("examples", "redshift-replicas", "modules", "warehouse")
	if err := copyFiles(filepath.Join(o.Root, module), filepath.Join(o.Dir, module)); err != nil {
		return nil, err
	}
	registry := "file://" + filepath.Join(o.Dir, "registry")
	if err := writeTFVars(exDir, pg, kin, registry, o.Dir, start); err != nil {
		return nil, err
	}
	passwords := map[string]string{}
	for _, r := range Replicas {
		passwords[r] = pg.Password
	}
	pw, err := json.Marshal(passwords)
	if err != nil {
		return nil, fmt.Errorf("encoding the passwords: %w", err)
	}
	tf, err := newTerraform(o.Options, exDir, "TF_VAR_passwords="+string(pw))
	if err != nil {
		return nil, err
	}
	if err := tf.run(ctx, "get"); err != nil {
		return nil, err
	}
	if err := tf.run(ctx, "apply", "-auto-approve"); err != nil {
		return nil, err
	}

	state := pg.URL("sluice_state")
	env := runnerEnv{base: []string{
		"SLUICE_REGISTRY=" + registry, "SLUICE_DATABASE=" + state,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KINESIS=" + kin.Endpoint, "AWS_REGION=us-east-1",
	}, conns: map[string]string{}}
	for _, r := range Replicas {
		env.conns[r] = pg.URL(r)
	}
	runner := func(ctx context.Context, env []string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, o.Runner, args...)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return b, fmt.Errorf("sluice-runner %s: %w\n%s", args[0], err, stderr.String())
		}
		return b, nil
	}

	say(out, "sluice-runner backfill daily_events --from %s --to %s: each day's files go into the stream as one load record, then the day's count as statements",
		start.Format(time.RFC3339), end.Format(time.RFC3339))
	if err := command(ctx, o.Options, o.Dir, env.base, o.Runner, "backfill", "daily_events", "--from", start.Format(time.RFC3339), "--to", end.Format(time.RFC3339),
		"--tick", "200ms", "--log-level", "warn"); err != nil {
		return nil, err
	}
	res.Records = int64(size.Days * 3) // a load and two statements a day
	res.RowsProduced = int64(size.Days * size.EventsPerDay)

	// The subscribers: one runner per replica, each knowing only its own replica's connection.
	logs := filepath.Join(o.Dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", logs, err)
	}
	serves := map[string]*serveProc{}
	defer func() {
		for _, s := range serves {
			s.stop()
		}
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, tails(logs))
		}
	}()
	startServe := func(r string) error {
		s, err := startServe(o.Runner, env.forReplica(r), r, filepath.Join(logs, "serve-"+r+".log"))
		if err != nil {
			return err
		}
		serves[r] = s
		return nil
	}
	say(out, "Starting one subscriber runner per replica: sluice-runner serve --replicas NAME (SLUICE_CONN_NAME set for its replica only; logs in %s)", logs)
	for _, r := range Replicas {
		if err := startServe(r); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "serve --replicas %-7s pid %d  (region %s)\n", r, serves[r].cmd.Process.Pid, regionOf(r))
	}

	// The monitor, the producer and the lag probe run beside the chaos; every return stops them
	// and waits for them, before the runners, kinesis-local and PostgreSQL stop.
	mon := newMonitor(o.Runner, env.base, "http://"+serves[Replicas[0]].addr+"/metrics")
	monitoring := goBackground(ctx, func(ctx context.Context) error { mon.run(ctx); return nil })
	defer monitoring.stop()
	prod := newProducer(o.Runner, env.base, filepath.Join(o.Dir, "put"), size)
	say(out, "Producing with `sluice-runner put`, every %s: CREATE TABLE, inserts of %d rows, updates, deletes, later ALTER TABLE, into %s", size.PutEvery, size.RowsPerChange, prod.keyList())
	producing := goBackground(ctx, prod.run)
	defer producing.stop()
	probe := newLagProbe(prod, env.conns)
	probing := goBackground(ctx, func(ctx context.Context) error { probe.run(ctx); return nil })
	defer probing.stop()
	prodFailed := func() error {
		if done, err := producing.done(); done {
			if err == nil {
				err = errors.New("the producer stopped early")
			}
			return err
		}
		return nil
	}

	// 1. SIGKILL use1_b's runner while a batch's transaction is open in its replica.
	say(out, "Chaos 1: SIGKILL the %s subscriber while a batch transaction is open in its replica, then start it again", killed)
	during, err := waitOpenTransaction(ctx, pg.URL(killed), 90*time.Second)
	if err != nil {
		return nil, err
	}
	serves[killed].kill()
	res.Kills++
	res.KilledDuring = during
	fmt.Fprintf(out, "killed pid %d during: %s\n", serves[killed].cmd.Process.Pid, during)
	if err := startServe(killed); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "restarted: serve --replicas %s pid %d (it takes the dead runner's shards over when their leases lapse)\n", killed, serves[killed].cmd.Process.Pid)
	if err := waitProgress(ctx, mon, killed, 60*time.Second); err != nil {
		return nil, err
	}
	if err := prodFailed(); err != nil {
		return nil, err
	}

	// 2. Reshard while the producer puts.
	say(out, "Chaos 2: reshard the stream 2 → 4 while data flows (and ALTER TABLE goes into every table meanwhile): terraform apply -var shard_count=4")
	prod.alterSoon()
	if err := tf.run(ctx, "apply", "-auto-approve", "-var", "shard_count=4"); err != nil {
		return nil, err
	}
	if err := prodFailed(); err != nil {
		return nil, err
	}

	// 3. A replica goes away and comes back.
	say(out, "Chaos 3: replica %s goes away for %s (ALTER DATABASE %s ALLOW_CONNECTIONS false, its sessions terminated)", paused, size.Outage, paused)
	if err := pg.Exec(ctx, "postgres", "ALTER DATABASE "+paused+" ALLOW_CONNECTIONS false"); err != nil {
		return nil, err
	}
	if err := pg.Exec(ctx, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", paused); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	case <-time.After(size.Outage):
	}
	if err := pg.Exec(ctx, "postgres", "ALTER DATABASE "+paused+" ALLOW_CONNECTIONS true"); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%s is back after %s\n", paused, size.Outage)
	if err := prodFailed(); err != nil {
		return nil, err
	}

	// The producer puts a few more rounds, then its final statements.
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	case <-time.After(3 * size.PutEvery):
	}
	producing.stop()
	if err := producing.err; err != nil {
		return nil, err
	}
	res.Records += prod.records()
	res.RowsProduced += prod.rows()
	fmt.Fprintf(out, "producer: %d records put (%d rows inserted, %d tables created and altered, then summarised by CREATE TABLE AS)\n", prod.records(), prod.rows(), prod.altered())

	say(out, "Waiting until every replica has applied all %d records (sluice-runner status --replicas --output json)", res.Records)
	if err := mon.waitApplied(ctx, res.Records, 5*time.Minute); err != nil {
		return nil, err
	}
	monitoring.stop()
	probing.stop()
	res.MaxLag, res.MaxBehindProducer = mon.maxLag(), probe.maxLag()
	if err := command(ctx, o.Options, o.Dir, env.base, o.Runner, "status", "--replicas"); err != nil {
		return nil, err
	}

	say(out, "sluice-runner replicas verify warehouse")
	vout, verr := runner(ctx, env.all(), "replicas", "verify", "warehouse")
	fmt.Fprint(out, string(vout))
	if verr != nil {
		return nil, verr
	}
	res.Verify = string(vout)

	if err := countReplicas(ctx, pg, prod, size, res); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(began)
	writeSummary(out, res)
	if problems := res.Problems(); len(problems) > 0 {
		return res, fmt.Errorf("the replicas do not hold what was produced:\n  %s", strings.Join(problems, "\n  "))
	}
	return res, nil
}

// Problems lists every way the replicas differ from what was produced: a record not applied,
// a dead letter, a table's rows or sum.
func (res *ReplicasResult) Problems() []string {
	var out []string
	for _, r := range Replicas {
		if res.Applied[r] != res.Records {
			out = append(out, fmt.Sprintf("replica %s checkpointed %d records, %d were put", r, res.Applied[r], res.Records))
		}
		if res.DeadLetters[r] != 0 {
			out = append(out, fmt.Sprintf("replica %s dead-lettered %d records", r, res.DeadLetters[r]))
		}
		for _, t := range res.Tables {
			if t.Replicas[r] != t.Expected {
				out = append(out, fmt.Sprintf("replica %s: %s has %d rows, %d were produced", r, t.Table, t.Replicas[r], t.Expected))
			}
			if t.ExpectedSum != 0 && t.Sums[r] != t.ExpectedSum {
				out = append(out, fmt.Sprintf("replica %s: %s sums to %d, %d expected", r, t.Table, t.Sums[r], t.ExpectedSum))
			}
		}
	}
	return out
}

func regionOf(replica string) string {
	if strings.HasPrefix(replica, "eu") {
		return "eu-west-1"
	}
	return "us-east-1"
}

// writeTFVars writes terraform.tfvars.json for a local run: nothing secret (the passwords go in
// TF_VAR_passwords).
func writeTFVars(dir string, pg *acctest.Postgres, kin *acctest.Kinesis, registry, demoDir string, start time.Time) error {
	replicas := map[string]any{}
	for _, r := range Replicas {
		replicas[r] = map[string]any{"host": pg.Host, "port": pg.Port, "database": r, "username": pg.User, "readers_group": "readers_" + r}
	}
	vars := map[string]any{
		"registry": registry, "local": true, "kinesis_endpoint": kin.Endpoint, "sslmode": "disable",
		"replicas":    replicas,
		"dead_letter": "file://" + filepath.Join(demoDir, "dead-letter") + "/",
		"events_root": "file://" + filepath.Join(demoDir, "events"),
		"start":       start.Format(time.RFC3339),
	}
	data, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding terraform.tfvars.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), data, 0o600); err != nil {
		return fmt.Errorf("writing terraform.tfvars.json: %w", err)
	}
	return nil
}

// writeEvents writes days of events: <dir>/<YYYY-MM-DD>/part-{0,1}.csv, rows "id,time,payload"
// with ids unique across days.
func writeEvents(dir string, start time.Time, days, perDay int) error {
	for d := range days {
		day := start.AddDate(0, 0, d)
		dayDir := filepath.Join(dir, day.Format("2006-01-02"))
		if err := os.MkdirAll(dayDir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dayDir, err)
		}
		var files [2]bytes.Buffer
		for i := range perDay {
			id := d*perDay + i + 1
			at := day.Add(time.Duration(i) * 24 * time.Hour / time.Duration(perDay))
			fmt.Fprintf(&files[i%2], "%d,%s,\"{\"\"user\"\": %d, \"\"page\"\": \"\"/p/%d\"\"}\"\n", id, at.Format("2006-01-02 15:04:05"), id%977, id%41)
		}
		for i, f := range files {
			if err := os.WriteFile(filepath.Join(dayDir, fmt.Sprintf("part-%d.csv", i)), f.Bytes(), 0o600); err != nil {
				return fmt.Errorf("writing events: %w", err)
			}
		}
	}
	return nil
}

// runnerEnv is the runners' environment: base for all, and one connection per replica.
type runnerEnv struct {
	base  []string
	conns map[string]string
}

func connEnv(replica, url string) string {
	return "SLUICE_CONN_" + strings.ToUpper(replica) + "=" + url
}

// forReplica is the environment of the runner serving replica, in the replica's region.
func (e runnerEnv) forReplica(replica string) []string {
	return append(append([]string{}, e.base...), connEnv(replica, e.conns[replica]), "AWS_REGION="+regionOf(replica))
}

// all is the environment with every replica's connection, for verify.
func (e runnerEnv) all() []string {
	env := append([]string{}, e.base...)
	for r, url := range e.conns {
		env = append(env, connEnv(r, url))
	}
	return env
}

// serveProc is one `sluice-runner serve --replicas NAME` process.
type serveProc struct {
	cmd  *exec.Cmd
	addr string // of /metrics, /healthz and the status page
	done chan struct{}
}

func startServe(bin string, env []string, replica, logPath string) (*serveProc, error) {
	port, err := acctest.FreePort()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve", "--replicas", replica, "--listen", addr, "--log-level", "info")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting sluice-runner serve --replicas %s: %w", replica, err)
	}
	s := &serveProc{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(s.done) }()
	return s, nil
}

// kill SIGKILLs the runner and waits for it to be gone.
func (s *serveProc) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop asks the runner to stop (SIGTERM: it gives its leases back) and kills it if it takes
// more than ten seconds.
func (s *serveProc) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
	}
}

// tails returns the last lines of every serve log, for an error.
func tails(dir string) string {
	var b strings.Builder
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", p, strings.Join(lines, "\n"))
	}
	return b.String()
}

// waitOpenTransaction waits until a session of the replica at url (its subscriber's) is in the
// middle of a batch: a transaction that has written to the replicated tables and not yet
// committed; and says what it runs.
func waitOpenTransaction(ctx context.Context, url string, limit time.Duration) (string, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connecting to the replica: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(limit)
	for {
		var age time.Duration
		var tables, query string
		err := c.QueryRow(ctx, `SELECT now() - a.xact_start, string_agg(DISTINCT n.nspname || '.' || c.relname, ', '),
				left(regexp_replace(a.query, '\s+', ' ', 'g'), 60)
			FROM pg_stat_activity a
			JOIN pg_locks l ON l.pid = a.pid AND l.mode = 'RowExclusiveLock'
			JOIN pg_class c ON c.oid = l.relation AND c.relkind = 'r'
			JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'analytics'
			WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
			GROUP BY a.pid, a.xact_start, a.query
			ORDER BY a.xact_start LIMIT 1`).Scan(&age, &tables, &query)
		switch {
		case err == nil:
			return fmt.Sprintf("its batch transaction open for %s, writing %s, at %q", age.Round(time.Millisecond), tables, query), nil
		case !errors.Is(err, pgx.ErrNoRows):
			return "", fmt.Errorf("reading pg_stat_activity: %w", err)
		case time.Now().After(deadline):
			return "", fmt.Errorf("no batch transaction seen in the replica within %s", limit)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("interrupted: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

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
func countReplicas(ctx context.Context, pg *acctest.Postgres, prod *producer, size ReplicasSize, res *ReplicasResult) error {
	tables := []TableCount{
		{Table: "analytics.events", Expected: int64(size.Days * size.EventsPerDay)},
		{Table: "analytics.daily_counts", Expected: int64(size.Days), ExpectedSum: int64(size.Days * size.EventsPerDay)},
	}
	sums := map[string]string{"analytics.daily_counts": "SELECT COALESCE(SUM(events), 0) FROM analytics.daily_counts"}
	for _, t := range prod.tables {
		tables = append(tables, TableCount{Table: "analytics." + t.name, Expected: int64(len(t.rows)), ExpectedSum: t.amounts()})
		sums["analytics."+t.name] = "SELECT COALESCE(SUM(amount), 0) FROM analytics." + t.name
	}
	for i := range tables {
		tables[i].Replicas, tables[i].Sums = map[string]int64{}, map[string]int64{}
	}
	for _, r := range Replicas {
		c, err := pgx.Connect(ctx, pg.URL(r))
		if err != nil {
			return fmt.Errorf("connecting to replica %s: %w", r, err)
		}
		var applied, dead int64
		err = c.QueryRow(ctx, `SELECT COALESCE(SUM(records), 0), COALESCE(SUM(dead_letters), 0) FROM sluice.replication_checkpoints WHERE replication = 'warehouse'`).Scan(&applied, &dead)
		if err == nil {
			res.Applied[r], res.DeadLetters[r] = applied, dead
			for i, t := range tables {
				var n int64
				if err = c.QueryRow(ctx, "SELECT COUNT(*) FROM "+t.Table).Scan(&n); err != nil {
					break
				}
				tables[i].Replicas[r] = n
				if q, ok := sums[t.Table]; ok {
					if err = c.QueryRow(ctx, q).Scan(&n); err != nil {
						break
					}
					tables[i].Sums[r] = n
				}
			}
		}
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("reading replica %s: %w", r, err)
		}
	}
	res.Tables = tables
	return nil
}

// writeSummary prints the demo's figures.
func writeSummary(w io.Writer, res *ReplicasResult) {
	say(w, "Summary")
	fmt.Fprintf(w, "rows produced     %d (%d records put into the stream)\n", res.RowsProduced, res.Records)
	fmt.Fprintf(w, "kills             %d (SIGKILL of the %s subscriber, %s)\n", res.Kills, killed, res.KilledDuring)
	fmt.Fprintf(w, "reshards          1 (%d → %d shards while data flowed)\n", res.ShardsBefore, res.ShardsAfter)
	fmt.Fprintf(w, "outage            %s of replica %s\n", res.Outage, paused)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nREPLICA\tREGION\tRECORDS APPLIED\tDEAD LETTERS\tMAX MillisBehindLatest\tMAX BEHIND THE PRODUCER\n")
	for _, r := range Replicas {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", r, regionOf(r), res.Applied[r], res.DeadLetters[r], res.MaxLag[r], res.MaxBehindProducer[r].Round(100*time.Millisecond))
	}
	fmt.Fprintf(tw, "\nTABLE\tPRODUCED\t%s\tCHECK\n", strings.ToUpper(strings.Join(Replicas, "\t")))
	for _, t := range res.Tables {
		line := t.Table + "\t" + strconv.FormatInt(t.Expected, 10)
		for _, r := range Replicas {
			line += "\t" + strconv.FormatInt(t.Replicas[r], 10)
		}
		check := "rows"
		if t.ExpectedSum != 0 {
			check = fmt.Sprintf("rows, sum %d", t.ExpectedSum)
		}
		fmt.Fprintln(tw, line+"\t"+check)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nreplicas verify:  %s", firstLine(res.Verify))
	fmt.Fprintf(w, "wall time:        %s\n", res.Elapsed.Round(time.Second))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i+1]
	}
	return s + "\n"
}

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
