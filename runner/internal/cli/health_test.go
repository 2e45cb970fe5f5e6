package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The runner accepted "." and ".." as pipeline names (issue 11, item 7): `run ..` read the key
// pipelines/...json. Every command that takes a PIPELINE refuses them with the shared rule.
func TestCommandsRefuseUnsafePipelineNames(t *testing.T) {
	reg := publish(t, salesPipeline(t.TempDir(), 1))
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	sdb, err := state.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": db}
	for _, name := range []string{".", "..", "...", "../sales_daily", ".hidden", "a/b"} {
		for _, args := range [][]string{
			{"run", name, "--interval", "2026-11-01T00:00:00Z"},
			{"backfill", name, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z"},
			{"status", name},
			{"graph", name},
		} {
			code, _, errOut := run(t, env, args...)
			want := "sluice-runner: " + definition.ValidateName("pipeline", name).Error() + "\n"
			if code != 2 || errOut != want {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, errOut, want)
			}
		}
	}
}

// `validate` of a missing registry exited 0 with 0 documents (issue 11, item 5). It is now an
// I/O error naming the directory; unreadable entries are reported by name and the others
// still checked.
func TestValidate_MissingRegistryAndUnreadableEntries(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	code, out, errOut := run(t, nil, "validate", "--registry", "file://"+missing)
	wantErr := "sluice-runner: registry file://" + missing + ": directory " + missing + " does not exist (the registry is missing): was it moved or deleted? " +
		"The first terraform apply that publishes to it creates it; check the registry URL\n"
	if code != 2 || out != "" || errOut != wantErr {
		t.Errorf("validate of a missing registry: exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, wantErr)
	}

	dir, versions := validRegistry(t)
	if err := os.Mkdir(filepath.Join(dir, "pipelines", "dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipelines", "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gone.json", filepath.Join(dir, "pipelines", "dangling.json")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, nil, "validate", "--max-document-size", "2KiB", "file://"+dir)
	realDir, _ := filepath.EvalSymlinks(dir)
	want := "ok pipelines/clicks.json " + versions["pipelines/clicks.json"] + "\n" +
		"error pipelines/dangling.json:\n  cannot be read: is a symlink to gone.json, which cannot be resolved (dangling, or a loop): lstat " + filepath.Join(realDir, "pipelines", "gone.json") + ": no such file or directory\n" +
		"error pipelines/dir.json:\n  cannot be read: is a directory, where a document (a regular file) is expected\n" +
		"error pipelines/fifo.json:\n  cannot be read: is a named pipe (FIFO), not a regular file: documents are regular files\n" +
		"ok pipelines/views.json " + versions["pipelines/views.json"] + "\n" +
		"ok emr-templates/small.json " + versions["emr-templates/small.json"] + "\n"
	if code != 1 || out != want {
		t.Errorf("validate with unreadable entries: exit %d, stdout:\n%s\nwant exit 1 and:\n%s", code, out, want)
	}

	// A document over --max-document-size is that document's problem, naming the limit.
	code, out, _ = run(t, nil, "validate", "--max-document-size", "100B", "file://"+dir)
	if code != 1 || !strings.Contains(out, `error pipelines/clicks.json:
  cannot be read: registry file://`+dir+`: document "pipelines/clicks.json" is `) || !strings.Contains(out, "over the maximum document size of 100B (100 bytes)") {
		t.Errorf("validate over the size limit: exit %d, stdout:\n%s", code, out)
	}
	code, _, errOut = run(t, map[string]string{"SLUICE_MAX_DOCUMENT_SIZE": "lots"}, "validate", "file://"+dir)
	if code != 2 || errOut != "sluice-runner: $SLUICE_MAX_DOCUMENT_SIZE: size \"lots\" is not valid: use "+definition.SizeForms+"\n" {
		t.Errorf("bad SLUICE_MAX_DOCUMENT_SIZE: exit %d, stderr %q", code, errOut)
	}
}

// A registry moved away under a running serve turned every pipeline "disabled" while /healthz
// said ok (issue 11, items 3 and 5). serve refuses to start without its registry; once running,
// each failed tick is counted, /healthz fails after --unhealthy-after of them in a row and says
// why, the pipelines stay enabled, and it recovers when the registry is back.
func TestServe_RegistryMovedAwayMakesHealthzFailNotPipelinesDisabled(t *testing.T) {
	database := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	missing := filepath.Join(t.TempDir(), "gone")
	code, _, errOut := run(t, map[string]string{"SLUICE_DATABASE": database}, "serve", "--listen", "", "--registry", "file://"+missing)
	want := "sluice-runner: reading the registry at startup: registry file://" + missing + ": directory " + missing + " does not exist (the registry is missing)"
	if code != 2 || !strings.HasPrefix(errOut, want) {
		t.Errorf("serve without its registry: exit %d, stderr %q; want exit 2 and %q", code, errOut, want)
	}

	reg := publish(t, salesPipeline(t.TempDir(), 1))
	root := strings.TrimPrefix(reg, "file://")
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": database}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stderr := &syncBuffer{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = cli.Execute(ctx, []string{"serve", "--tick", "50ms", "--listen", "127.0.0.1:0", "--unhealthy-after", "4"}, cli.IO{
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
	waitFor(t, 20*time.Second, func() (bool, bool) { return true, strings.TrimSpace(get(t, "http://"+addr+"/healthz")) == "ok" })

	if err := os.Rename(root, root+".moved"); err != nil {
		t.Fatal(err)
	}
	body := waitFor(t, 20*time.Second, func() (string, bool) {
		b := get(t, "http://"+addr+"/healthz")
		return b, strings.HasPrefix(b, "unhealthy: ")
	})
	wantHealth := regexp.MustCompile(`^unhealthy: the last [0-9]+ ticks failed \(unhealthy after 4; no tick succeeded since \S+\); the last, at \S+: ` +
		regexp.QuoteMeta("listing pipelines in "+reg+": registry "+reg+": directory "+root+" does not exist (the registry is missing)"))
	if !wantHealth.MatchString(body) {
		t.Errorf("/healthz = %q, want it to match %s", body, wantHealth)
	}
	var ticks status.Ticks
	if err := json.Unmarshal([]byte(get(t, "http://"+addr+"/api/ticks")), &ticks); err != nil || ticks.Failures < 4 {
		t.Errorf("/api/ticks: %+v, %v; want at least 4 failures", ticks, err)
	}
	if m := get(t, "http://"+addr+"/metrics"); !regexp.MustCompile(`(?m)^sluice_tick_failures_total [1-9][0-9]*$`).MatchString(m) {
		t.Errorf("/metrics does not count the failed ticks")
	}
	var p status.Pipeline
	if err := json.Unmarshal([]byte(get(t, "http://"+addr+"/api/pipelines/sales_daily")), &p); err != nil || !p.Enabled {
		t.Errorf("with the registry moved away, sales_daily = %+v, %v; want it still enabled", p, err)
	}
	if page := get(t, "http://"+addr+"/"); !strings.Contains(page, `<span class="badge state-failed">unhealthy</span>`) || !strings.Contains(page, "does not exist (the registry is missing)") {
		t.Errorf("status page does not show the failing ticks")
	}

	if err := os.Rename(root+".moved", root); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, bool) { return true, strings.TrimSpace(get(t, "http://"+addr+"/healthz")) == "ok" })
}

