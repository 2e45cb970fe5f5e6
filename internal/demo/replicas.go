package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

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
