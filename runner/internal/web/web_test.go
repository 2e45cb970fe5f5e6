package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/metrics"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/web"
)

var now = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

// fixedSource returns fixed values, standing in for the runner's database (wired elsewhere).
type fixedSource struct {
	pipelines []status.Pipeline
	err       error
	healthErr error
}

func (s *fixedSource) Pipelines(_ context.Context, offset, limit int) ([]status.Pipeline, int, error) {
	if s.err != nil {
		return nil, 0, s.err
	}
	ps := s.pipelines[min(offset, len(s.pipelines)):]
	return ps[:min(limit, len(ps))], len(s.pipelines), nil
}

func (s *fixedSource) Pipeline(_ context.Context, name string) (*status.Pipeline, error) {
	if s.err != nil {
		return nil, s.err
	}
	for i := range s.pipelines {
		if s.pipelines[i].Name == name {
			return &s.pipelines[i], nil
		}
	}
	return nil, nil
}

func (s *fixedSource) Healthy(context.Context) error { return s.healthErr }

const scriptError = `COPY failed: <script>alert("owned")</script> & more`

// fixture: "orders" is daily and fresh, "clicks" is hourly and stale with a failure whose error
// carries markup, "legacy" is disabled and never ran.
func fixture() []status.Pipeline {
	ordersRun := status.Run{
		ID: 41, Pipeline: "orders", IntervalStart: at("2026-11-17T00:00:00Z"), IntervalEnd: at("2026-11-18T00:00:00Z"),
		Version: "v-abc123", Trigger: "schedule", State: status.RunSuccess,
		CreatedAt: at("2026-11-18T00:00:05Z"), StartedAt: ptr(at("2026-11-18T08:00:00Z")), FinishedAt: ptr(at("2026-11-18T09:00:00Z")),
		Activities: []status.Activity{
			{ID: "extract", Kind: "shell", State: status.ActivitySuccess, Attempts: 1, Summary: "wrote 3 files"},
			{
				ID: "load", Kind: "redshift_copy", State: status.ActivitySuccess, Attempts: 2,
				Summary: "loaded 1,204 rows into web.orders", Warnings: []string{"row_count 1204 below 1500"},
				Details: map[string]any{"rows": float64(1204), "replicas": []any{"r1", "r2"}},
			},
		},
	}
	clicksRun := status.Run{
		ID: 77, Pipeline: "clicks", IntervalStart: at("2026-11-18T08:00:00Z"), IntervalEnd: at("2026-11-18T09:00:00Z"),
		Seq: 1, Version: "v-def456", Trigger: "backfill", State: status.RunFailed,
		CreatedAt: at("2026-11-18T09:00:01Z"), StartedAt: ptr(at("2026-11-18T09:00:02Z")), FinishedAt: ptr(at("2026-11-18T09:30:00Z")),
		Activities: []status.Activity{
			{ID: "copy", Kind: "s3_copy", State: status.ActivityFailed, Attempts: 3, Error: scriptError},
			{ID: "publish", Kind: "sql", State: status.ActivityUpstreamFailed},
		},
	}
	return []status.Pipeline{
		{
			Name: "orders", Owner: "data-eng@example.com", Description: "Daily orders into Redshift.",
			Enabled: true, Version: "v-abc123", Schedule: "every 1d from 2026-11-01T00:00:00Z",
			LastRun: &ordersRun, NextRun: ptr(at("2026-11-19T00:00:00Z")),
			Counts: map[string]int{status.RunSuccess: 17, status.RunFailed: 2},
			Freshness: []status.Freshness{
				{Subject: "pipeline", Value: at("2026-11-18T00:00:00Z"), ObservedAt: at("2026-11-18T09:00:00Z")},
			},
			Runs: []status.Run{ordersRun},
		},
		{
			Name: "clicks", Owner: `<b>growth</b> team`, Description: "Hourly clickstream.",
			Enabled: true, Version: "v-def456", Schedule: "cron 0 * * * *",
			LastRun: &clicksRun, NextRun: ptr(at("2026-11-18T13:00:00Z")),
			Counts: map[string]int{status.RunFailed: 4, status.RunRunning: 1, "mystery": 2},
			Freshness: []status.Freshness{
				{Subject: "pipeline", Value: at("2026-11-18T05:00:00Z"), ObservedAt: at("2026-11-18T06:00:00Z")},
			},
			Runs: []status.Run{clicksRun},
			RecentFailures: []status.Failure{
				{RunID: 77, IntervalStart: at("2026-11-18T08:00:00Z"), Activity: "copy", Attempt: 3, At: at("2026-11-18T09:30:00Z"), Error: scriptError},
			},
		},
		{
			Name: "legacy", Enabled: false, Schedule: "every 1h from 2025-01-01T00:00:00Z",
			Counts: map[string]int{},
		},
	}
}

