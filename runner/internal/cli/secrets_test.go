package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/fakesecrets"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// The secret-leak property tests (issue 11, item 2): random passwords from the whole printable
// ASCII range, with the characters that URI parsers and pgx cut at ('@', ':', '/', '%', '?',
// '#') always among them, go through each failure path of the runner against the real
// stand-ins (the harness's PostgreSQL with scram-sha-256 logins, the fake Secrets Manager, a
// webhook sink on 127.0.0.1), and every output is searched for the password in every form a
// driver could print: logs and stderr, stdout, `status` text and JSON, the state database and
// the webhook payloads.
//
// SLUICE_LEAK_TRIALS sets the passwords tried per path (default 8); SLUICE_LEAK_SEED replays a
// failing run (the seed is logged).

// uriCuts are the characters the generated passwords always contain some of.
const uriCuts = "@:/%?#"

func leakTrials(t *testing.T) (int, *rand.Rand) {
	t.Helper()
	n := 8
	if v := os.Getenv("SLUICE_LEAK_TRIALS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("SLUICE_LEAK_TRIALS=%q: want a positive number", v)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SLUICE_LEAK_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SLUICE_LEAK_SEED=%q: %v", v, err)
		}
	}
	t.Logf("%d trials, SLUICE_LEAK_SEED=%d", n, seed)
	return n, rand.New(rand.NewPCG(seed, seed^0x5eed))
}

// randomPassword is 10 to 24 printable ASCII characters (space to '~') with one to three of
// uriCuts inserted.
func randomPassword(r *rand.Rand) string {
	b := make([]byte, 10+r.IntN(15))
	for i := range b {
		b[i] = byte(' ' + r.IntN('~'-' '+1))
	}
	for range 1 + r.IntN(3) {
		b[r.IntN(len(b))] = uriCuts[r.IntN(len(uriCuts))]
	}
	return string(b)
}

// leakForms are the texts whose presence in an output means the secret leaked: the secret,
// its percent-encoded and -decoded forms, its JSON-escaped forms, and each piece of it between
// URI delimiters at least minPiece long (what a parser that cut the URI in the wrong place
// prints). Computed here independently of package redact.
func leakForms(secret string, minPiece int) []string {
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret),
		strings.TrimPrefix(url.UserPassword("u", secret).String(), "u:")}
	if d, err := url.PathUnescape(secret); err == nil {
		forms = append(forms, d)
	}
	if d, err := url.QueryUnescape(secret); err == nil {
		forms = append(forms, d)
	}
	for _, f := range slicesClone(forms) {
		j, _ := json.Marshal(f)
		forms = append(forms, string(j[1:len(j)-1]))
	}
	for _, p := range strings.FieldsFunc(secret, func(r rune) bool { return strings.ContainsRune(uriCuts, r) }) {
		if len(p) >= minPiece {
			forms = append(forms, p)
		}
	}
	var out []string
	for _, f := range forms {
		if len(f) >= redact.MinLen {
			out = append(out, f)
		}
	}
	return out
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// assertNoLeak fails the test when text holds any leak form of secret.
func assertNoLeak(t *testing.T, where, text, secret string, minPiece int) {
	t.Helper()
	for _, f := range leakForms(secret, minPiece) {
		if i := strings.Index(text, f); i >= 0 {
			lo, hi := max(0, i-80), min(len(text), i+len(f)+80)
			t.Errorf("%s holds %q (a form of the secret %q):\n…%s…", where, f, secret, text[lo:hi])
			return
		}
	}
}

// hookSink is a webhook endpoint on 127.0.0.1 that records every payload and answers code.
type hookSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	code int
	got  []string
}

func startHookSink(t *testing.T, code int) *hookSink {
	t.Helper()
	h := &hookSink{code: code}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, string(body))
		h.mu.Unlock()
		w.WriteHeader(h.code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) payloads() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slicesClone(h.got)
}

// leakPipeline fails in act once a day since 2026-11-01 and notifies hook of the failure.
func leakPipeline(hook string, retries int, act *definition.Activity) *definition.Pipeline {
	return &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "leaky", Owner: "ops@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1d", Start: "2026-11-01T00:00:00Z", MaxActiveRuns: 1},
		Defaults:   definition.Defaults{Retries: retries, RetryDelay: "10ms", Timeout: "1m"},
		Activities: map[string]*definition.Activity{"work": act},
		Notify:     &definition.Notify{OnFailure: []string{hook}},
	}
}

