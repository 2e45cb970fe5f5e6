// Package notify tells people about pipeline runs: a failure, a success, or an interval that is
// late. A pipeline's notify block names targets — SNS topic ARNs or http(s) webhook URLs — and the
// engine calls Send once per target; retrying a retryable failure (Retryable) is its business.
//
// Both kinds of target receive the same JSON document (for SNS, as the Message, with Subject set
// to Subject(m) and the message attributes "event" and "pipeline"; for a webhook, as the body of
// a POST with Content-Type application/json and User-Agent sluice-runner). Its fields are stable:
// new ones may be added, none is renamed or removed.
//
//	{
//	  "format":         "sluice/notification.v1",
//	  "event":          "failure" | "success" | "late",
//	  "pipeline":       "web_logs_daily",
//	  "owner":          "data-team",                      // absent when the pipeline has none
//	  "run_id":         42,                               // absent when there is no run (late)
//	  "state":          "success" | "failed",             // the run's state (absent for late)
//	  "version":        "sha256:…",                       // the pipeline version the run ran
//	  "outputs":        {"date": "2026-11-18"},           // success: the run's parameters, if any
//	  "interval_start": "2026-11-18T00:00:00Z",           // RFC 3339, in the schedule's zone
//	  "interval_end":   "2026-11-19T00:00:00Z",
//	  "activity":       "load",                           // failure: the failed activity, if any
//	  "error":          "COPY failed: ...",               // failure: short reason, if any
//	  "late_seconds":   8100,                             // late: time since the interval end
//	  "status_url":     "https://runner.example.com/...", // absent unless configured
//	  "subject":        "[sluice] web_logs_daily failed: 2026-11-18 (load)",
//	  "text":           "Pipeline web_logs_daily failed for the interval ..."
//	}
//
// "text" makes the body usable as is by chat webhooks that display a "text" field.
package notify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// Events a notification is sent for; they match the notify block's on_failure, on_success and
// on_late.
const (
	EventFailure = "failure"
	EventSuccess = "success"
	EventLate    = "late"
)

// DefaultHTTPTimeout bounds one webhook request when Options.HTTP is nil.
const DefaultHTTPTimeout = 10 * time.Second

// Message is what happened, to be told to one target.
type Message struct {
	Event    string // EventFailure, EventSuccess or EventLate
	Pipeline string
	Owner    string
	// RunID is the run concerned; zero when there is none (an interval late before any run).
	RunID                      int64
	IntervalStart, IntervalEnd time.Time
	// Activity is the failed activity, if any.
	Activity string
	// Error is a short reason, already free of secrets.
	Error string
	// Late is, for EventLate, how long after the interval end the notification is sent.
	Late time.Duration
	// StatusURL optionally links to the runner's status page.
	StatusURL string
	// Version is the pipeline version the run ran.
	Version string
	// Outputs are the run's parameters (success): what a downstream pipeline started by this
	// notification reads as .Event.Upstream.Outputs.
	Outputs map[string]string
}

// SNSAPI is the part of the SNS client Send uses (*sns.Client satisfies it).
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Options configure a Sender. Zero values are usable defaults.
type Options struct {
	// SNS publishes to topic targets; nil makes every SNS target fail with a clear error.
	SNS SNSAPI
	// HTTP posts to webhook targets; nil means a client with DefaultHTTPTimeout that does not
	// follow redirects (a redirected POST would arrive as a GET, or not at all).
	HTTP *http.Client
	// Logger receives one line per notification sent; nil discards them.
	Logger *slog.Logger
	// Secrets are scrubbed from every message before it is sent and from every error Send
	// returns; nil scrubs nothing.
	Secrets redact.Scrubber
}

// Sender delivers notifications. It is safe for concurrent use.
type Sender struct {
	sns     SNSAPI
	http    *http.Client
	log     *slog.Logger
	secrets redact.Scrubber
}

