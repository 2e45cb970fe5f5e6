package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/metrics"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// fixedSource returns fixed values, standing in for the runner's database (wired elsewhere).
type fixedSource struct {
	depth       map[string]int
	depthErr    error
	fresh       []metrics.PipelineFreshness
	freshErr    error
	sawDeadline bool
}

func (s *fixedSource) QueueDepth(ctx context.Context) (map[string]int, error) {
	_, s.sawDeadline = ctx.Deadline()
	return s.depth, s.depthErr
}

func (s *fixedSource) Freshness(context.Context) ([]metrics.PipelineFreshness, error) {
	return s.fresh, s.freshErr
}

var now = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRunsAndAttempts_CountedByLabels(t *testing.T) {
	m := metrics.New(nil, clock, metrics.WithLogger(quietLogger()))
	m.RunStarted("orders")
	m.RunStarted("orders")
	m.RunStarted("clicks")
	m.RunFinished("orders", status.RunSuccess, 90*time.Second)
	m.RunFinished("orders", status.RunFailed, 10*time.Second)
	m.RunFinished("orders", status.RunSuccess, 30*time.Second)
	m.AttemptFinished("orders", "load", "redshift_copy", metrics.OutcomeRetry, 2*time.Second)
	m.AttemptFinished("orders", "load", "redshift_copy", metrics.OutcomeSuccess, 7*time.Second)
	m.AttemptFinished("orders", "extract", "shell", metrics.OutcomeFailed, 200*time.Millisecond)

	want := `
# HELP sluice_runs_started_total Pipeline runs that started executing, by pipeline.
# TYPE sluice_runs_started_total counter
sluice_runs_started_total{pipeline="clicks"} 1
sluice_runs_started_total{pipeline="orders"} 2
# HELP sluice_runs_total Pipeline runs that finished, by pipeline and final state (success or failed).
# TYPE sluice_runs_total counter
sluice_runs_total{pipeline="orders",state="failed"} 1
sluice_runs_total{pipeline="orders",state="success"} 2
# HELP sluice_attempts_total Activity attempts that finished, by pipeline, activity, activity kind and outcome (success, retry, failed).
# TYPE sluice_attempts_total counter
sluice_attempts_total{activity="extract",kind="shell",outcome="failed",pipeline="orders"} 1
sluice_attempts_total{activity="load",kind="redshift_copy",outcome="retry",pipeline="orders"} 1
sluice_attempts_total{activity="load",kind="redshift_copy",outcome="success",pipeline="orders"} 1
# HELP sluice_attempt_duration_seconds Wall time of finished activity attempts, by activity kind.
# TYPE sluice_attempt_duration_seconds histogram
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="0.1"} 0
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="0.5"} 0
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="1"} 0
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="5"} 1
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="15"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="30"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="60"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="120"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="300"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="600"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="1800"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="3600"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="7200"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="14400"} 2
sluice_attempt_duration_seconds_bucket{kind="redshift_copy",le="+Inf"} 2
sluice_attempt_duration_seconds_sum{kind="redshift_copy"} 9
sluice_attempt_duration_seconds_count{kind="redshift_copy"} 2
sluice_attempt_duration_seconds_bucket{kind="shell",le="0.1"} 0
sluice_attempt_duration_seconds_bucket{kind="shell",le="0.5"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="1"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="5"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="15"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="30"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="60"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="120"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="300"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="600"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="1800"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="3600"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="7200"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="14400"} 1
sluice_attempt_duration_seconds_bucket{kind="shell",le="+Inf"} 1
sluice_attempt_duration_seconds_sum{kind="shell"} 0.2
sluice_attempt_duration_seconds_count{kind="shell"} 1
`
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"sluice_runs_started_total", "sluice_runs_total", "sluice_attempts_total", "sluice_attempt_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunDuration_HistogramByPipelineAndState(t *testing.T) {
	m := metrics.New(nil, clock, metrics.WithLogger(quietLogger()))
	m.RunFinished("orders", status.RunSuccess, 90*time.Second)
	m.RunFinished("orders", status.RunSuccess, 2*time.Hour)

	n, err := testutil.GatherAndCount(m.Registry(), "sluice_run_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("sluice_run_duration_seconds series = %d, want 1 (one pipeline, one state)", n)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "sluice_run_duration_seconds" {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		if got, want := h.GetSampleCount(), uint64(2); got != want {
			t.Errorf("count = %d, want %d", got, want)
		}
		if got, want := h.GetSampleSum(), 90.0+7200; got != want {
			t.Errorf("sum = %v, want %v", got, want)
		}
		cumulative := map[float64]uint64{}
		for _, b := range h.GetBucket() {
			cumulative[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		for le, want := range map[float64]uint64{60: 0, 120: 1, 3600: 1, 7200: 2, 57600: 2} {
			if cumulative[le] != want {
				t.Errorf("bucket le=%v = %d, want %d", le, cumulative[le], want)
			}
		}
		return
	}
	t.Fatal("sluice_run_duration_seconds not gathered")
}

func TestScrape_QueueDepthAndFreshnessFromSource(t *testing.T) {
	src := &fixedSource{
		depth: map[string]int{status.ActivityQueued: 4, status.ActivityWaiting: 2, status.ActivityPending: 9},
		fresh: []metrics.PipelineFreshness{
			{Pipeline: "orders", Newest: now.Add(-3 * time.Hour)},
			// Listed twice: the newest wins instead of a duplicate-series scrape failure.
			{Pipeline: "clicks", Newest: now.Add(-2 * time.Hour)},
			{Pipeline: "clicks", Newest: now.Add(-30 * time.Minute)},
			// Never succeeded: no series.
			{Pipeline: "new_one"},
			// Clock skew: the age is clamped to 0, the timestamp is kept as it is.
			{Pipeline: "skewed", Newest: now.Add(10 * time.Second)},
		},
	}
	m := metrics.New(src, clock, metrics.WithLogger(quietLogger()))
	want := `
# HELP sluice_queue_depth Activity instances waiting, by state: queued (waiting for a worker), retrying (waiting for the next attempt), waiting (a wait_for precondition does not hold yet).
# TYPE sluice_queue_depth gauge
sluice_queue_depth{state="pending"} 9
sluice_queue_depth{state="queued"} 4
sluice_queue_depth{state="retrying"} 0
sluice_queue_depth{state="waiting"} 2
# HELP sluice_freshness_age_seconds Seconds from the end of the newest successfully processed interval of a pipeline to now (0 when that end is in the future).
# TYPE sluice_freshness_age_seconds gauge
sluice_freshness_age_seconds{pipeline="clicks"} 1800
sluice_freshness_age_seconds{pipeline="orders"} 10800
sluice_freshness_age_seconds{pipeline="skewed"} 0
# HELP sluice_freshness_timestamp_seconds End of the newest successfully processed interval of a pipeline, as a Unix timestamp.
# TYPE sluice_freshness_timestamp_seconds gauge
sluice_freshness_timestamp_seconds{pipeline="clicks"} 1795001400
sluice_freshness_timestamp_seconds{pipeline="orders"} 1794992400
sluice_freshness_timestamp_seconds{pipeline="skewed"} 1795003210
# HELP sluice_scrape_errors_total Scrapes whose values from the runner's database could not be read, by source (queue_depth or freshness); those values are missing from that scrape.
# TYPE sluice_scrape_errors_total counter
sluice_scrape_errors_total{source="freshness"} 0
sluice_scrape_errors_total{source="queue_depth"} 0
`
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"sluice_queue_depth", "sluice_freshness_age_seconds", "sluice_freshness_timestamp_seconds", "sluice_scrape_errors_total")
	if err != nil {
		t.Fatal(err)
	}
	if !src.sawDeadline {
		t.Error("QueueDepth got a context without a deadline: a slow database could hang the scrape")
	}
}