func newServer(t *testing.T, src web.Source, metrics http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(web.Handler(web.Options{
		Source: src, Metrics: metrics, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler),
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	return do(t, http.MethodGet, u)
}

func wantContains(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("page lacks %q", p)
		}
	}
}

// section returns the part of the index page about one pipeline.
func section(t *testing.T, body, name string) string {
	t.Helper()
	start := strings.Index(body, `id="pipeline-`+name+`"`)
	if start < 0 {
		t.Fatalf("no section for pipeline %q in:\n%s", name, body)
	}
	rest := body[start:]
	end := strings.Index(rest, "</section>")
	if end < 0 {
		t.Fatalf("section of %q is not closed", name)
	}
	return rest[:end]
}

func TestIndex_ListsEveryPipelineWithItsValues(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	wantContains(t, body, "as of <time datetime=\"2026-11-18T12:00:00Z\">")

	orders := section(t, body, "orders")
	wantContains(t, orders,
		`<a href="/pipelines/orders">orders</a>`,
		`<span class="badge state-success">enabled</span>`,
		"<p>Daily orders into Redshift.</p>",
		"<dd>data-eng@example.com</dd>",
		"<dd>every 1d from 2026-11-01T00:00:00Z</dd>",
		"<code>v-abc123</code>",
		// last run: interval, state, finished (UTC RFC 3339 and relative)
		"2026-11-17T00:00:00Z – 2026-11-18T00:00:00Z",
		`<span class="badge state-success">success</span>`,
		`finished <time datetime="2026-11-18T09:00:00Z">2026-11-18T09:00:00Z</time> <span class="muted">(3h ago)</span>`,
		// next run
		`<time datetime="2026-11-19T00:00:00Z">2026-11-19T00:00:00Z</time> <span class="muted">(in 12h)</span>`,
		// freshness: value and age
		`pipeline: <time datetime="2026-11-18T00:00:00Z">2026-11-18T00:00:00Z</time> <span class="muted">(12h ago)</span>`,
		// counts by state, every state listed
		`scheduled 0</span>`, `running 0</span>`, `success 17</span>`, `failed 2</span>`,
	)
	if strings.Contains(orders, "stale") {
		t.Error("orders is 12h behind on a daily schedule and must not be marked stale")
	}
	if strings.Contains(orders, "Recent failures") {
		t.Error("orders has no failures but shows a failures table")
	}

	clicks := section(t, body, "clicks")
	wantContains(t, body, `<section class="pipeline stale" id="pipeline-clicks">`, `<section class="pipeline" id="pipeline-orders">`)
	wantContains(t, clicks,
		`<span class="badge stale-mark">stale</span>`,
		`<li class="stale-mark">pipeline: <time datetime="2026-11-18T05:00:00Z">2026-11-18T05:00:00Z</time> <span class="muted">(7h ago)</span>`,
		`<span class="badge state-failed">failed</span>`,
		`failed 4</span>`, `running 1</span>`, `<span class="badge state-other">mystery 2</span>`,
		`<time datetime="2026-11-18T13:00:00Z">2026-11-18T13:00:00Z</time> <span class="muted">(in 1h)</span>`,
		// recent failures: activity, attempt, interval, when, error
		"Recent failures",
		"<tr><td>copy</td><td>3</td><td>2026-11-18T08:00:00Z</td>",
		`<time datetime="2026-11-18T09:30:00Z">2026-11-18T09:30:00Z</time> <span class="muted">(2h ago)</span>`,
	)

	legacy := section(t, body, "legacy")
	wantContains(t, legacy,
		`<span class="badge disabled">disabled</span>`,
		`<span class="muted">none yet</span>`,
		"none: disabled",
		"no data yet",
	)
}

