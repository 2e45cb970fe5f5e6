package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/actions"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/board"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/web"
)

// Hostile values: every place the UI shows text a user or a program wrote gets one.
const (
	hostileOwner = `<script>alert("owner")</script>`
	hostileDesc  = `"><img src=x onerror=alert("desc")>`
	hostileError = `COPY failed: </pre><script>alert("error")</script>`
	hostileLog   = "line 1\n<script>alert(\"log\")</script>\n</pre><iframe src=//evil>"
	hostileArg   = `<svg onload=alert("arg")>`
	secretValue  = "s3cr3t-Passw0rd-value"
)

var uiT0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func uiPipeline() *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "orders", Owner: hostileOwner, Description: hostileDesc, Enabled: true,
		Schedule:   definition.Schedule{Every: "1h", Start: uiT0.Format(time.RFC3339), MaxActiveRuns: 4},
		Parameters: map[string]string{"password": secretValue},
		Activities: map[string]*definition.Activity{
			"extract":   {Shell: &definition.ShellActivity{Command: []string{"echo", hostileArg}, Env: map[string]string{"PW": "{{ .Params.password }}"}}},
			"transform": {DependsOn: []string{"extract"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
			"load":      {DependsOn: []string{"transform"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
			"audit":     {DependsOn: []string{"extract"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
		},
	}
	if _, err := definition.Encode(p); err != nil {
		panic(err)
	}
	return p
}

type ui struct {
	url   string
	db    *state.DB
	svc   *actions.Service
	token string
	runs  []int64 // oldest first
	srv   *httptest.Server
}

// newUI serves the UI over a real SQLite state database holding one pipeline with six hourly
// runs: the first four succeeded, the fifth failed in transform (hostile error and log), the
// sixth is scheduled. withActions turns actions on with one token (for "alice").
func newUI(t *testing.T, withActions bool) *ui {
	t.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	now := uiT0.Add(8 * time.Hour)
	clock := func() time.Time { return now }
	eng, err := engine.New(engine.Options{DB: db, Now: clock, Executors: map[string]activity.Executor{definition.KindShell: activity.Noop}})
	if err != nil {
		t.Fatal(err)
	}
	svc := &actions.Service{DB: db, Engine: eng, Now: clock}
	p := uiPipeline()
	res, err := svc.Backfill(ctx, p, actions.BackfillRequest{Actor: "cli:setup", From: uiT0, To: uiT0.Add(6 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	u := &ui{db: db, svc: svc, runs: res.Created}
	for i, id := range res.Created[:5] {
		failed := i == 4
		finishRun(t, db, id, failed, now)
	}
	secrets := redact.New()
	secrets.Add(secretValue)
	opts := web.Options{
		Source: &fixedSource{}, Now: clock, Logger: slog.New(slog.DiscardHandler),
		Board: board.New(db, secrets, clock),
	}
	if withActions {
		secret, sum, err := web.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := web.ParseToken("alice", sum)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := web.NewAuth([]web.Token{tok})
		if err != nil {
			t.Fatal(err)
		}
		opts.Auth, opts.Actions, u.token = auth, svc, secret
	}
	u.srv = httptest.NewServer(web.Handler(opts))
	t.Cleanup(u.srv.Close)
	u.url = u.srv.URL
	return u
}

// finishRun records a run as the engine would: every activity succeeded, or (failed) extract
// and audit succeeded, transform failed after two attempts with a hostile error and log, and
// load is upstream_failed.
func finishRun(t *testing.T, db *state.DB, id int64, failed bool, now time.Time) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(q state.Q) error {
		if _, err := state.StartRuns(ctx, q, db.Dialect, []int64{id}, now); err != nil {
			return err
		}
		ok := func(act string) error {
			n, err := state.StartAttempt(ctx, q, id, act, "runner-1", now)
			if err != nil {
				return err
			}
			if err := state.FinishAttempt(ctx, q, id, act, n, status.ActivitySuccess, "", "ok "+act+"\n", now.Add(time.Second)); err != nil {
				return err
			}
			return state.SetActivityState(ctx, q, id, act, status.ActivitySuccess, `{"summary":"did `+act+`"}`, "", now)
		}
		for _, a := range []string{"extract", "audit"} {
			if err := ok(a); err != nil {
				return err
			}
		}
		final := status.RunSuccess
		if failed {
			final = status.RunFailed
			for i := 0; i < 2; i++ {
				n, err := state.StartAttempt(ctx, q, id, "transform", "runner-1", now)
				if err != nil {
					return err
				}
				log := strings.Repeat("filler line to push the start of the log past the tail\n", 400) + hostileLog + "\npassword " + secretValue
				if err := state.FinishAttempt(ctx, q, id, "transform", n, status.ActivityFailed, hostileError, log, now); err != nil {
					return err
				}
			}
			if err := state.SetActivityState(ctx, q, id, "transform", status.ActivityFailed, "", hostileError, now); err != nil {
				return err
			}
			if err := state.SetActivityState(ctx, q, id, "load", status.ActivityUpstreamFailed, "", "upstream activity transform failed", now); err != nil {
				return err
			}
		} else {
			for _, a := range []string{"transform", "load"} {
				if err := ok(a); err != nil {
					return err
				}
			}
			if err := state.PutFreshness(ctx, q, "orders", state.FreshnessPipeline, now.Add(-3*time.Hour), now); err != nil {
				return err
			}
		}
		return state.FinishRun(ctx, q, id, final, now)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// client is a browser stand-in: a cookie jar, no redirects followed.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, method, u string, body io.Reader, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf loads a page with the client and returns its forms' CSRF token.
func csrfOf(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	_, body := fetch(t, c, http.MethodGet, u, nil, nil)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s has no form with a CSRF token", u)
	}
	return m[1]
}

func form(t *testing.T, c *http.Client, u string, values url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	return fetch(t, c, http.MethodPost, u, strings.NewReader(values.Encode()), h)
}

// Every page that shows the hostile values shows them escaped: no markup from the data gets
// into the document, in HTML text, attributes or the SVG graph.
func TestUI_EscapesHostileValuesOnEveryView(t *testing.T) {
	u := newUI(t, true)
	failed := u.runs[4]
	pages := []string{
		"/", "/?q=" + url.QueryEscape("<script>"), "/pipelines/orders", fmt.Sprintf("/runs/%d", failed),
		fmt.Sprintf("/runs/%d/activities/transform", failed), "/runners", "/actions", "/login?next=" + url.QueryEscape(`"><script>alert(1)</script>`),
	}
	for _, path := range pages {
		resp, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
			continue
		}
		for _, raw := range []string{"<script", "<img", "<iframe", "<svg onload"} {
			if strings.Contains(body, raw) {
				t.Errorf("GET %s: the page holds %q unescaped", path, raw)
			}
		}
		if strings.Contains(body, secretValue) {
			t.Errorf("GET %s shows the secret", path)
		}
	}
	_, home := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/", nil, nil)
	if !strings.Contains(home, "&lt;script&gt;alert(&#34;owner&#34;)&lt;/script&gt;") {
		t.Errorf("home: the owner is not shown escaped")
	}
	_, run := fetch(t, http.DefaultClient, http.MethodGet, u.url+fmt.Sprintf("/runs/%d/activities/transform", failed), nil, nil)
	for _, want := range []string{
		"COPY failed: &lt;/pre&gt;&lt;script&gt;alert(&#34;error&#34;)&lt;/script&gt;",
		"&lt;iframe src=//evil&gt;",
		"password xxxxx",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("attempt page: missing %q", want)
		}
	}
	_, extract := fetch(t, http.DefaultClient, http.MethodGet, u.url+fmt.Sprintf("/runs/%d/activities/extract", failed), nil, nil)
	if !strings.Contains(extract, `&lt;svg onload=alert(\&#34;arg\&#34;)&gt;`) || !strings.Contains(extract, `&#34;PW&#34;: &#34;xxxxx&#34;`) {
		t.Errorf("rendered activity: the argument is not escaped or the secret parameter not scrubbed:\n%s", between(extract, "rendered activity", "</details>"))
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

// The whole log downloads as text, never as a page: a log full of markup cannot run.
func TestUI_LogDownloadIsPlainTextAttachment(t *testing.T) {
	u := newUI(t, false)
	failed := u.runs[4]
	resp, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+fmt.Sprintf("/runs/%d/activities/transform/attempts/2/log", failed), nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="run-%d-transform-attempt-2.log"`, failed) {
		t.Fatalf("log download: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.HasPrefix(body, "filler line") || !strings.Contains(body, hostileLog) || !strings.HasSuffix(body, "password xxxxx") {
		t.Errorf("the download is not the whole, scrubbed log (%d bytes)", len(body))
	}
	// The page shows a bounded tail of it, and says so.
	_, page := fetch(t, http.DefaultClient, http.MethodGet, u.url+fmt.Sprintf("/runs/%d/activities/transform", failed), nil, nil)
	if !strings.Contains(page, fmt.Sprintf("of %d bytes of the log", len(body))) {
		t.Errorf("the attempt page does not say the log is cut")
	}
	if resp, _ := fetch(t, http.DefaultClient, http.MethodGet, u.url+fmt.Sprintf("/runs/%d/activities/transform/attempts/9/log", failed), nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing attempt's log: %d, want 404", resp.StatusCode)
	}
}

// Without web.actions, no route acts and the pages offer no forms.
func TestUI_ActionsOffByDefault(t *testing.T) {
	u := newUI(t, false)
	for _, path := range []string{"/pipelines/orders/pause", "/pipelines/orders/trigger", fmt.Sprintf("/runs/%d/fail", u.runs[5])} {
		resp, body := form(t, client(), u.url+path, url.Values{}, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "actions are off on this runner") {
			t.Errorf("POST %s: %d, want 403 saying actions are off", path, resp.StatusCode)
		}
	}
	resp, body := fetch(t, http.DefaultClient, http.MethodPost, u.url+"/api/pipelines/orders/pause", nil, map[string]string{"Authorization": "Bearer anything"})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "web.actions: true") {
		t.Errorf("API pause with actions off: %d %s", resp.StatusCode, body)
	}
	_, page := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/pipelines/orders", nil, nil)
	if strings.Contains(page, "<form method=\"post\"") || !strings.Contains(page, "read-only") {
		t.Errorf("a read-only pipeline page offers forms")
	}
	paused, err := state.PausedPipelines(context.Background(), u.db.Reader())
	if err != nil || len(paused) != 0 {
		t.Errorf("paused: %v %v", paused, err)
	}
}

// The API takes a bearer token and nothing else: no token, a wrong one, a session cookie or
// basic credentials are all 401, and nothing happens.
func TestUI_APINeedsABearerToken(t *testing.T) {
	u := newUI(t, true)
	c := client()
	// A signed-in browser's cookie must not work on the API (cross-site requests carry it).
	csrf := csrfOf(t, c, u.url+"/login")
	if resp, _ := form(t, c, u.url+"/login", url.Values{"csrf": {csrf}, "token": {u.token}, "next": {"/"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	for name, h := range map[string]map[string]string{
		"no token":    nil,
		"wrong token": {"Authorization": "Bearer slr_not-a-token"},
		"basic":       {"Authorization": "Basic " + basic("alice", u.token)},
		"empty":       {"Authorization": "Bearer "},
	} {
		resp, body := fetch(t, c, http.MethodPost, u.url+"/api/pipelines/orders/pause", nil, h)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body, "bearer token") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	paused, _ := state.PausedPipelines(context.Background(), u.db.Reader())
	if len(paused) != 0 {
		t.Fatalf("an unauthenticated call paused %v", paused)
	}
	resp, body := fetch(t, http.DefaultClient, http.MethodPost, u.url+"/api/pipelines/orders/pause", nil, map[string]string{"Authorization": "Bearer " + u.token})
	if resp.StatusCode != http.StatusOK || body != `{"changed":true,"paused":true,"pipeline":"orders"}`+"\n" {
		t.Fatalf("pause with the token: %d %s", resp.StatusCode, body)
	}
	recs, _ := state.Actions(context.Background(), u.db.Reader(), "orders", 1)
	if len(recs) != 1 || recs[0].Actor != "api:alice" || recs[0].Action != actions.Pause {
		t.Errorf("recorded %+v", recs)
	}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// Every form needs the CSRF token of this browser's cookie, and a post from another origin is
// refused even with it; a signed-out browser is sent to sign in.
func TestUI_FormsNeedCSRFAndASignIn(t *testing.T) {
	u := newUI(t, true)
	c := client()
	pause := u.url + "/pipelines/orders/pause"
	csrf := csrfOf(t, c, u.url+"/pipelines/orders")
	// Signed out, with a good token: sent to sign in.
	resp, _ := form(t, c, pause, url.Values{"csrf": {csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("signed-out pause: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Sign in with a wrong token, then the right one.
	if resp, body := form(t, c, u.url+"/login", url.Values{"csrf": {csrf}, "token": {"slr_wrong"}}, nil); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not one of this runner") {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	resp, _ = form(t, c, u.url+"/login", url.Values{"csrf": {csrf}, "token": {u.token}, "next": {"//evil.example/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d to %q, want / (never another site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "sluice_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || strings.Contains(session.Value, u.token) {
		t.Fatalf("session cookie %+v", session)
	}
	// Signed in: without the token, with another browser's, cross-origin: refused.
	other := csrfOf(t, client(), u.url+"/pipelines/orders")
	for name, tc := range map[string]struct {
		values url.Values
		header map[string]string
	}{
		"no csrf":          {url.Values{}, nil},
		"another's csrf":   {url.Values{"csrf": {other}}, nil},
		"cross origin":     {url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}},
		"cross site fetch": {url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		resp, body := form(t, c, pause, tc.values, tc.header)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "refused") {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if paused, _ := state.PausedPipelines(context.Background(), u.db.Reader()); len(paused) != 0 {
		t.Fatalf("a refused form paused %v", paused)
	}
	// A tampered session is nobody.
	tampered := client()
	tu, _ := url.Parse(u.url)
	tcsrf := csrfOf(t, tampered, u.url+"/pipelines/orders")
	tampered.Jar.SetCookies(tu, []*http.Cookie{{Name: "sluice_session", Value: strings.Replace(session.Value, "alice", "mallory", 1)}})
	if resp, _ := form(t, tampered, pause, url.Values{"csrf": {tcsrf}}, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("tampered session: %d", resp.StatusCode)
	}
	// The real thing: paused, recorded as web:alice, shown.
	if resp, _ := form(t, c, pause, url.Values{"csrf": {csrf}}, map[string]string{"Origin": u.url}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d", resp.StatusCode)
	}
	_, page := fetch(t, c, http.MethodGet, u.url+"/pipelines/orders", nil, nil)
	for _, want := range []string{`id="pipeline-state">paused</span>`, "paused by web:alice", `<td class="actor">web:alice</td><td class="action">pause</td>`, `id="unpause"`} {
		if !strings.Contains(page, want) {
			t.Errorf("pipeline page after pause: missing %q", want)
		}
	}
	// HTTP basic with a token works for forms too (CSRF still required).
	b := client()
	bcsrf := csrfOf(t, b, u.url+"/pipelines/orders")
	if resp, _ := form(t, b, u.url+"/pipelines/orders/unpause", url.Values{"csrf": {bcsrf}}, map[string]string{"Authorization": "Basic " + basic("any", u.token)}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/pipelines/orders" {
		t.Errorf("unpause with basic: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if paused, _ := state.PausedPipelines(context.Background(), u.db.Reader()); len(paused) != 0 {
		t.Errorf("still paused after unpause: %v", paused)
	}
}

// Each action through the API, with its answer and the state it leaves.
func TestUI_APIActions(t *testing.T) {
	u := newUI(t, true)
	auth := map[string]string{"Authorization": "Bearer " + u.token, "Content-Type": "application/json"}
	call := func(path, body string) (int, map[string]any) {
		resp, out := fetch(t, http.DefaultClient, http.MethodPost, u.url+path, strings.NewReader(body), auth)
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("POST %s: %d %q is not JSON", path, resp.StatusCode, out)
		}
		return resp.StatusCode, m
	}
	if code, m := call("/api/pipelines/orders/runs", `{"interval_start":"2026-11-01T06:00:00Z"}`); code != 201 || m["run_id"] == nil {
		t.Errorf("trigger: %d %v", code, m)
	}
	if code, m := call("/api/pipelines/orders/runs", `{"interval_start":"2026-11-01T06:00:00Z"}`); code != 409 || !strings.Contains(fmt.Sprint(m["error"]), "already has a run") {
		t.Errorf("trigger again: %d %v", code, m)
	}
	if code, m := call("/api/pipelines/orders/runs", `{"interval_start":"yesterday"}`); code != 400 || !strings.Contains(fmt.Sprint(m["error"]), "RFC 3339") {
		t.Errorf("bad time: %d %v", code, m)
	}
	if code, m := call("/api/pipelines/orders/runs", `{"interval_start":"2026-11-01T06:00:00Z","reprocesss":true}`); code != 400 || !strings.Contains(fmt.Sprint(m["error"]), "unknown field") {
		t.Errorf("typo in a field: %d %v", code, m)
	}
	if code, m := call("/api/pipelines/nope/runs", `{"interval_start":"2026-11-01T06:00:00Z"}`); code != 404 {
		t.Errorf("unknown pipeline: %d %v", code, m)
	}
	if code, m := call("/api/pipelines/orders/backfill/count", `{"from":"2026-10-31T00:00:00Z","to":"2026-11-02T00:00:00Z"}`); code != 200 || m["runs"] != 8.0 || m["future"] != 16.0 {
		t.Errorf("count: %d %v (want the 8 hourly intervals since the start that ended by 08:00, 16 future)", code, m)
	}
	if code, m := call("/api/pipelines/orders/backfill", `{"from":"2026-11-01T00:00:00Z","to":"2026-11-01T08:00:00Z","max_runs":1}`); code != 409 {
		t.Errorf("backfill over max_runs: %d %v", code, m)
	}
	if code, m := call("/api/pipelines/orders/backfill", `{"from":"2026-11-01T00:00:00Z","to":"2026-11-01T08:00:00Z"}`); code != 201 || fmt.Sprint(m["created"]) != "[8]" || m["existing"] != 7.0 {
		t.Errorf("backfill: %d %v", code, m)
	}
	failed := u.runs[4]
	if code, m := call(fmt.Sprintf("/api/runs/%d/activities/transform/clear", failed), ""); code != 200 || fmt.Sprint(m["cleared"]) != "[transform load]" {
		t.Errorf("clear: %d %v", code, m)
	}
	if code, m := call(fmt.Sprintf("/api/runs/%d/activities/transform/clear", failed), ""); code != 409 {
		t.Errorf("clear of a queued activity: %d %v", code, m)
	}
	if code, m := call(fmt.Sprintf("/api/runs/%d/fail", failed), "{}"); code != 200 || fmt.Sprint(m["failed"]) != "[load transform]" {
		t.Errorf("mark failed: %d %v", code, m)
	}
	if code, m := call(fmt.Sprintf("/api/runs/%d/fail", failed), "{}"); code != 409 {
		t.Errorf("mark failed twice: %d %v", code, m)
	}
	if code, m := call("/api/runs/99999/fail", ""); code != 404 {
		t.Errorf("mark failed of no run: %d %v", code, m)
	}
	resp, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/api/actions", nil, nil)
	var log []status.Action
	if err := json.Unmarshal([]byte(body), &log); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("action log: %d %v", resp.StatusCode, err)
	}
	var got []string
	for _, a := range log {
		got = append(got, a.Actor+" "+a.Action+" "+a.Outcome)
	}
	want := "api:alice mark_failed error|api:alice mark_failed error|api:alice mark_failed ok|api:alice clear error|api:alice clear ok|" +
		"api:alice backfill ok|api:alice backfill error|api:alice trigger error|api:alice trigger ok|cli:setup backfill ok"
	if strings.Join(got, "|") != want {
		t.Errorf("action log:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

// The backfill form counts first and plans only once the count is confirmed.
func TestUI_BackfillFormShowsTheCountBeforeConfirming(t *testing.T) {
	u := newUI(t, true)
	c := client()
	csrf := csrfOf(t, c, u.url+"/login")
	form(t, c, u.url+"/login", url.Values{"csrf": {csrf}, "token": {u.token}}, nil)
	values := url.Values{"csrf": {csrf}, "from": {"2026-10-31T00:00:00Z"}, "to": {"2026-11-02T00:00:00Z"}, "reprocess": {"failed"}}
	resp, body := form(t, c, u.url+"/pipelines/orders/backfill", values, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<b id="runs">8</b> interval(s) have ended, and 16 more have not`) || !strings.Contains(body, `name="confirm_runs" value="8"`) {
		t.Fatalf("count page: %d\n%s", resp.StatusCode, between(body, `id="confirm"`, "</section>"))
	}
	runs, _ := state.RecentRuns(context.Background(), u.db.Reader(), "orders", 100)
	if len(runs) != 6 {
		t.Fatalf("counting planned runs: %d runs", len(runs))
	}
	values.Set("confirm_runs", "8")
	if resp, _ := form(t, c, u.url+"/pipelines/orders/backfill", values, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	runs, _ = state.RecentRuns(context.Background(), u.db.Reader(), "orders", 100)
	// 06:00 and 07:00 had no run; 04:00 failed and is reprocessed (seq 1).
	if len(runs) != 9 {
		t.Errorf("after the confirmed backfill: %d runs, want 9", len(runs))
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr          string
		tls, insecure bool
		ok            bool
	}{
		{"127.0.0.1:8080", false, false, true},
		{"[::1]:8080", false, false, true},
		{"localhost:8080", false, false, true},
		{"0.0.0.0:8080", false, false, false},
		{":8080", false, false, false},
		{"10.1.2.3:8080", false, false, false},
		{"0.0.0.0:8080", true, false, true},
		{"0.0.0.0:8080", false, true, true},
	} {
		err := web.CheckListen(tc.addr, tc.tls, tc.insecure)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, tls %v, insecure %v) = %v", tc.addr, tc.tls, tc.insecure, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--insecure") {
			t.Errorf("the refusal does not say how to proceed: %v", err)
		}
	}
}

func TestTokens_HashedAndNamed(t *testing.T) {
	secret, sum, err := web.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "slr_") || len(secret) < 40 || strings.Contains(sum, secret) || len(sum) != 64 {
		t.Fatalf("token %q / %q", secret, sum)
	}
	if _, err := web.ParseToken("alice", secret); err == nil {
		t.Error("a token given where its hash belongs was accepted")
	}
	if _, err := web.ParseToken("<b>", sum); err == nil {
		t.Error("a hostile token name was accepted")
	}
	a, _ := web.ParseToken("alice", sum)
	if _, err := web.NewAuth([]web.Token{a, a}); err == nil {
		t.Error("two tokens with one name were accepted")
	}
}

// The home page filters by owner, state and text, and sorts.
func TestUI_HomeFiltersAndSorts(t *testing.T) {
	u := newUI(t, false)
	_, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/?state=failing", nil, nil)
	if !strings.Contains(body, `data-name="orders"`) || !strings.Contains(body, "1 in a row") {
		t.Errorf("failing filter lost orders")
	}
	for _, q := range []string{"?state=paused", "?q=nothing-matches", "?owner=someone"} {
		_, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/"+q, nil, nil)
		if strings.Contains(body, `data-name="orders"`) || !strings.Contains(body, "No pipeline matches these filters.") {
			t.Errorf("%s still shows orders", q)
		}
	}
	if resp, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/?sort=size", nil, nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "use one of name, owner") {
		t.Errorf("bad sort: %d", resp.StatusCode)
	}
	// The row's cells: oldest left, the failed run red, the scheduled one last.
	_, body = fetch(t, http.DefaultClient, http.MethodGet, u.url+"/", nil, nil)
	cells := regexp.MustCompile(`class="cell (state-[a-z_]+)"`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, c := range cells {
		got = append(got, c[1])
	}
	want := "state-success state-success state-success state-success state-failed state-scheduled"
	if strings.Join(got, " ") != want {
		t.Errorf("home cells %v, want %s", got, want)
	}
}

// /api/home is paginated like /api/pipelines: bounded however many pipelines there are.
func TestUI_APIHomeIsPaginated(t *testing.T) {
	u := newUI(t, false)
	resp, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/api/home?per_page=1", nil, nil)
	var ps []status.HomePipeline
	if err := json.Unmarshal([]byte(body), &ps); err != nil || resp.StatusCode != http.StatusOK || len(ps) != 1 || resp.Header.Get("X-Total-Count") != "1" {
		t.Fatalf("page 1: %d %v %s", resp.StatusCode, err, body)
	}
	if len(ps[0].Cells) != 6 || ps[0].Cells[0].State != status.RunScheduled || ps[0].FailureStreak != 1 {
		t.Errorf("orders: %d cells, newest %s, streak %d; want 6, scheduled, 1", len(ps[0].Cells), ps[0].Cells[0].State, ps[0].FailureStreak)
	}
	if _, body := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/api/home?page=2&per_page=1", nil, nil); body != "[]\n" {
		t.Errorf("page 2: %q, want []", body)
	}
	if resp, _ := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/api/home?per_page=0", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("per_page=0: %d, want 400", resp.StatusCode)
	}
}

// A pipeline with a trigger shows it on its page (and "on the next event" for its next run),
// and a run an event made shows its messages, objects and their keys — escaped: object keys
// come from whoever can write to the bucket.
func TestUI_ShowsTriggersAndTheEventOfATriggeredRun(t *testing.T) {
	u := newUI(t, false)
	ctx := context.Background()
	p := uiPipeline()
	p.Name, p.Schedule = "landed", definition.Schedule{}
	p.Trigger = &definition.Trigger{SQS: &definition.SQSTrigger{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/landed", Prefix: "raw/<b>x</b>/"}}
	doc, err := definition.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	event, err := json.Marshal(definition.Event{Source: state.TriggerSQS, Messages: 2, Objects: []definition.EventObject{
		{Bucket: "landing", Key: "raw/<script>alert(1)</script>.csv", Size: 10},
		{Bucket: "landing", Key: "raw/b.csv", Size: 20},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := uiT0.Add(8 * time.Hour)
	var id int64
	if err := u.db.InTx(ctx, func(q state.Q) error {
		if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
			return err
		}
		if err := state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: true, Owner: p.Owner}, now); err != nil {
			return err
		}
		id, err = state.InsertEventRun(ctx, q, u.db.Dialect, state.EventRun{
			Run: state.NewRun{Pipeline: p.Name, IntervalStart: uiT0, IntervalEnd: uiT0.Add(time.Hour), Version: p.Version, Trigger: state.TriggerSQS,
				MaxActive: 1, Activities: map[string]string{"extract": definition.KindShell}},
			Keys: []string{"landing/raw/a.csv/1"}, Source: state.TriggerSQS, Messages: 2, Objects: 2, Event: event,
		}, now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, page := fetch(t, http.DefaultClient, http.MethodGet, u.url+"/pipelines/landed", nil, nil)
	for _, want := range []string{"sqs https://sqs.eu-west-1.amazonaws.com/123456789012/landed (prefix raw/&lt;b&gt;x&lt;/b&gt;/)", "on the next event"} {
		if !strings.Contains(page, want) {
			t.Errorf("pipeline page: missing %q:\n%s", want, between(page, "<dl", "</dl>"))
		}
	}
	_, run := fetch(t, http.DefaultClient, http.MethodGet, u.url+fmt.Sprintf("/runs/%d", id), nil, nil)
	for _, want := range []string{"2 message(s), 2 object(s)", "s3://landing/raw/&lt;script&gt;alert(1)&lt;/script&gt;.csv", "s3://landing/raw/b.csv"} {
		if !strings.Contains(run, want) {
			t.Errorf("run page: missing %q:\n%s", want, between(run, "<dl", "</dl>"))
		}
	}
	if strings.Contains(run, "<script>") || strings.Contains(page, "<b>x") {
		t.Error("a key or prefix is shown unescaped")
	}
}