// serveUntil runs `serve` until done says so (or a minute passes) and returns its stdout and
// stderr.
func serveUntil(t *testing.T, env map[string]string, done func(stderr string) bool, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Execute(ctx, append([]string{"serve", "--tick", "20ms", "--fetch-cooldown", "5ms", "--listen", ""}, extra...), cli.IO{
			Stdout: out, Stderr: errOut, Getenv: func(k string) string { return env[k] },
			Environ: func() []string { return environ(env) },
		})
	}()
	deadline := time.Now().Add(time.Minute)
	for !done(errOut.String()) {
		select {
		case code := <-exited:
			t.Fatalf("serve exited %d early:\n%s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-exited
			t.Fatalf("serve did not get there within a minute:\n%s", errOut.String())
		}
	}
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, errOut.String())
	}
	return out.String(), errOut.String()
}

func environ(env map[string]string) []string {
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	return kv
}

// stateFiles is every byte of the SQLite state database (the file, its WAL and shared memory).
func stateFiles(t *testing.T, dir string) string {
	t.Helper()
	var all strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "state.db") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
	}
	return all.String()
}

// stateErrors is every error, log and job error text of the state database's rows.
func stateErrors(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var all strings.Builder
	for _, q := range []string{
		`SELECT COALESCE(error, '') FROM sluice_activities`,
		`SELECT COALESCE(error, '') || COALESCE(log, '') FROM sluice_attempts`,
		`SELECT COALESCE(CAST(errors AS TEXT), '') FROM river_job`,
	} {
		rows, err := db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			all.WriteString(s + "\n")
		}
		_ = rows.Close()
	}
	return all.String()
}

// checkOutputs runs status (text and JSON) and searches every output of a trial for secret.
func checkOutputs(t *testing.T, env map[string]string, secret string, outputs map[string]string, stateDir string, hook *hookSink) {
	t.Helper()
	for _, format := range []string{"text", "json"} {
		code, out, errOut := run(t, env, "status", "--output", format)
		// A runner refused at startup leaves no state database for status to read.
		if _, err := os.Stat(filepath.Join(stateDir, "state.db")); code != 0 && (stateDir == "" || err == nil) {
			t.Errorf("status --output %s exited %d: %s", format, code, errOut)
		}
		outputs["status "+format] = out + errOut
	}
	for where, text := range outputs {
		assertNoLeak(t, where, text, secret, redact.MinLen)
	}
	if stateDir != "" {
		// Bytes of pages also hold unrelated text: only pieces of 6 or more characters are
		// unlikely enough to turn up there by chance.
		assertNoLeak(t, "the state database file", stateFiles(t, stateDir), secret, 6)
	}
	if hook != nil {
		for _, p := range hook.payloads() {
			assertNoLeak(t, "a webhook payload", p, secret, redact.MinLen)
		}
	}
}

// createRole creates a login role whose password is pw — or refuses it the login (NOLOGIN) or
// gives it another password — so that connecting with pw fails for real, after or at the
// password check.
func createRole(t *testing.T, adminURL, role, pw string, r *rand.Rand) string {
	t.Helper()
	lit := "'" + strings.ReplaceAll(pw, "'", "''") + "'"
	switch r.IntN(2) {
	case 0:
		execSQL(t, adminURL, fmt.Sprintf(`CREATE ROLE %s NOLOGIN PASSWORD %s`, role, lit))
		return "its login refused"
	default:
		execSQL(t, adminURL, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, role, "'x"+lit[1:]))
		return "a wrong password"
	}
}

// uriWith writes a postgres:// URI with pw as a user would: raw (not encoded), percent-encoded
// in the user information, or as the password parameter.
func uriWith(r *rand.Rand, role, pw, hostPort, db string) (uri, form string) {
	switch r.IntN(3) {
	case 0:
		return "postgres://" + role + ":" + pw + "@" + hostPort + "/" + db + "?sslmode=disable", "raw"
	case 1:
		u := url.URL{Scheme: "postgres", User: url.UserPassword(role, pw), Host: hostPort, Path: "/" + db, RawQuery: "sslmode=disable"}
		return u.String(), "encoded"
	default:
		return "postgres://" + role + "@" + hostPort + "/" + db + "?sslmode=disable&password=" + url.QueryEscape(pw), "parameter"
	}
}

var roleSeq struct {
	mu sync.Mutex
	n  int
}

func nextRole() string {
	roleSeq.mu.Lock()
	defer roleSeq.mu.Unlock()
	roleSeq.n++
	return fmt.Sprintf("leak_%d_%d", os.Getpid(), roleSeq.n)
}

