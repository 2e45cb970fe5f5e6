package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// goaws is the package's SNS stand-in, started once by TestMain with one topic per test that
// publishes, so tests never read each other's messages.
var goaws *acctest.Goaws

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	g, err := acctest.StartGoaws(ctx, "notify-failure", "notify-late", "notify-region")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify tests:", err)
		os.Exit(1)
	}
	goaws = g
	code := m.Run()
	g.Stop()
	os.Exit(code)
}

var day = time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)

func failure() Message {
	return Message{
		Event: EventFailure, Pipeline: "web_logs_daily", Owner: "data-team", RunID: 42,
		IntervalStart: day, IntervalEnd: day.Add(24 * time.Hour),
		Activity: "load", Error: "COPY failed: 3 rows rejected",
		StatusURL: "http://127.0.0.1:8080/pipelines/web_logs_daily",
	}
}

func snsSender(t *testing.T) *Sender {
	t.Helper()
	client, err := goaws.SNS()
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{SNS: client})
}

func TestSend_SNSPublishesSubjectJSONAndAttributes(t *testing.T) {
	ctx := context.Background()
	m := failure()
	if err := snsSender(t).Send(ctx, goaws.TopicARN("notify-failure"), m); err != nil {
		t.Fatal(err)
	}
	got, err := goaws.Receive(ctx, "notify-failure")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("topic received %d messages, want 1", len(got))
	}
	n := got[0]
	if want := "[sluice] web_logs_daily failed: 2026-11-18 (load)"; n.Subject != want {
		t.Errorf("Subject = %q, want %q", n.Subject, want)
	}
	want, err := JSON(m)
	if err != nil {
		t.Fatal(err)
	}
	if n.Message != string(want) {
		t.Errorf("Message = %s\nwant      %s", n.Message, want)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["event"] != "failure" || doc["pipeline"] != "web_logs_daily" || doc["run_id"] != float64(42) ||
		doc["activity"] != "load" || doc["interval_start"] != "2026-11-18T00:00:00Z" {
		t.Errorf("Message fields = %v", doc)
	}
	wantAttrs := map[string]string{"event": "failure", "pipeline": "web_logs_daily"}
	if fmt.Sprint(n.MessageAttributes) != fmt.Sprint(wantAttrs) {
		t.Errorf("MessageAttributes = %v, want %v", n.MessageAttributes, wantAttrs)
	}
	if n.DataTypes["event"] != "String" || n.DataTypes["pipeline"] != "String" {
		t.Errorf("attribute data types = %v", n.DataTypes)
	}
}

func TestSend_SNSLateCarriesLateSeconds(t *testing.T) {
	ctx := context.Background()
	m := Message{Event: EventLate, Pipeline: "hourly_events", IntervalStart: day.Add(13 * time.Hour),
		IntervalEnd: day.Add(14 * time.Hour), Late: 2*time.Hour + 15*time.Minute}
	if err := snsSender(t).Send(ctx, goaws.TopicARN("notify-late"), m); err != nil {
		t.Fatal(err)
	}
	got, err := goaws.Receive(ctx, "notify-late")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("topic received %d messages, want 1", len(got))
	}
	if want := "[sluice] hourly_events late by 2h15m: 2026-11-18 13:00 UTC"; got[0].Subject != want {
		t.Errorf("Subject = %q, want %q", got[0].Subject, want)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(got[0].Message), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["late_seconds"] != float64(8100) || doc["event"] != "late" {
		t.Errorf("late fields = %v", doc)
	}
	if _, ok := doc["run_id"]; ok {
		t.Errorf("run_id present for a message without a run: %v", doc)
	}
	if got[0].MessageAttributes["event"] != "late" {
		t.Errorf("event attribute = %q", got[0].MessageAttributes["event"])
	}
}

// regionRecorder passes calls to the real client and records the region each call ends up with.
type regionRecorder struct {
	SNSAPI
	mu      sync.Mutex
	regions []string
}

func (r *regionRecorder) Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error) {
	optFns = append(optFns, func(o *sns.Options) {
		r.mu.Lock()
		r.regions = append(r.regions, o.Region)
		r.mu.Unlock()
	})
	return r.SNSAPI.Publish(ctx, in, optFns...)
}

func TestSend_SNSPublishesInTheTopicsRegion(t *testing.T) {
	client, err := goaws.SNS()
	if err != nil {
		t.Fatal(err)
	}
	rec := &regionRecorder{SNSAPI: client}
	arn := "arn:aws:sns:eu-west-1:" + acctest.GoawsAccountID + ":notify-region"
	if err := New(Options{SNS: rec}).Send(context.Background(), arn, failure()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.regions) != "[eu-west-1]" {
		t.Errorf("Publish regions = %v, want [eu-west-1] (the client's is %s)", rec.regions, goaws.Region)
	}
	if got, err := goaws.Receive(context.Background(), "notify-region"); err != nil || len(got) != 1 {
		t.Errorf("topic received %d messages (err %v), want 1", len(got), err)
	}
}