func TestScrape_FreshnessAgeFollowsTheClock(t *testing.T) {
	at := now
	src := &fixedSource{fresh: []metrics.PipelineFreshness{{Pipeline: "orders", Newest: now.Add(-time.Hour)}}}
	m := metrics.New(src, func() time.Time { return at }, metrics.WithLogger(quietLogger()))
	want := func(age string) string {
		return `
# HELP sluice_freshness_age_seconds Seconds from the end of the newest successfully processed interval of a pipeline to now (0 when that end is in the future).
# TYPE sluice_freshness_age_seconds gauge
sluice_freshness_age_seconds{pipeline="orders"} ` + age + "\n"
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("3600")), "sluice_freshness_age_seconds"); err != nil {
		t.Fatal(err)
	}
	at = now.Add(90 * time.Minute)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("9000")), "sluice_freshness_age_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestScrape_SourceErrorIsCountedAndLoggedNotFatal(t *testing.T) {
	src := &fixedSource{
		depthErr: errors.New("queue depth of runner database: connection refused"),
		fresh:    []metrics.PipelineFreshness{{Pipeline: "orders", Newest: now.Add(-time.Hour)}},
	}
	var logs bytes.Buffer
	m := metrics.New(src, clock, metrics.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	m.RunStarted("orders")

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for scrape := 1; scrape <= 2; scrape++ {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape status = %d, want 200 despite the source error; body:\n%s", resp.StatusCode, body)
		}
		for _, s := range []string{`sluice_runs_started_total{pipeline="orders"} 1`, `sluice_freshness_age_seconds{pipeline="orders"} 3600`, "go_goroutines", "process_"} {
			if !strings.Contains(string(body), s) {
				t.Errorf("scrape lacks %q", s)
			}
		}
		if strings.Contains(string(body), "sluice_queue_depth{") {
			t.Error("scrape has sluice_queue_depth although the source failed")
		}
		// Each scrape's own error is in its count.
		for _, s := range []string{
			fmt.Sprintf(`sluice_scrape_errors_total{source="queue_depth"} %d`, scrape),
			`sluice_scrape_errors_total{source="freshness"} 0`,
		} {
			if !strings.Contains(string(body), s+"\n") {
				t.Errorf("scrape %d lacks %q", scrape, s)
			}
		}
	}
	if !strings.Contains(logs.String(), "connection refused") || !strings.Contains(logs.String(), "source=queue_depth") {
		t.Errorf("log does not name the failed source and its error:\n%s", logs.String())
	}
}

