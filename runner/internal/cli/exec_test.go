package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// stateDrivers runs fn once with a SQLite state database and once with a PostgreSQL one: the
// same suite on both of River's drivers.
func stateDrivers(t *testing.T, fn func(t *testing.T, database string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, acctest.NewPostgresDatabase(t)) })
}

// salesPipeline extracts a CSV per day (shell), loads it (redshift_copy, OVERWRITE_EXISTING),
// checks it (check) and aggregates it (sql): every kind that needs no AWS.
func salesPipeline(dataDir string, minRows int64) *definition.Pipeline {
	return &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "sales_daily", Owner: "sales-data@example.com", Enabled: true,
		Description: "daily sales into the warehouse",
		Schedule:    definition.Schedule{Every: "1d", Start: "2026-11-01T00:00:00Z", MaxActiveRuns: 2},
		Parameters:  map[string]string{"data": dataDir},
		Defaults:    definition.Defaults{Retries: 1, RetryDelay: "10ms", Timeout: "1m"},
		Activities: map[string]*definition.Activity{
			"extract": {Shell: &definition.ShellActivity{Command: []string{"sh", "-c",
				`mkdir -p "$OUT" && printf 'id,day,amount\n{{ ds .Start }}-1,{{ ds .Start }},10\n{{ ds .Start }}-2,{{ ds .Start }},32\n{{ ds .Start }}-3,{{ ds .Start }},0\n' > "$OUT/part-0.csv"`},
				Env: map[string]string{"OUT": "{{ .Params.data }}/{{ ds .Start }}"}}},
			"load": {DependsOn: []string{"extract"}, RedshiftCopy: &definition.RedshiftCopyActivity{
				Connection: "warehouse", Table: "sales.orders", From: "file://{{ .Params.data }}/{{ ds .Start }}/",
				Format: definition.FormatCSV, InsertMode: definition.InsertOverwriteExisting, KeyColumns: []string{"id"},
				Options: []string{"IGNOREHEADER 1"},
			}},
			"qa": {DependsOn: []string{"load"}, Check: &definition.CheckActivity{
				Connection: "warehouse", Table: "sales.orders", Where: "day = '{{ ds .Start }}'",
				RowCount: &definition.RowCount{Min: &minRows}, Unique: []string{"id"}, NotNull: []string{"id", "day"},
				Severity: definition.SeverityFail,
			}},
			"fresh": {DependsOn: []string{"load"}, Check: &definition.CheckActivity{
				Connection: "warehouse", Table: "sales.orders",
				Freshness: &definition.Freshness{Column: "day", MaxAge: "3650d"}, Severity: definition.SeverityWarn,
			}},
			"aggregate": {DependsOn: []string{"qa"}, SQL: &definition.SQLActivity{Connection: "warehouse", Statements: []string{
				`DELETE FROM sales.daily WHERE day = '{{ ds .Start }}'`,
				`INSERT INTO sales.daily SELECT day, SUM(amount) FROM sales.orders WHERE day = '{{ ds .Start }}' GROUP BY day`,
			}}},
		},
	}
}