func TestSend_SNSUnknownTopicIsNotRetryable(t *testing.T) {
	arn := goaws.TopicARN("no-such-topic")
	err := snsSender(t).Send(context.Background(), arn, failure())
	if err == nil {
		t.Fatal("Send to an unknown topic succeeded")
	}
	if Retryable(err) {
		t.Errorf("Retryable = true for %v", err)
	}
	for _, want := range []string{arn, "failure notification of pipeline web_logs_daily", "retrying will not help"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSend_SNSWithoutClientFailsClearly(t *testing.T) {
	err := New(Options{}).Send(context.Background(), goaws.TopicARN("notify-failure"), failure())
	if err == nil || !strings.Contains(err.Error(), "no SNS client is configured") || Retryable(err) {
		t.Errorf("err = %v, want a non-retryable error naming the missing SNS client", err)
	}
}

func TestSNSRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "Throttling", Fault: smithy.FaultClient}, true},
		{&smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}, true},
		{&smithy.GenericAPIError{Code: "KMSDisabled", Fault: smithy.FaultServer}, true},
		{&smithy.GenericAPIError{Code: "NotFound", Fault: smithy.FaultClient}, false},
		{&smithy.GenericAPIError{Code: "AuthorizationError", Fault: smithy.FaultUnknown}, false},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
	}
	for _, tt := range tests {
		if got := snsRetryable(tt.err); got != tt.want {
			t.Errorf("snsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// hook is a webhook receiver on 127.0.0.1 answering with status and recording what it got.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	reqs   []*http.Request
	bodies [][]byte
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs, h.bodies = append(h.reqs, r), append(h.bodies, b)
		h.mu.Unlock()
		if h.status >= 300 && h.status < 400 {
			w.Header().Set("Location", h.URL+"/elsewhere")
		}
		w.WriteHeader(h.status)
		_, _ = io.WriteString(w, "echo: "+r.URL.String())
	}))
	t.Cleanup(h.Close)
	return h
}

func TestSend_WebhookPostsTheJSONBody(t *testing.T) {
	h := newHook(t, http.StatusNoContent)
	m := failure()
	if err := New(Options{}).Send(context.Background(), h.URL+"/hooks/sluice?team=data", m); err != nil {
		t.Fatal(err)
	}
	if len(h.reqs) != 1 {
		t.Fatalf("webhook got %d requests, want 1", len(h.reqs))
	}
	r := h.reqs[0]
	if r.Method != http.MethodPost || r.URL.Path != "/hooks/sluice" || r.URL.Query().Get("team") != "data" {
		t.Errorf("request = %s %s", r.Method, r.URL)
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "sluice-runner" {
		t.Errorf("headers = %v", r.Header)
	}
	want, err := JSON(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.bodies[0], want) {
		t.Errorf("body = %s\nwant   %s", h.bodies[0], want)
	}
}

func TestSend_WebhookStatusDecidesRetry(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusTooManyRequests, true},
		{http.StatusRequestTimeout, true},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusNotFound, false},
		{http.StatusMovedPermanently, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			h := newHook(t, tt.status)
			err := New(Options{}).Send(context.Background(), h.URL+"/hook", failure())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if Retryable(err) != tt.retryable {
				t.Errorf("Retryable = %v, want %v: %v", Retryable(err), tt.retryable, err)
			}
			if want := fmt.Sprintf("HTTP %d %s", tt.status, http.StatusText(tt.status)); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
			if len(h.reqs) != 1 {
				t.Errorf("webhook got %d requests, want 1 (redirects are not followed)", len(h.reqs))
			}
		})
	}
}

func TestSend_WebhookTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s := New(Options{HTTP: &http.Client{Timeout: 100 * time.Millisecond}})
	err := s.Send(context.Background(), srv.URL+"/slow?token=s3cret", failure())
	if err == nil {
		t.Fatal("Send to a webhook that never answers succeeded")
	}
	if !Retryable(err) || !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("err = %v, want a retryable timeout", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestSend_WebhookConnectionRefusedIsRetryable(t *testing.T) {
	port, err := acctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("http://ops:pa55word@127.0.0.1:%d/hook?token=s3cret", port)
	err = New(Options{}).Send(context.Background(), target, failure())
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if !Retryable(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want a retryable connection error", err)
	}
	for _, secret := range []string{"pa55word", "s3cret", "ops"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, err)
		}
	}
}

