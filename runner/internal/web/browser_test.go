package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/web"
)

// The web UI in a real browser: headless Chromium (Debian's package, installed by `make
// tools`) driven over the DevTools protocol against `sluice-runner serve` started by the test
// on a SQLite state database and a file registry, executing real shell activities. A person's
// checks: the grid's colours and order, the failed attempt's log one click away, every action
// done through the page. Screenshots of each view go to the test's artifact directory
// (go test -artifacts -outputdir DIR keeps them).

// chromiumPath finds Chromium: $SLUICE_CHROMIUM, else chromium or chromium-browser on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: run `make tools` (it installs Debian's chromium), or set SLUICE_CHROMIUM to a Chromium binary")
	return ""
}

// browser starts headless Chromium; a Chromium that cannot start fails the test with the reason.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests may run as root in a container, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; its context must not time out (that would stop the
	// browser), so the start is bounded by a watchdog instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("Chromium (%s) did not start: %v", chromiumPath(t), err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("Chromium (%s) did not start within a minute", chromiumPath(t))
	}
	return ctx
}

// addrWriter passes serve's stderr on and catches the address it prints.
type addrWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
	sent bool
}

var servingAt = regexp.MustCompile(`status page (http://[0-9.:]+)/`)

func (w *addrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := servingAt.FindSubmatch(w.buf.Bytes()); m != nil && !w.sent {
		w.sent = true
		w.addr <- string(m[1])
	}
	return len(p), nil
}

func (w *addrWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

type runnerUnderTest struct {
	url, token, flags string
	start             time.Time // the orders schedule's start
	release           string    // the file that lets the slow activity finish
}

func publishTo(t *testing.T, dir string, ps ...*definition.Pipeline) {
	t.Helper()
	for _, p := range ps {
		if probs := definition.ValidatePipeline(p); len(probs) > 0 {
			t.Fatalf("pipeline %s: %v", p.Name, definition.Problems(probs))
		}
		doc, err := definition.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "pipelines"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "pipelines", p.Name+".json"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sh(script string, env map[string]string) *definition.ShellActivity {
	return &definition.ShellActivity{Command: []string{"sh", "-c", script}, Env: env}
}

// startRunner publishes three pipelines and starts serve with actions on:
//   - orders: hourly from 8 hours ago without catchup (the scheduler runs the newest hour);
//     transform fails for the hours whose flag file exists, with a log;
//   - slow: its one activity runs until the release file exists (something to mark failed);
//   - legacy: disabled, with an owner full of markup.
func startRunner(t *testing.T) *runnerUnderTest {
	t.Helper()
	dir := t.TempDir()
	r := &runnerUnderTest{flags: filepath.Join(dir, "flags"), release: filepath.Join(dir, "release")}
	if err := os.MkdirAll(r.flags, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test counts runs: an hour that ends while it runs would add one. Near the end of an
	// hour, it waits for the next one (at most two minutes, one time in thirty).
	if left := time.Until(time.Now().Truncate(time.Hour).Add(time.Hour)); left < 2*time.Minute {
		t.Logf("waiting %s for the hour to turn", left.Round(time.Second))
		time.Sleep(left + time.Second)
	}
	r.start = time.Now().UTC().Truncate(time.Hour).Add(-8 * time.Hour)
	orders := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "orders", Owner: "data-eng@example.com", Enabled: true,
		Description: "Hourly orders: extract, transform, load, and a report beside.",
		Schedule:    definition.Schedule{Every: "1h", Start: r.start.Format(time.RFC3339), MaxActiveRuns: 8},
		Defaults:    definition.Defaults{Retries: 0, Timeout: "2m"},
		Activities: map[string]*definition.Activity{
			"extract": {Shell: sh(`echo "extracting $H"`, map[string]string{"H": `{{ date "2006-01-02T15" .Start }}`})},
			"transform": {DependsOn: []string{"extract"}, Shell: sh(
				`echo "transforming $H"; if [ -f "$FLAGS/fail-$H" ]; then echo "row 7: bad <b>value</b> in column amount" >&2; exit 3; fi; echo "transformed 120 rows"`,
				map[string]string{"H": `{{ date "2006-01-02T15" .Start }}`, "FLAGS": r.flags})},
			"load":   {DependsOn: []string{"transform"}, Shell: sh(`echo loaded`, nil)},
			"report": {DependsOn: []string{"extract"}, Shell: sh(`echo reported`, nil)},
		},
	}
	slow := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "slow", Owner: "ops@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: r.start.Format(time.RFC3339), MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{
			"wait": {Shell: sh(`echo $$ > "$PIDFILE"; while [ ! -f "$RELEASE" ]; do sleep 0.1; done; echo released`,
				map[string]string{"RELEASE": r.release, "PIDFILE": r.release + ".pid"})},
		},
	}
	legacy := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "legacy", Owner: `<script>window.owned=1</script>`, Enabled: false,
		Schedule:   definition.Schedule{Every: "1d", Start: r.start.Format(time.RFC3339), MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{"noop": {Shell: sh("true", nil)}},
	}
	publishTo(t, filepath.Join(dir, "registry"), orders, slow, legacy)

	secret, sum, err := web.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	r.token = secret
	cfg := filepath.Join(dir, "runner.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("web:\n  actions: true\n  tokens:\n    - name: alice\n      sha256: %s\n", sum)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SLUICE_REGISTRY": "file://" + filepath.Join(dir, "registry"),
		"SLUICE_DATABASE": "sqlite://" + filepath.Join(dir, "state.db"),
	}
	stderr := &addrWriter{addr: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Execute(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--tick", "100ms", "--work-dir", filepath.Join(dir, "work")}, cli.IO{
			Stdout: &bytes.Buffer{}, Stderr: stderr,
			Getenv: func(k string) string { return env[k] },
			Environ: func() []string {
				var kv []string
				for k, v := range env {
					kv = append(kv, k+"="+v)
				}
				return kv
			},
		})
	}()
	t.Cleanup(func() {
		_ = os.WriteFile(r.release, nil, 0o644)
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Errorf("serve did not stop within a minute")
		}
	})
	select {
	case r.url = <-stderr.addr:
	case code := <-done:
		t.Fatalf("serve exited %d before serving:\n%s", code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start serving within a minute:\n%s", stderr.String())
	}
	return r
}