// A connection password, as configured, fails an activity's connection: the activity's
// retry and its failure, the run's failure notification and everything stored about them.
func TestSecrets_WarehousePasswordNeverLeavesTheRunner(t *testing.T) {
	n, r := leakTrials(t)
	admin := acctest.NewPostgresDatabase(t)
	pg := acctest.SharedPostgres(t)
	hostPort := fmt.Sprintf("%s:%d", pg.Host, pg.Port)
	db := admin[strings.LastIndex(admin, "/")+1 : strings.Index(admin, "?")]
	for i := range n {
		pw := randomPassword(r)
		role := nextRole()
		how := createRole(t, admin, role, pw, r)
		uri, form := uriWith(r, role, pw, hostPort, db)
		t.Run(fmt.Sprintf("%d_%s", i, form), func(t *testing.T) {
			t.Logf("password %q (%s URI, %s)", pw, form, how)
			hook := startHookSink(t, http.StatusOK)
			stateDir := t.TempDir()
			reg := publish(t, leakPipeline(hook.srv.URL+"/hook", 1, &definition.Activity{
				SQL: &definition.SQLActivity{Connection: "warehouse", Statements: []string{"SELECT 1"}}}))
			env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": "sqlite://" + filepath.Join(stateDir, "state.db"), "SLUICE_CONN_WAREHOUSE": uri}
			outputs := map[string]string{}
			code, out, errOut := run(t, env, "validate")
			outputs["validate"] = out + errOut
			if code != 0 {
				t.Fatalf("validate exited %d: %s", code, errOut)
			}
			// Either the URI is refused at startup (pgx or net/url cannot parse what the raw
			// password made of it), or the activity fails and its notification is sent.
			code, out, errOut = run(t, env, "run", "leaky", "--interval", "2026-11-01T00:00:00Z", "--tick", "20ms", "--fetch-cooldown", "5ms")
			outputs["run"] = out + errOut
			switch code {
			case 2:
				t.Logf("refused at startup: %s", firstLine(errOut))
			case 1:
				_, failure, _ := strings.Cut(out, "failed ")
				t.Logf("the activity failed: %s", firstLine(failure))
				if !strings.Contains(out, "failed work") {
					t.Errorf("run exited 1 without a failed activity:\n%s", out)
				}
				o, e := serveUntil(t, env, func(string) bool { return len(hook.payloads()) > 0 }, "--database", "sqlite://"+filepath.Join(stateDir, "state2.db"))
				outputs["serve"] = o + e
			default:
				t.Fatalf("run exited %d:\n%s\n%s", code, out, errOut)
			}
			checkOutputs(t, env, pw, outputs, stateDir, hook)
		})
	}
}

// The state database's password fails the runner's start (serve, run, status): its error on
// stderr and its logs.
func TestSecrets_StateDatabasePasswordNeverLeavesTheRunner(t *testing.T) {
	n, r := leakTrials(t)
	admin := acctest.NewPostgresDatabase(t)
	pg := acctest.SharedPostgres(t)
	hostPort := fmt.Sprintf("%s:%d", pg.Host, pg.Port)
	db := admin[strings.LastIndex(admin, "/")+1 : strings.Index(admin, "?")]
	reg := publish(t, leakPipeline("https://hooks.example.com/x", 0, &definition.Activity{
		Shell: &definition.ShellActivity{Command: []string{"true"}}}))
	for i := range n {
		pw := randomPassword(r)
		role := nextRole()
		how := createRole(t, admin, role, pw, r)
		uri, form := uriWith(r, role, pw, hostPort, db)
		t.Run(fmt.Sprintf("%d_%s", i, form), func(t *testing.T) {
			t.Logf("password %q (%s URI, %s)", pw, form, how)
			outputs := map[string]string{}
			for _, args := range [][]string{
				{"serve", "--database", uri, "--listen", ""},
				{"run", "leaky", "--interval", "2026-11-01T00:00:00Z", "--database", uri},
				{"status", "--database", uri},
				{"status", "--database", uri, "--output", "json"},
			} {
				env := map[string]string{"SLUICE_REGISTRY": reg}
				code, out, errOut := run(t, env, args...)
				if code == 0 {
					t.Fatalf("%s with %s exited 0", args[0], uri)
				}
				outputs[strings.Join(args[:1], " ")+" "+strings.Join(args[len(args)-1:], "")] = out + errOut
			}
			// SLUICE_DATABASE, the config file's way in, too.
			code, out, errOut := run(t, map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": uri}, "status")
			if code == 0 {
				t.Fatalf("status with SLUICE_DATABASE=%s exited 0", uri)
			}
			outputs["status (SLUICE_DATABASE)"] = out + errOut
			for where, text := range outputs {
				assertNoLeak(t, where, text, pw, redact.MinLen)
			}
		})
	}
}

// A connection given as a Secrets Manager secret: its value (RDS-style JSON or a URI) and the
// password in it never leave the runner when the database refuses them.
func TestSecrets_SecretsManagerValueNeverLeavesTheRunner(t *testing.T) {
	n, r := leakTrials(t)
	admin := acctest.NewPostgresDatabase(t)
	pg := acctest.SharedPostgres(t)
	hostPort := fmt.Sprintf("%s:%d", pg.Host, pg.Port)
	db := admin[strings.LastIndex(admin, "/")+1 : strings.Index(admin, "?")]
	sm := fakesecrets.Start(t)
	// The SDK reads credentials from the process environment; the endpoint comes from the
	// runner's (test) environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for i := range n {
		pw := randomPassword(r)
		role := nextRole()
		how := createRole(t, admin, role, pw, r)
		arn := fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse%d-AbCdEf", i)
		var value, form string
		if r.IntN(2) == 0 {
			j, _ := json.Marshal(map[string]any{"engine": "postgres", "host": pg.Host, "port": pg.Port, "username": role, "password": pw, "dbname": db, "sslmode": "disable"})
			value, form = string(j), "json"
		} else {
			value, form = uriWith(r, role, pw, hostPort, db)
		}
		sm.SetString(arn, value)
		t.Run(fmt.Sprintf("%d_%s", i, form), func(t *testing.T) {
			t.Logf("password %q (secret value as %s, %s)", pw, form, how)
			hook := startHookSink(t, http.StatusOK)
			stateDir := t.TempDir()
			reg := publish(t, leakPipeline(hook.srv.URL+"/hook", 0, &definition.Activity{
				SQL: &definition.SQLActivity{Connection: "warehouse", Statements: []string{"SELECT 1"}}}))
			env := map[string]string{
				"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": "sqlite://" + filepath.Join(stateDir, "state.db"),
				"SLUICE_CONN_WAREHOUSE": arn, "AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL(),
			}
			outputs := map[string]string{}
			o, e := serveUntil(t, env, func(string) bool { return len(hook.payloads()) > 0 }, "--region", "us-east-1")
			outputs["serve"] = o + e
			if sm.CallsFor(arn) == 0 {
				t.Fatalf("the runner never fetched the secret:\n%s", e)
			}
			checkOutputs(t, env, pw, outputs, stateDir, hook)
			// The value itself, whole, is a secret too (it names the host and user as well).
			for where, text := range outputs {
				if strings.Contains(text, value) {
					t.Errorf("%s holds the secret's whole value", where)
				}
			}
		})
	}
}