func TestIndex_EscapesUntrustedText(t *testing.T) {
	ps := fixture()
	ps[0].Name = `<script>alert("name")</script>`
	ps[0].Description = `<img src=x onerror=alert(1)>`
	srv := newServer(t, &fixedSource{pipelines: ps}, nil)
	for _, path := range []string{"/", "/pipelines/clicks", "/pipelines/" + url.PathEscape(ps[0].Name)} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status = %d, want 200", path, resp.StatusCode)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "<b>") || strings.Contains(body, "<img") {
			t.Errorf("%s: untrusted markup reached the page unescaped:\n%s", path, body)
		}
	}
	_, body := get(t, srv.URL+"/")
	wantContains(t, body,
		`COPY failed: &lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; more`,
		`&lt;b&gt;growth&lt;/b&gt; team`,
		`&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;</a>`,
		`&lt;img src=x onerror=alert(1)&gt;`,
	)
}

func TestPipelinePage_ShowsRunsAndActivities(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	resp, body := get(t, srv.URL+"/pipelines/orders")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	wantContains(t, body,
		"<title>orders — sluice-runner</title>",
		"<h2>Run 41</h2>",
		"<dd>schedule</dd>",
		`<time datetime="2026-11-18T08:00:00Z">2026-11-18T08:00:00Z</time> <span class="muted">(4h ago)</span>`,
		`<span class="muted">after 1h0m0s</span>`,
		`<tr><td>extract</td><td>shell</td><td><span class="badge state-success">success</span></td><td>1</td>`,
		"<div>wrote 3 files</div>",
		`<tr><td>load</td><td>redshift_copy</td><td><span class="badge state-success">success</span></td><td>2</td>`,
		"<div>loaded 1,204 rows into web.orders</div>",
		`<div class="warning">warning: row_count 1204 below 1500</div>`,
		"&#34;rows&#34;: 1204",
	)
	if strings.Contains(body, "clicks") {
		t.Error("the orders page shows another pipeline")
	}

	_, body = get(t, srv.URL+"/pipelines/clicks")
	wantContains(t, body,
		"<h2>Run 77</h2>",
		"<dd>backfill (reprocess 1)</dd>",
		`<tr><td>copy</td><td>s3_copy</td><td><span class="badge state-failed">failed</span></td><td>3</td>`,
		`<pre class="error">COPY failed: &lt;script&gt;`,
		`<tr><td>publish</td><td>sql</td><td><span class="badge state-upstream_failed">upstream_failed</span></td><td>0</td>`,
	)

	_, body = get(t, srv.URL+"/pipelines/legacy")
	wantContains(t, body, "No runs yet.")
}

func TestPipelinePage_NameWithSlashAndSpaceLinksToItself(t *testing.T) {
	ps := fixture()[:1]
	ps[0].Name = "team a/orders?x"
	srv := newServer(t, &fixedSource{pipelines: ps}, nil)
	_, body := get(t, srv.URL+"/")
	link := `href="/pipelines/team%20a%2Forders%3Fx"`
	wantContains(t, body, link)
	resp, body := get(t, srv.URL+"/pipelines/team%20a%2Forders%3Fx")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("following the link: status = %d, want 200", resp.StatusCode)
	}
	wantContains(t, body, "<h2>Run 41</h2>")
}

func TestUnknownPipeline_404Page(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	resp, body := get(t, srv.URL+"/pipelines/%3Cscript%3Enope")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want an HTML page", ct)
	}
	wantContains(t, body, "The runner knows no pipeline named &#34;&lt;script&gt;nope&#34;.", `<a href="/">All pipelines</a>`)
	if strings.Contains(body, "<script") {
		t.Error("the requested name reached the 404 page unescaped")
	}
}