// New returns a Sender with opts' defaults filled in.
func New(opts Options) *Sender {
	s := &Sender{sns: opts.SNS, http: opts.HTTP, log: opts.Logger, secrets: opts.Secrets}
	if s.http == nil {
		s.http = &http.Client{
			Timeout:       DefaultHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Send delivers m to one target: an SNS topic ARN or an http(s) webhook URL. An error names the
// event, the pipeline and the target (a webhook URL redacted, see RedactTarget), and Retryable
// tells whether sending again may help.
func (s *Sender) Send(ctx context.Context, target string, m Message) error {
	if s.secrets == nil {
		return s.send(ctx, target, m)
	}
	// A message leaves the runner: whatever its fields quote (an activity's error quoting a
	// driver's message) must hold no secret, and neither may the error, which is logged and
	// stored with the notification job.
	for _, f := range []*string{&m.Error, &m.Activity, &m.Owner, &m.Pipeline, &m.StatusURL} {
		*f = s.secrets.Scrub(*f)
	}
	return s.secrets.Error(s.send(ctx, target, m))
}

func (s *Sender) send(ctx context.Context, target string, m Message) error {
	kind, err := TargetKind(target)
	if err != nil {
		return &sendError{msg: m, err: err} // err names the target, redacted
	}
	if err := checkMessage(m); err != nil {
		return &sendError{msg: m, target: RedactTarget(target), err: err}
	}
	doc, err := JSON(m)
	if err != nil {
		return &sendError{msg: m, target: RedactTarget(target), err: err}
	}
	if kind == KindSNS {
		err = s.publish(ctx, target, m, doc)
	} else {
		err = s.post(ctx, target, m, doc)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "notification sent",
		slog.String("event", m.Event), slog.String("pipeline", m.Pipeline),
		slog.Int64("run_id", m.RunID), slog.String("target", RedactTarget(target)))
	return nil
}

func checkMessage(m Message) error {
	switch m.Event {
	case EventFailure, EventSuccess, EventLate:
	default:
		return fmt.Errorf("unknown event %q: want %s, %s or %s", m.Event, EventFailure, EventSuccess, EventLate)
	}
	if m.Pipeline == "" {
		return errors.New("the message names no pipeline")
	}
	return nil
}

// publish sends doc to an SNS topic. The call goes to the topic's own region, whatever region the
// client was made for: a pipeline may alert to a topic in another region.
func (s *Sender) publish(ctx context.Context, arn string, m Message, doc []byte) error {
	if s.sns == nil {
		return &sendError{msg: m, target: arn,
			err: errors.New("no SNS client is configured: give the runner AWS settings to publish to SNS topics")}
	}
	region := strings.Split(arn, ":")[3]
	_, err := s.sns.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(arn),
		Subject:  aws.String(Subject(m)),
		Message:  aws.String(string(doc)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"event":    {DataType: aws.String("String"), StringValue: aws.String(m.Event)},
			"pipeline": {DataType: aws.String("String"), StringValue: aws.String(m.Pipeline)},
		},
	}, func(o *sns.Options) { o.Region = region })
	if err != nil {
		return &sendError{msg: m, target: arn, err: fmt.Errorf("SNS Publish: %w", err), retryable: snsRetryable(err)}
	}
	return nil
}

// snsRetryable: what the SDK's own retryer would retry (throttling, 5xx, transport errors) and
// any other server fault may pass; a client fault (no such topic, access denied, bad input)
// will not.
func snsRetryable(err error) bool {
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorFault() == smithy.FaultServer
	}
	return !errors.Is(err, context.Canceled)
}

// post sends doc to a webhook. 2xx is success; 408, 429 and 5xx may pass on retry; any other
// answer will not.
func (s *Sender) post(ctx context.Context, target string, m Message, doc []byte) error {
	redacted := RedactTarget(target)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(doc))
	if err != nil {
		// NewRequest errors quote the URL: replace them.
		return &sendError{msg: m, target: redacted, err: errors.New("building the webhook request failed")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-runner")
	resp, err := s.http.Do(req)
	if err != nil {
		return &sendError{msg: m, target: redacted, err: transportError(err), retryable: transportRetryable(err)}
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused. The body is never shown: a server may echo
	// the request URL, secret path and all.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	code := resp.StatusCode
	retryable := code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
	reason := fmt.Sprintf("the webhook answered HTTP %d %s", code, http.StatusText(code))
	if code >= 300 && code < 400 {
		reason += " (redirects are not followed: use the final URL as the target)"
	}
	return &sendError{msg: m, target: redacted, err: errors.New(reason), retryable: retryable}
}

// transportError replaces the *url.Error wrapper, whose text holds the full URL (query string
// and all), with our own words around its cause: a timeout, a refused connection, a TLS failure.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return fmt.Errorf("the webhook did not answer in time: %w", scrub(err))
	}
	return fmt.Errorf("the webhook request failed: %w", scrub(err))
}

// scrub keeps the error chain (errors.Is still works) but hides a cause whose text still quotes a
// URL, as an http.Client's CheckRedirect error may.
func scrub(err error) error {
	if strings.Contains(err.Error(), "://") {
		return &scrubbed{err: err}
	}
	return err
}

type scrubbed struct{ err error }

func (e *scrubbed) Error() string { return "request failed (details withheld: they quote the URL)" }
func (e *scrubbed) Unwrap() error { return e.err }

// transportRetryable: timeouts, refused or reset connections and DNS failures may pass later;
// a certificate the runner does not trust will not, and neither will a cancelled context.
func transportRetryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &hostname) {
		return false
	}
	return true
}

// sendError is every error Send returns.
type sendError struct {
	msg       Message
	target    string // already redacted; empty when err names it
	err       error
	retryable bool
}

func (e *sendError) Error() string {
	hint := "retrying will not help"
	if e.retryable {
		hint = "retrying may help"
	}
	what := "notification"
	if e.msg.Event != "" {
		what = e.msg.Event + " notification"
	}
	if e.msg.Pipeline != "" {
		what += " of pipeline " + e.msg.Pipeline
	}
	if e.target != "" {
		what += " to " + e.target
	}
	return fmt.Sprintf("sending the %s: %v (%s)", what, e.err, hint)
}

func (e *sendError) Unwrap() error { return e.err }

// Retryable reports whether sending again may succeed: true for throttling, server errors,
// timeouts and network failures; false for a bad target, a missing SNS client, a rejected request
// or a nil error.
func Retryable(err error) bool {
	var se *sendError
	if errors.As(err, &se) {
		return se.retryable
	}
	return false
}