// home reads the home page's JSON twin.
func (r *runnerUnderTest) home(t *testing.T) map[string]status.HomePipeline {
	t.Helper()
	resp, err := http.Get(r.url + "/api/home")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ps []status.HomePipeline
	if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil {
		t.Fatal(err)
	}
	out := map[string]status.HomePipeline{}
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

// waitFor polls the home JSON until ok says yes.
func (r *runnerUnderTest) waitFor(t *testing.T, what string, ok func(map[string]status.HomePipeline) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		h := r.home(t)
		if ok(h) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// slowAlive says whether the slow activity's shell still runs.
func (r *runnerUnderTest) slowAlive(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile(r.release + ".pid")
	if err != nil {
		return true // not started yet
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return syscall.Kill(pid, 0) == nil
}

func finished(cells []status.RunCell) bool {
	for _, c := range cells {
		if c.State != status.RunSuccess && c.State != status.RunFailed {
			return false
		}
	}
	return true
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG; lower is JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// step runs steps, each bounded so that a page that never shows what a step waits for fails
// the test instead of hanging it.
func step(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func TestBrowser_ViewsAndActionsThroughThePage(t *testing.T) {
	r := startRunner(t)
	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	hour := func(i int) string { return r.start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339) }
	failHour := r.start.Add(2 * time.Hour).Format("2006-01-02T15")
	if err := os.WriteFile(filepath.Join(r.flags, "fail-"+failHour), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The scheduler runs the newest hour of orders and starts slow's run.
	r.waitFor(t, "the scheduled runs", func(h map[string]status.HomePipeline) bool {
		return len(h["orders"].Cells) == 1 && finished(h["orders"].Cells) && len(h["slow"].Cells) == 1 && h["slow"].Cells[0].State == status.RunRunning
	})

	// Sign in with the token.
	step(t, ctx, "sign-in page", chromedp.Navigate(r.url+"/"), chromedp.Click(css("#signin")), chromedp.WaitVisible(css("#token")))
	screenshot(t, ctx, "login")
	step(t, ctx, "sign in", chromedp.SendKeys(css("#token"), r.token), chromedp.Click(css("#login-submit")), chromedp.WaitVisible(css("#user")))
	if user := value(t, ctx, "user", chromedp.Text(css("#user"))); user != "alice" {
		t.Fatalf("signed in as %q, want alice", user)
	}

	// Mark slow's running run failed from its run page.
	slowRun := r.home(t)["slow"].Cells[0].ID
	step(t, ctx, "mark failed",
		chromedp.Navigate(fmt.Sprintf("%s/runs/%d", r.url, slowRun)),
		chromedp.WaitVisible(css("#mark-failed")),
		chromedp.Click(css("#mark-failed")),
		chromedp.WaitVisible(css("#run-state.state-failed")),
	)
	// Its running attempt is cancelled (its process stopped), and the run stays failed.
	r.waitFor(t, "the slow attempt to stop", func(h map[string]status.HomePipeline) bool {
		return h["slow"].Cells[0].State == status.RunFailed && !r.slowAlive(t)
	})

	// Backfill the first five hours of orders: the count comes first, then the confirmation.
	step(t, ctx, "backfill",
		chromedp.Navigate(r.url+"/pipelines/orders"),
		chromedp.WaitVisible(css("#backfill-form")),
		chromedp.SetValue(css(`#backfill-form input[name="from"]`), hour(0)),
		chromedp.SetValue(css(`#backfill-form input[name="to"]`), hour(5)),
		chromedp.Click(css("#backfill")),
		chromedp.WaitVisible(css("#confirm-backfill")),
	)
	if count := value(t, ctx, "count", chromedp.Text(css("#runs"))); count != "5" {
		t.Fatalf("the backfill's count shows %q, want 5", count)
	}
	screenshot(t, ctx, "confirm-backfill")
	step(t, ctx, "confirm backfill", chromedp.Click(css("#confirm-backfill")), chromedp.WaitVisible(css("#grid")))
	r.waitFor(t, "the backfill's runs", func(h map[string]status.HomePipeline) bool {
		return len(h["orders"].Cells) == 6 && finished(h["orders"].Cells)
	})

	// Trigger hour 6 from the trigger form: the page goes to the new run.
	step(t, ctx, "trigger",
		chromedp.Navigate(r.url+"/pipelines/orders"),
		chromedp.WaitVisible(css("#trigger-form")),
		chromedp.SetValue(css(`#trigger-form input[name="interval_start"]`), hour(6)),
		chromedp.Click(css("#trigger")),
		chromedp.WaitVisible(css("#run")),
	)
	r.waitFor(t, "the triggered run", func(h map[string]status.HomePipeline) bool {
		return len(h["orders"].Cells) == 7 && finished(h["orders"].Cells)
	})

	// The grid: activities in topological order, runs oldest left, colours by state.
	step(t, ctx, "pipeline page", chromedp.Navigate(r.url+"/pipelines/orders"), chromedp.WaitVisible(css("#dag")))
	rows := value(t, ctx, "grid rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("tr.grid-row")).map(r => r.dataset.activity)`))
	if strings.Join(rows, " ") != "extract report transform load" {
		t.Errorf("grid rows %v, want extract report transform load (topological)", rows)
	}
	titles := value(t, ctx, "grid columns", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("a.run-cell")).map(a => a.title)`))
	if len(titles) != 7 {
		t.Fatalf("grid has %d runs, want 7: %v", len(titles), titles)
	}
	for i, want := range []int{0, 1, 2, 3, 4, 6, 7} {
		if !strings.Contains(titles[i], hour(want)+" – ") {
			t.Errorf("grid column %d is %q, want the run of %s (oldest left)", i, titles[i], hour(want))
		}
	}
	green, red, orange := "rgb(45, 164, 78)", "rgb(207, 34, 46)", "rgb(224, 130, 61)"
	wantColours := map[string][]string{
		"extract":   {green, green, green, green, green, green, green},
		"report":    {green, green, green, green, green, green, green},
		"transform": {green, green, red, green, green, green, green},
		"load":      {green, green, orange, green, green, green, green},
	}
	for act, want := range wantColours {
		got := value(t, ctx, "colours of "+act, chromedp.Evaluate[[]string](fmt.Sprintf(
			`Array.from(document.querySelectorAll('tr.grid-row[data-activity=%q] a.cell')).map(a => getComputedStyle(a).backgroundColor)`, act)))
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("grid colours of %s: %v, want %v", act, got, want)
		}
	}
	if nodes := value(t, ctx, "graph", chromedp.Evaluate[int](`document.querySelectorAll("#dag g.dag-node").length`)); nodes != 4 {
		t.Errorf("the graph has %d nodes, want 4", nodes)
	}
	screenshot(t, ctx, "pipeline")

	// One click from the grid's red cell to the failed attempt and its log.
	step(t, ctx, "failed cell", chromedp.Click(css(`tr.grid-row[data-activity="transform"] a.cell.state-failed`)), chromedp.WaitVisible(css("pre.log")))
	logText := value(t, ctx, "log", chromedp.Text(css("pre.log")))
	if !strings.Contains(logText, "transforming "+failHour) || !strings.Contains(logText, "row 7: bad <b>value</b> in column amount") {
		t.Errorf("the failed attempt's log reads %q", logText)
	}
	if errText := value(t, ctx, "error", chromedp.Text(css("pre.attempt-error"))); !strings.Contains(errText, "exited with code 3") {
		t.Errorf("the failed attempt's error reads %q", errText)
	}
	screenshot(t, ctx, "attempt")

	// Clear and rerun transform (and load) once the cause is gone.
	if err := os.Remove(filepath.Join(r.flags, "fail-"+failHour)); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "clear", chromedp.Click(css(`button.clear[data-activity="transform"]`)), chromedp.WaitVisible(css("#run")))
	r.waitFor(t, "the cleared run", func(h map[string]status.HomePipeline) bool {
		cells := h["orders"].Cells
		return len(cells) == 7 && finished(cells) && h["orders"].FailureStreak == 0 && cells[4].State == status.RunSuccess
	})
	step(t, ctx, "run page", chromedp.Reload(), chromedp.WaitVisible(css("#run")))
	if n := value(t, ctx, "attempts", chromedp.Evaluate[int](`document.querySelectorAll('#activity-transform div.attempt').length`)); n != 2 {
		t.Errorf("transform shows %d attempts after the clear, want 2 (the failed one kept)", n)
	}
	screenshot(t, ctx, "run")

	// Pause and unpause.
	step(t, ctx, "pause", chromedp.Navigate(r.url+"/pipelines/orders"), chromedp.Click(css("#pause")), chromedp.WaitVisible(css("#unpause")))
	if st := value(t, ctx, "state", chromedp.Text(css("#pipeline-state"))); st != "paused" {
		t.Errorf("state after pause: %q", st)
	}
	step(t, ctx, "unpause", chromedp.Click(css("#unpause")), chromedp.WaitVisible(css("#pause")))
	if st := value(t, ctx, "state", chromedp.Text(css("#pipeline-state"))); st != "enabled" {
		t.Errorf("state after unpause: %q", st)
	}

	// Home: every pipeline, the hostile owner shown as text and never run.
	step(t, ctx, "home", chromedp.Navigate(r.url+"/"), chromedp.WaitVisible(css("#pipelines")))
	owned := value(t, ctx, "owned", chromedp.Evaluate[bool](`window.owned === 1`))
	legacyOwner := value(t, ctx, "owner", chromedp.Text(css(`tr[data-name="legacy"] td:nth-child(2)`)))
	if owned || legacyOwner != "<script>window.owned=1</script>" {
		t.Errorf("hostile owner: ran %v, shown as %q", owned, legacyOwner)
	}
	if cells := value(t, ctx, "home cells", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('tr[data-name="orders"] a.cell')).map(a => a.dataset.state)`)); len(cells) != 7 {
		t.Errorf("orders shows %d run cells on the home page, want 7: %v", len(cells), cells)
	}
	screenshot(t, ctx, "home")

	// The runners page and the action log, which names every action and who did it.
	step(t, ctx, "runners", chromedp.Navigate(r.url+"/runners"), chromedp.WaitVisible(css("#runners")))
	screenshot(t, ctx, "runners")
	step(t, ctx, "actions", chromedp.Navigate(r.url+"/actions"), chromedp.WaitVisible(css("#action-log")))
	log := value(t, ctx, "action log", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("tr.action-row")).map(r => r.querySelector(".actor").textContent + " " + r.querySelector(".action").textContent)`))
	want := "web:alice unpause|web:alice pause|web:alice clear|web:alice trigger|web:alice backfill|web:alice mark_failed"
	if strings.Join(log, "|") != want {
		t.Errorf("action log %v, want %s", log, want)
	}
	screenshot(t, ctx, "actions")
}