// A webhook target's token (in its path, its query or its user information) never leaves the
// runner when the webhook fails: not in the logs, the stored job errors, status or payloads.
// The state database does keep the published definition, target included (as the registry
// does), so its file is not searched; its error and log columns are.
func TestSecrets_WebhookTokenNeverLeavesTheRunner(t *testing.T) {
	n, r := leakTrials(t)
	for i := range n {
		token := randomPassword(r)
		hook := startHookSink(t, http.StatusInternalServerError)
		base, _ := url.Parse(hook.srv.URL)
		var target, form string
		switch r.IntN(3) {
		case 0:
			target, form = hook.srv.URL+"/hook/"+url.PathEscape(token), "path"
		case 1:
			target, form = hook.srv.URL+"/hook?token="+url.QueryEscape(token), "query"
		default:
			target, form = (&url.URL{Scheme: "http", User: url.UserPassword("sluice", token), Host: base.Host, Path: "/hook"}).String(), "userinfo"
		}
		t.Run(fmt.Sprintf("%d_%s", i, form), func(t *testing.T) {
			t.Logf("token %q in the %s: %s", token, form, target)
			stateDir := t.TempDir()
			reg := publish(t, leakPipeline(target, 0, &definition.Activity{
				Shell: &definition.ShellActivity{Command: []string{"sh", "-c", "echo failing; exit 3"}}}))
			env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": "sqlite://" + filepath.Join(stateDir, "state.db")}
			o, e := serveUntil(t, env, func(stderr string) bool {
				return len(hook.payloads()) > 0 && strings.Contains(stderr, "sending the failure notification")
			})
			outputs := map[string]string{"serve": o + e, "stored errors": stateErrors(t, filepath.Join(stateDir, "state.db"))}
			if !strings.Contains(outputs["stored errors"], "HTTP 500") {
				t.Errorf("the failed notification is not among the stored job errors:\n%s", outputs["stored errors"])
			}
			checkOutputs(t, env, token, outputs, "", hook)
		})
	}
}

// A state database URI without a password used to have its connect error garbled: the
// password pgx parsed, "", was replaced everywhere, between every two characters.
func TestStatus_StateDatabaseErrorWithoutAPasswordStaysReadable(t *testing.T) {
	// Nothing listens on port 1: the connection is refused, which pgx reports as a ConnectError.
	code, _, errOut := run(t, nil, "status", "--database", "postgres://nobody@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5")
	if code != 2 {
		t.Fatalf("status exited %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "connecting to the state database") || strings.Contains(errOut, "xxxxxcxxxxx") {
		t.Errorf("stderr:\n%s", errOut)
	}
}