// warehouse creates a database with the sales tables and returns its URL.
func warehouse(t *testing.T) string {
	t.Helper()
	url := acctest.NewPostgresDatabase(t)
	execSQL(t, url, `CREATE SCHEMA sales;
		CREATE TABLE sales.orders (id text PRIMARY KEY, day date NOT NULL, amount integer NOT NULL);
		CREATE TABLE sales.daily (day date PRIMARY KEY, total integer NOT NULL)`)
	return url
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func queryInt(t *testing.T, url, sql string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// publish writes pipelines into a fresh file registry and returns its URL.
func publish(t *testing.T, ps ...*definition.Pipeline) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, p := range ps {
		data, _ := encode(t, p)
		files["pipelines/"+p.Name+".json"] = data
	}
	writeFiles(t, dir, files)
	return "file://" + dir
}

func statusJSON(t *testing.T, env map[string]string, args ...string) []status.Pipeline {
	t.Helper()
	code, out, errOut := run(t, env, append([]string{"status", "--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("status exited %d: %s", code, errOut)
	}
	var ps []status.Pipeline
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return ps
}

func TestBackfillRunsAWholePipelineThroughTheCLI(t *testing.T) {
	stateDrivers(t, func(t *testing.T, database string) {
		wh := warehouse(t)
		reg := publish(t, salesPipeline(t.TempDir(), 3))
		env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": database, "SLUICE_CONN_WAREHOUSE": wh}
		code, out, errOut := run(t, env, "backfill", "sales_daily", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-04T00:00:00Z", "--tick", "20ms", "--fetch-cooldown", "5ms")
		if code != 0 {
			t.Fatalf("backfill exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		if n := strings.Count(out, ": success"); n != 3 {
			t.Fatalf("want 3 successful runs, got:\n%s", out)
		}
		if got := queryInt(t, wh, `SELECT COUNT(*) FROM sales.orders`); got != 9 {
			t.Errorf("orders: %d rows, want 9", got)
		}
		if got := queryInt(t, wh, `SELECT SUM(total) FROM sales.daily`); got != 126 {
			t.Errorf("daily totals: %d, want 126", got)
		}
		// The secret of the connection never reaches the logs.
		if strings.Contains(errOut, "password=") || strings.Contains(errOut, acctestPassword(wh)) {
			t.Errorf("stderr shows the warehouse password:\n%s", errOut)
		}

		ps := statusJSON(t, env)
		if len(ps) != 1 || ps[0].Name != "sales_daily" || ps[0].Owner != "sales-data@example.com" {
			t.Fatalf("status: %+v", ps)
		}
		p := ps[0]
		if p.Counts[status.RunSuccess] != 3 || len(p.Runs) != 3 {
			t.Errorf("counts %v, runs %d", p.Counts, len(p.Runs))
		}
		fresh := map[string]time.Time{}
		for _, f := range p.Freshness {
			fresh[f.Subject] = f.Value
		}
		if want := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC); !fresh["pipeline"].Equal(want) {
			t.Errorf("pipeline freshness %v, want %v", fresh["pipeline"], want)
		}
		if want := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC); !fresh["sales.orders"].Equal(want) {
			t.Errorf("table freshness %v, want %v (newest day)", fresh["sales.orders"], want)
		}
		for _, a := range p.Runs[0].Activities {
			if a.State != status.ActivitySuccess || a.Attempts != 1 {
				t.Errorf("activity %s: %s after %d attempts", a.ID, a.State, a.Attempts)
			}
		}

		// Again: nothing to do. A run of one interval is refused, unless reprocessed, and the
		// reprocessed run leaves the same rows (OVERWRITE_EXISTING).
		code, _, errOut = run(t, env, "backfill", "sales_daily", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-04T00:00:00Z")
		if code != 0 || !strings.Contains(errOut, "0 run(s) planned, 3 already had a run") {
			t.Errorf("second backfill: exit %d\n%s", code, errOut)
		}
		code, _, errOut = run(t, env, "run", "sales_daily", "--interval", "2026-11-02T00:00:00Z")
		if code != 2 || !strings.Contains(errOut, "already has a run") {
			t.Errorf("run of a done interval: exit %d\n%s", code, errOut)
		}
		code, out, errOut = run(t, env, "run", "sales_daily", "--interval", "2026-11-02T00:00:00Z", "--reprocess", "--tick", "20ms", "--output", "json")
		if code != 0 {
			t.Fatalf("reprocess: exit %d\n%s\n%s", code, out, errOut)
		}
		if got := queryInt(t, wh, `SELECT COUNT(*) FROM sales.orders`); got != 9 {
			t.Errorf("after reprocessing: %d rows, want 9", got)
		}
		code, out, _ = run(t, env, "status", "sales_daily")
		if code != 0 || !strings.Contains(out, "owner:     sales-data@example.com") || !strings.Contains(out, "4 success") || !strings.Contains(out, "(reprocess 1)") {
			t.Errorf("status text: exit %d\n%s", code, out)
		}
	})
}

var pgPassword = regexp.MustCompile(`://[^:]+:([^@]+)@`)

func acctestPassword(url string) string {
	m := pgPassword.FindStringSubmatch(url)
	if m == nil {
		return "\x00never"
	}
	return m[1]
}

func TestFailedCheckFailsTheRunAndItsDependents(t *testing.T) {
	stateDrivers(t, func(t *testing.T, database string) {
		wh := warehouse(t)
		reg := publish(t, salesPipeline(t.TempDir(), 1000))
		env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": database, "SLUICE_CONN_WAREHOUSE": wh}
		code, out, errOut := run(t, env, "run", "sales_daily", "--interval", "2026-11-01T00:00:00Z", "--tick", "20ms")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(out, "failed qa: ") || !strings.Contains(out, "row_count 3 < min 1000") {
			t.Errorf("output does not name the failed check:\n%s", out)
		}
		ps := statusJSON(t, env, "sales_daily")
		states := map[string]string{}
		for _, a := range ps[0].Runs[0].Activities {
			states[a.ID] = a.State
		}
		want := map[string]string{"extract": "success", "load": "success", "qa": "failed", "fresh": "success", "aggregate": "upstream_failed"}
		for k, v := range want {
			if states[k] != v {
				t.Errorf("%s: %s, want %s", k, states[k], v)
			}
		}
		if len(ps[0].RecentFailures) == 0 || ps[0].RecentFailures[0].Activity != "qa" {
			t.Errorf("recent failures: %+v", ps[0].RecentFailures)
		}
	})
}

func TestServeSchedulesCatchupAndServesStatus(t *testing.T) {
	stateDrivers(t, func(t *testing.T, database string) {
		dir := t.TempDir()
		start := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
		p := &definition.Pipeline{
			Format: definition.FormatPipeline, Name: "touch_hourly", Owner: "ops@example.com", Enabled: true,
			Schedule: definition.Schedule{Every: "1h", Start: start.Format(time.RFC3339), Catchup: true, MaxActiveRuns: 1},
			Activities: map[string]*definition.Activity{
				"touch": {Shell: &definition.ShellActivity{Command: []string{"sh", "-c", `echo run >> "$F"`},
					Env: map[string]string{"F": filepath.Join(dir, "{{ ds_nodash .Start }}{{ date \"15\" .Start }}")}}},
			},
		}
		reg := publish(t, p)
		env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": database}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		stderr := &syncBuffer{}
		wg.Add(1)
		var code int
		go func() {
			defer wg.Done()
			code = cli.Execute(ctx, []string{"serve", "--tick", "50ms", "--listen", "127.0.0.1:0", "--fetch-cooldown", "5ms"}, cli.IO{
				Stdout: io.Discard, Stderr: stderr, Getenv: func(k string) string { return env[k] },
				Environ: func() []string { return []string{"SLUICE_DATABASE=" + database} },
			})
		}()
		defer func() {
			cancel()
			wg.Wait()
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, stderr.String())
			}
		}()
		addr := waitFor(t, 20*time.Second, func() (string, bool) {
			m := regexp.MustCompile(`status page http://([0-9.:]+)/`).FindStringSubmatch(stderr.String())
			if m == nil {
				return "", false
			}
			return m[1], true
		})
		waitFor(t, 30*time.Second, func() (bool, bool) {
			body := get(t, "http://"+addr+"/api/pipelines/touch_hourly")
			var ps status.Pipeline
			_ = json.Unmarshal([]byte(body), &ps)
			return true, ps.Counts[status.RunSuccess] == 3
		})
		for i := range 3 {
			iv := start.Add(time.Duration(i) * time.Hour)
			data, err := os.ReadFile(filepath.Join(dir, iv.Format("2006010215")))
			if err != nil || string(data) != "run\n" {
				t.Errorf("interval %s: %q, %v (want exactly one run)", iv, data, err)
			}
		}
		if body := get(t, "http://"+addr+"/healthz"); strings.TrimSpace(body) != "ok" {
			t.Errorf("/healthz: %q", body)
		}
		metrics := get(t, "http://"+addr+"/metrics")
		for _, want := range []string{`sluice_runs_total{pipeline="touch_hourly",state="success"} 3`, `sluice_freshness_age_seconds{pipeline="touch_hourly"}`, `sluice_queue_depth{state="queued"}`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if page := get(t, "http://"+addr+"/"); !strings.Contains(page, "touch_hourly") || !strings.Contains(page, "ops@example.com") {
			t.Errorf("status page lacks the pipeline or its owner")
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test against a local server
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitFor[T any](t *testing.T, limit time.Duration, fn func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v, ok := fn()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestExecutingCommandsRefuseBadInput(t *testing.T) {
	reg := publish(t, salesPipeline(t.TempDir(), 1))
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": db}
	sdb, err := state.Open(context.Background(), db) // so that status finds a database
	if err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"interval not RFC 3339": {[]string{"run", "sales_daily", "--interval", "yesterday"}, 2, `--interval "yesterday" is not an RFC 3339 time`},
		"interval off schedule": {[]string{"run", "sales_daily", "--interval", "2026-11-01T05:00:00Z"}, 1, "no interval starting at 2026-11-01T05:00:00Z (the next interval starts at 2026-11-02T00:00:00Z)"},
		"unknown pipeline":      {[]string{"run", "nope", "--interval", "2026-11-01T00:00:00Z"}, 1, `pipeline "nope" is not in registry`},
		"from after to":         {[]string{"backfill", "sales_daily", "--from", "2026-11-05T00:00:00Z", "--to", "2026-11-01T00:00:00Z"}, 2, "must be before --to"},
		"bad reprocess":         {[]string{"backfill", "sales_daily", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--reprocess", "some"}, 2, `--reprocess "some": use none, failed, all`},
		"bad database scheme":   {[]string{"backfill", "sales_daily", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--database", "mysql://x"}, 2, `database URL scheme "mysql" is not supported`},
		"bad emr mode":          {[]string{"serve", "--emr-mode", "cloud"}, 2, `emr mode "cloud": use aws or local`},
		"bad connection uri":    {[]string{"serve", "--config", writeConfig(t, "connections:\n  warehouse: oracle://u:topsecret@h/db\n")}, 2, "warehouse"},
		"missing interval flag": {[]string{"run", "sales_daily"}, 2, `"interval" not set`},
		"status unknown":        {[]string{"status", "nope"}, 1, `pipeline "nope" has never been seen`},
		"work dir is a file":    {[]string{"run", "sales_daily", "--interval", "2026-11-01T00:00:00Z", "--work-dir", reg[len("file://"):] + "/pipelines/sales_daily.json/x"}, 2, "work directory (--work-dir / $SLUICE_WORK_DIR)"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := run(t, env, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tc.code, errOut, tc.want)
			}
			if strings.Contains(errOut, "topsecret") {
				t.Errorf("stderr shows a password:\n%s", errOut)
			}
		})
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunCreatesTheWorkDir: a --work-dir that does not exist yet is created, and shell
// activities run in it.
func TestRunCreatesTheWorkDir(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pwd.txt")
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "where", Owner: "o@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1d", Start: "2026-11-01T00:00:00Z", MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{"pwd": {Shell: &definition.ShellActivity{Command: []string{"sh", "-c", `pwd > "$OUT"`}, Env: map[string]string{"OUT": out}}}},
	}
	work := filepath.Join(t.TempDir(), "not", "yet")
	env := map[string]string{"SLUICE_REGISTRY": publish(t, p), "SLUICE_DATABASE": "sqlite://" + filepath.Join(t.TempDir(), "s.db"), "SLUICE_WORK_DIR": work}
	if code, _, errOut := run(t, env, "run", "where", "--interval", "2026-11-01T00:00:00Z"); code != 0 {
		t.Fatalf("run exited %d: %s", code, errOut)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if dir := strings.TrimSpace(string(got)); dir != work {
		t.Errorf("the shell activity ran in %q, want %q", dir, work)
	}
}

// TestEveryCommandReadsTheConfigFile: validate, graph and status find the registry and the
// state database in --config / $SLUICE_CONFIG as serve does, and a flag still wins.
func TestEveryCommandReadsTheConfigFile(t *testing.T) {
	dir, _ := validRegistry(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	sdb, err := state.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	cfg := writeConfig(t, "registry: file://"+dir+"\ndatabase: "+db+"\n")
	if code, out, errOut := run(t, nil, "validate", "--config", cfg); code != 0 || !strings.Contains(out, "ok pipelines/clicks.json") {
		t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, map[string]string{"SLUICE_CONFIG": cfg}, "graph", "clicks"); code != 0 || !strings.HasPrefix(out, `digraph "clicks"`) {
		t.Errorf("graph: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, nil, "status", "--config", cfg); code != 0 || !strings.Contains(out, "no pipelines yet") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, nil, "graph", "clicks", "--config", cfg, "--registry", "file://"+t.TempDir()); code != 1 || !strings.Contains(errOut, `pipeline "clicks" is not in registry`) {
		t.Errorf("graph with --registry over the file: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, nil, "status", "--config", writeConfig(t, "registry: file:///x\ndatabse: sqlite://y\n")); code != 2 || !strings.Contains(errOut, "databse") {
		t.Errorf("status with a misspelt key: exit %d\n%s", code, errOut)
	}
}