func TestScrape_FreshnessErrorKeepsQueueDepth(t *testing.T) {
	src := &fixedSource{depth: map[string]int{status.ActivityRetrying: 1}, freshErr: context.DeadlineExceeded}
	m := metrics.New(src, clock, metrics.WithLogger(quietLogger()))
	want := `
# HELP sluice_queue_depth Activity instances waiting, by state: queued (waiting for a worker), retrying (waiting for the next attempt), waiting (a wait_for precondition does not hold yet).
# TYPE sluice_queue_depth gauge
sluice_queue_depth{state="queued"} 0
sluice_queue_depth{state="retrying"} 1
sluice_queue_depth{state="waiting"} 0
# HELP sluice_scrape_errors_total Scrapes whose values from the runner's database could not be read, by source (queue_depth or freshness); those values are missing from that scrape.
# TYPE sluice_scrape_errors_total counter
sluice_scrape_errors_total{source="freshness"} 1
sluice_scrape_errors_total{source="queue_depth"} 0
`
	// One Gather: the scrape's own error is already in its count.
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"sluice_queue_depth", "sluice_freshness_age_seconds", "sluice_scrape_errors_total")
	if err != nil {
		t.Fatal(err)
	}
}

func TestNilSource_NoScrapeTimeGauges(t *testing.T) {
	m := metrics.New(nil, nil)
	n, err := testutil.GatherAndCount(m.Registry(), "sluice_queue_depth", "sluice_freshness_age_seconds", "sluice_freshness_timestamp_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("got %d scrape-time series without a source, want 0", n)
	}
}

func TestInvalidUTF8LabelDoesNotPanic(t *testing.T) {
	src := &fixedSource{
		depth: map[string]int{"bad\xff": 1, "bad\xfe": 2},
		fresh: []metrics.PipelineFreshness{{Pipeline: "p\xff", Newest: now.Add(-time.Minute)}},
	}
	m := metrics.New(src, clock, metrics.WithLogger(quietLogger()))
	m.RunStarted("p\xff")
	m.RunFinished("p\xff", "x\xff", time.Second)
	m.AttemptFinished("p\xff", "a\xff", "k\xff", "o\xff", time.Second)
	want := "# HELP sluice_queue_depth Activity instances waiting, by state: queued (waiting for a worker), retrying (waiting for the next attempt), waiting (a wait_for precondition does not hold yet).\n" +
		"# TYPE sluice_queue_depth gauge\n" +
		"sluice_queue_depth{state=\"bad\uFFFD\"} 3\n" +
		"sluice_queue_depth{state=\"queued\"} 0\n" +
		"sluice_queue_depth{state=\"retrying\"} 0\n" +
		"sluice_queue_depth{state=\"waiting\"} 0\n" +
		"# HELP sluice_runs_started_total Pipeline runs that started executing, by pipeline.\n" +
		"# TYPE sluice_runs_started_total counter\n" +
		"sluice_runs_started_total{pipeline=\"p\uFFFD\"} 1\n"
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_queue_depth", "sluice_runs_started_total"); err != nil {
		t.Fatal(err)
	}
}

func TestLint_NoProblems(t *testing.T) {
	src := &fixedSource{
		depth: map[string]int{status.ActivityQueued: 1},
		fresh: []metrics.PipelineFreshness{{Pipeline: "orders", Newest: now.Add(-time.Hour)}},
	}
	m := metrics.New(src, clock, metrics.WithLogger(quietLogger()))
	m.RunStarted("orders")
	m.RunFinished("orders", status.RunSuccess, time.Minute)
	m.AttemptFinished("orders", "load", "sql", metrics.OutcomeSuccess, time.Second)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