// A 10-year backfill at 1-minute intervals planned 5,260,320 runs without a cap or a
// confirmation (issue 11, item 6). It is now refused before anything is planned, saying how
// many runs it would be; --max-runs that covers it (or --yes) lets it through.
func TestBackfill_OverTheRunLimitIsRefusedBeforePlanning(t *testing.T) {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "minutely", Enabled: true,
		Schedule:   definition.Schedule{Every: "1m", Start: "2016-01-01T00:00:00Z", MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{"noop": {Shell: &definition.ShellActivity{Command: []string{"true"}}}},
	}
	reg := publish(t, p)
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": db}
	backfill := func(args ...string) (int, string, string) {
		return run(t, env, append([]string{"backfill", "minutely", "--no-wait"}, args...)...)
	}
	code, _, errOut := backfill("--from", "2016-01-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z")
	want := "sluice-runner: backfill of minutely from 2016-01-01T00:00:00Z to 2026-01-01T00:00:00Z would plan 5260320 runs, over the limit of 10000 (--max-runs): " +
		"nothing was planned; pass --max-runs 5260320 or --yes to plan them, or narrow --from/--to\n"
	if code != 2 || errOut != want {
		t.Errorf("10-year minutely backfill: exit %d, stderr %q\nwant exit 2 and %q", code, errOut, want)
	}
	if ps := statusJSON(t, env); len(ps) != 0 {
		t.Errorf("a refused backfill registered %d pipelines", len(ps))
	}

	code, _, errOut = backfill("--from", "2016-01-01T00:00:00Z", "--to", "2016-01-02T00:00:00Z", "--max-runs", "1000", "--yes")
	want = "sluice-runner: backfill of minutely from 2016-01-01T00:00:00Z to 2016-01-02T00:00:00Z would plan 1440 runs, over the limit of 1000 (--max-runs): " +
		"nothing was planned; raise --max-runs to 1440, or narrow --from/--to\n"
	if code != 2 || errOut != want {
		t.Errorf("backfill over --max-runs: exit %d, stderr %q\nwant exit 2 and %q", code, errOut, want)
	}
	if code, _, errOut := backfill("--from", "2016-01-01T00:00:00Z", "--to", "2016-01-02T00:00:00Z", "--max-runs", "-1"); code != 2 || !strings.Contains(errOut, "--max-runs -1: use a positive number") {
		t.Errorf("negative --max-runs: exit %d, %q", code, errOut)
	}

	// Covered by --max-runs: planned (and left to a serving runner).
	code, _, errOut = backfill("--from", "2016-01-01T00:00:00Z", "--to", "2016-01-08T00:00:00Z", "--max-runs", "10080")
	if code != 0 || !strings.Contains(errOut, "backfill minutely: 10080 interval(s) in range, 10080 run(s) planned") {
		t.Errorf("backfill within --max-runs: exit %d, stderr %q", code, errOut)
	}
	// Over the default limit, confirmed with --yes.
	code, _, errOut = backfill("--from", "2016-01-08T00:00:00Z", "--to", "2016-01-15T00:00:01Z", "--yes")
	if code != 0 || !strings.Contains(errOut, "backfill minutely: 10081 interval(s) in range, 10081 run(s) planned") {
		t.Errorf("backfill with --yes: exit %d, stderr %q", code, errOut)
	}
}

// run, backfill and graph on a missing registry said "pipeline is not in registry": the
// registry itself is missing, and they say so (exit 2).
func TestRunBackfillGraph_MissingRegistryIsAnIOError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	env := map[string]string{"SLUICE_REGISTRY": "file://" + missing, "SLUICE_DATABASE": "sqlite://" + filepath.Join(t.TempDir(), "s.db")}
	want := "sluice-runner: registry file://" + missing + `: key "pipelines/sales_daily.json": not found (directory ` + missing + " does not exist: the registry is missing)\n"
	for _, args := range [][]string{
		{"run", "sales_daily", "--interval", "2026-11-01T00:00:00Z"},
		{"backfill", "sales_daily", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z"},
		{"graph", "sales_daily"},
	} {
		if code, _, errOut := run(t, env, args...); code != 2 || errOut != want {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", args[0], code, errOut, want)
		}
	}
}