func TestUnknownPath_404Page(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	for _, path := range []string{"/nope", "/pipelines/", "/pipelines/orders/runs", "/api/nope"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status = %d, want 404", path, resp.StatusCode)
		}
		if !strings.Contains(body, "There is no page at") {
			t.Errorf("%s: not the 404 page:\n%s", path, body)
		}
	}
}

func TestOnlyGetAndHead_OthersGet405(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, http.NotFoundHandler())
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/"},
		{http.MethodPost, "/healthz"},
		{http.MethodDelete, "/pipelines/orders"},
		{http.MethodPut, "/api/pipelines"},
		{http.MethodPatch, "/api/pipelines/orders"},
		{http.MethodPost, "/metrics"},
		{http.MethodPost, "/unknown"},
	} {
		resp, _ := do(t, tc.method, srv.URL+tc.path)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status = %d, want 405", tc.method, tc.path, resp.StatusCode)
		}
		if allow := resp.Header.Get("Allow"); allow != "GET, HEAD" {
			t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, allow, "GET, HEAD")
		}
	}
}

func TestHead_AnswersWithoutBody(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	for path, want := range map[string]int{"/": 200, "/pipelines/orders": 200, "/pipelines/none": 404, "/api/pipelines": 200, "/healthz": 200} {
		resp, body := do(t, http.MethodHead, srv.URL+path)
		if resp.StatusCode != want {
			t.Errorf("HEAD %s: status = %d, want %d", path, resp.StatusCode, want)
		}
		if body != "" {
			t.Errorf("HEAD %s: got a body of %d bytes", path, len(body))
		}
	}
}

func TestHealthz(t *testing.T) {
	src := &fixedSource{}
	srv := newServer(t, src, nil)
	resp, body := get(t, srv.URL+"/healthz")
	if resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthy: %d %q, want 200 %q", resp.StatusCode, body, "ok\n")
	}

	src.healthErr = errors.New("scheduler has not ticked for 5m0s")
	resp, body = get(t, srv.URL+"/healthz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("unhealthy: status = %d, want 503", resp.StatusCode)
	}
	if want := "unhealthy: scheduler has not ticked for 5m0s\n"; body != want {
		t.Errorf("unhealthy: body = %q, want %q", body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestAPI_DecodesBackIntoTheReadModel(t *testing.T) {
	want := fixture()
	srv := newServer(t, &fixedSource{pipelines: want}, nil)
	resp, body := get(t, srv.URL+"/api/pipelines")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got []status.Pipeline
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded pipelines differ from the source's:\n got: %+v\nwant: %+v", got, want)
	}

	resp, body = get(t, srv.URL+"/api/pipelines/clicks")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one pipeline: status = %d, want 200", resp.StatusCode)
	}
	var one status.Pipeline
	if err := json.Unmarshal([]byte(body), &one); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, want[1]) {
		t.Errorf("decoded pipeline differs:\n got: %+v\nwant: %+v", one, want[1])
	}
}

func TestAPI_UnknownPipelineIs404JSON(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	resp, body := get(t, srv.URL+"/api/pipelines/nope")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", resp.StatusCode)
	}
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Error != `no pipeline named "nope"` {
		t.Errorf("error = %q", e.Error)
	}
}

func TestAPI_NoPipelinesIsEmptyArray(t *testing.T) {
	srv := newServer(t, &fixedSource{}, nil)
	_, body := get(t, srv.URL+"/api/pipelines")
	if body != "[]\n" {
		t.Errorf("body = %q, want %q", body, "[]\n")
	}
	_, body = get(t, srv.URL+"/")
	wantContains(t, body, "No pipelines are published yet.")
}

func TestSourceError_500WithTheReason(t *testing.T) {
	src := &fixedSource{err: errors.New("reading runs: <conn> refused")}
	srv := newServer(t, src, nil)
	for _, path := range []string{"/", "/pipelines/orders"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: status = %d, want 500", path, resp.StatusCode)
		}
		wantContains(t, body, "Reading the pipelines failed: reading runs: &lt;conn&gt; refused")
	}
	resp, body := get(t, srv.URL+"/api/pipelines")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("api: status = %d, want 500", resp.StatusCode)
	}
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Error != "reading pipelines: reading runs: <conn> refused" {
		t.Errorf("api error = %q", e.Error)
	}
}