func TestSend_WebhookSecretsNeverAppearInErrorsOrLogs(t *testing.T) {
	h := newHook(t, http.StatusInternalServerError)
	var logs bytes.Buffer
	s := New(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	base := strings.Replace(h.URL, "http://", "http://alice:pa55word@", 1)
	target := base + "/services/T0/B0/s3cretpath?token=s3cretq&x=1"

	err := s.Send(context.Background(), target, failure())
	if err == nil {
		t.Fatal("Send succeeded against a 500")
	}
	for _, secret := range []string{"alice", "pa55word", "s3cretpath", "s3cretq"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, err)
		}
	}
	wantTarget := h.URL + "/services/REDACTED?token=REDACTED&x=REDACTED"
	if !strings.Contains(err.Error(), wantTarget) {
		t.Errorf("error %q does not name the redacted target %q", err, wantTarget)
	}

	h.status = http.StatusOK
	if err := s.Send(context.Background(), target, failure()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"notification sent"`) || !strings.Contains(logs.String(), "services/REDACTED") {
		t.Errorf("log lacks the sent line with the redacted target: %s", logs.String())
	}
	for _, secret := range []string{"pa55word", "s3cretpath", "s3cretq"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log leaks %q: %s", secret, logs.String())
		}
	}
}

func TestSend_BadTargetsFailWithoutRetryOrLeak(t *testing.T) {
	tests := []struct{ target, want string }{
		{"", "is empty"},
		{"arn:aws:sns:us-east-1:123:alerts", "is not an SNS topic ARN"},
		{"arn:aws:sqs:us-east-1:123456789012:alerts", "is not an SNS topic ARN"},
		{"arn:aws:sns:us-east-1:123456789012:", "is not an SNS topic ARN"},
		{"arn:aws:sns:us-east-1:123456789012:a?token=s3cret", "is not an SNS topic ARN"},
		{"ftp://bob:s3cret@files.example.com/drop", `has scheme "ftp"`},
		{"mailto:ops@example.com?body=s3cret", `has scheme "mailto"`},
		{"hooks.example.com/s3cret", "has no scheme"},
		{"https:///s3cret", "has no host"},
		{"http://[::1%zzs3cret/", "neither an SNS topic ARN nor a valid URL"},
	}
	for _, tt := range tests {
		err := New(Options{}).Send(context.Background(), tt.target, failure())
		if err == nil {
			t.Errorf("Send(%q) succeeded", tt.target)
			continue
		}
		if Retryable(err) {
			t.Errorf("Send(%q): Retryable = true", tt.target)
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "web_logs_daily") {
			t.Errorf("Send(%q) err = %q, want it to contain %q and the pipeline", tt.target, err, tt.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Send(%q) error leaks the secret: %v", tt.target, err)
		}
		if Validate(tt.target) == nil {
			t.Errorf("Validate(%q) = nil", tt.target)
		}
	}
}

func TestSend_BadMessagesAreNotRetryable(t *testing.T) {
	h := newHook(t, http.StatusOK)
	for _, m := range []Message{
		{Event: "exploded", Pipeline: "p"},
		{Event: EventFailure},
	} {
		err := New(Options{}).Send(context.Background(), h.URL, m)
		if err == nil || Retryable(err) {
			t.Errorf("Send(%+v) err = %v, want a non-retryable error", m, err)
		}
	}
	if len(h.reqs) != 0 {
		t.Errorf("webhook got %d requests for invalid messages", len(h.reqs))
	}
}

func TestValidate_AcceptsTopicsAndWebhooks(t *testing.T) {
	tests := map[string]string{
		"arn:aws:sns:us-east-1:123456789012:alerts":           KindSNS,
		"arn:aws:sns:eu-west-1:123456789012:alerts.fifo":      KindSNS,
		"arn:aws-cn:sns:cn-north-1:123456789012:a_b-c":        KindSNS,
		"arn:aws-us-gov:sns:us-gov-west-1:123456789012:alert": KindSNS,
		"https://hooks.slack.com/services/T0/B0/XYZ":          KindWebhook,
		"http://127.0.0.1:8080/hook?token=abc":                KindWebhook,
	}
	for target, want := range tests {
		got, err := TargetKind(target)
		if err != nil || got != want {
			t.Errorf("TargetKind(%q) = %q, %v; want %q", target, got, err, want)
		}
		if err := Validate(target); err != nil {
			t.Errorf("Validate(%q) = %v", target, err)
		}
	}
}

func TestRedactTarget(t *testing.T) {
	tests := map[string]string{
		"arn:aws:sns:us-east-1:123456789012:alerts":                  "arn:aws:sns:us-east-1:123456789012:alerts",
		"https://u:p@hooks.example.com/a/b/c?token=t&team=x#frag":    "https://hooks.example.com/a/REDACTED?team=REDACTED&token=REDACTED",
		"https://hooks.slack.com/services/T000/B000/XXXX":            "https://hooks.slack.com/services/REDACTED",
		"https://hooks.example.com/hook":                             "https://hooks.example.com/hook",
		"https://hooks.example.com/hook/":                            "https://hooks.example.com/hook",
		"https://hooks.example.com":                                  "https://hooks.example.com",
		"http://127.0.0.1:9000/x?s3cret":                             "http://127.0.0.1:9000/x?REDACTED",
		"http://127.0.0.1:9000/x?a=1&s3cret":                         "http://127.0.0.1:9000/x?REDACTED",
		"mailto:ops@example.com":                                     "mailto:REDACTED",
		"not a url at all":                                           "REDACTED",
		"http://[::1%zz/":                                            "REDACTED",
		"https://discord.com/api/webhooks/123/tok":                   "https://discord.com/api/REDACTED",
		"https://hooks.example.com/a%20b/c":                          "https://hooks.example.com/a%20b/REDACTED",
		"arn:aws:sns:us-east-1:123:not-valid?token=s3cret-in-an-arn": "arn:REDACTED?token=REDACTED",
		"https:///s3cret/x":                                          "https:///REDACTED",
	}
	for in, want := range tests {
		if got := RedactTarget(in); got != want {
			t.Errorf("RedactTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryable_OtherErrors(t *testing.T) {
	if Retryable(nil) || Retryable(errors.New("boom")) {
		t.Error("Retryable is true for an error Send did not return")
	}
	h := newHook(t, http.StatusServiceUnavailable)
	err := New(Options{}).Send(context.Background(), h.URL, failure())
	if !Retryable(fmt.Errorf("notify: %w", err)) {
		t.Error("Retryable does not see through wrapping")
	}
}

// Issue 11, item 2: a message leaves the runner, so the registry's secrets are scrubbed from it
// (an activity's error may quote a driver's message) and from the error of a failed send.
func TestSend_ScrubsSecretsFromTheMessageAndTheError(t *testing.T) {
	secrets := redact.New()
	secrets.Add("db-p@ss/w0rdX9")
	h := newHook(t, http.StatusInternalServerError)
	m := failure()
	m.Error = `connecting to ss/w0rdX9@127.0.0.1:5432/db: password db-p@ss/w0rdX9 refused`
	err := New(Options{Secrets: secrets}).Send(context.Background(), h.URL+"/hooks/sluice", m)
	if err == nil {
		t.Fatal("a 500 answer is not an error")
	}
	if len(h.bodies) != 1 {
		t.Fatalf("webhook got %d requests, want 1", len(h.bodies))
	}
	for _, text := range []string{string(h.bodies[0]), err.Error()} {
		if strings.Contains(text, "p@ss") || strings.Contains(text, "w0rdX9") {
			t.Errorf("the secret leaves the runner: %s", text)
		}
	}
	if !strings.Contains(string(h.bodies[0]), `connecting to xxxxx@127.0.0.1:5432/db: password xxxxx refused`) {
		t.Errorf("body = %s", h.bodies[0])
	}
	if !Retryable(err) {
		t.Error("scrubbing lost the retry decision")
	}
}

func TestTargetSecrets_AreWhatRedactTargetHides(t *testing.T) {
	for target, want := range map[string][]string{
		"https://hooks.slack.com/services/T000/B000/XXXX":  {"T000/B000/XXXX", "T000", "B000", "XXXX"},
		"https://u:t%40k@hooks.example.com/hook?token=abc": {"u", "t@k", "abc", "token=abc"},
		"https://u:to/ken@hooks.example.com/hook":          {"u", "to/ken"},
		"https://hooks.example.com/hook#frag-secret":       {"frag-secret"},
		"arn:aws:sns:us-east-1:123456789012:alerts":        nil,
	} {
		got := TargetSecrets(target)
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("TargetSecrets(%q) = %q, lacks %q", target, got, w)
			}
		}
		if want == nil && len(got) != 0 {
			t.Errorf("TargetSecrets(%q) = %q, want none", target, got)
		}
		for _, g := range got {
			if g == "hook" || g == "services" || strings.Contains(g, "hooks.") {
				t.Errorf("TargetSecrets(%q) holds %q, which RedactTarget shows", target, g)
			}
		}
	}
}