func TestMetricsRoute(t *testing.T) {
	m := metrics.New(nil, func() time.Time { return now })
	m.RunStarted("orders")
	srv := newServer(t, &fixedSource{}, m.Handler())
	resp, body := get(t, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with metrics: status = %d, want 200", resp.StatusCode)
	}
	wantContains(t, body, `sluice_runs_started_total{pipeline="orders"} 1`)

	srv = newServer(t, &fixedSource{}, nil)
	if resp, _ := get(t, srv.URL+"/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without metrics: status = %d, want 404", resp.StatusCode)
	}
}

func TestPages_ForbidScriptsAndExternalLoads(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	resp, body := get(t, srv.URL+"/")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("X-Content-Type-Options is not nosniff")
	}
	for _, s := range []string{"<script", "<link", "src=", "http://", "https://"} {
		if strings.Contains(body, s) {
			t.Errorf("page has %q: it must need nothing from elsewhere", s)
		}
	}
}

func TestHandler_NilSourcePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("Handler accepted a nil Source")
		}
	}()
	web.Handler(web.Options{})
}

func TestIndex_EndedScheduleIsNotStale(t *testing.T) {
	ps := fixture()[1:2] // clicks: 7h behind an hourly schedule
	ps[0].NextRun = nil
	srv := newServer(t, &fixedSource{pipelines: ps}, nil)
	_, body := get(t, srv.URL+"/")
	wantContains(t, body, "none: the schedule ended", `<section class="pipeline" id="pipeline-clicks">`)
	if strings.Contains(body, `class="badge stale-mark"`) || strings.Contains(body, `<li class="stale-mark">`) {
		t.Error("a pipeline whose schedule ended is marked stale")
	}
}

// TestPipelinePage_ShowsEMRCost: the pipeline shows the plan's estimate per run and the cost per
// day, each run its measured cost beside its estimate; an unknown cost reads "unknown", and a
// cost note with markup is escaped.
func TestPipelinePage_ShowsEMRCost(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	nih := int64(24)
	ps := fixture()
	ps[0].Cost = &status.PipelineCost{EstimatedPerRun: f(0.36), Days: []status.DayCost{
		{Day: "2026-11-18", Runs: 1, Clusters: 1, USD: f(0.54), NodeSeconds: 8100},
		{Day: "2026-11-17", Runs: 2, Clusters: 3, NodeSeconds: 900},
	}}
	ps[0].Runs[0].Cost = &status.RunCost{Clusters: 1, NodeSeconds: 8100, NormalizedInstanceHours: &nih, USD: f(0.54), EstimatedUSD: f(0.36)}
	ps[1].Runs[0].Cost = &status.RunCost{Clusters: 1, NodeSeconds: 60, Unestimated: `estimate: <script>x</script>`}
	srv := newServer(t, &fixedSource{pipelines: ps}, nil)
	_, body := get(t, srv.URL+"/pipelines/orders")
	wantContains(t, body,
		`estimate <span class="cost-estimate">$0.3600</span> per run`,
		`<tr><td>2026-11-18</td><td>$0.5400</td><td>1</td><td>1</td><td>2.25</td></tr>`,
		`<tr><td>2026-11-17</td><td>unknown</td><td>2</td><td>3</td><td>0.25</td></tr>`,
		`<dd class="run-cost">$0.5400 <span class="muted">(estimate $0.3600; 1 cluster(s), 2.25 node-hours, 24 normalized instance hours)</span>`,
	)
	_, body = get(t, srv.URL+"/pipelines/clicks")
	wantContains(t, body, `<dd class="run-cost">unknown <span class="muted">(estimate unknown; 1 cluster(s), 0.02 node-hours)</span><div class="muted">estimate: &lt;script&gt;x&lt;/script&gt;</div>`)
}
