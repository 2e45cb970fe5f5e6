// Package metrics holds the runner's Prometheus metrics: counters and histograms the engine
// updates as runs and attempts finish, and gauges computed at scrape time from the runner's
// database (queue depth, freshness). Everything lives in the runner's own registry, never the
// global one, so tests and several runners in one process do not share state.
//
// Metrics and their labels:
//
//	sluice_runs_started_total{pipeline}                      runs that started
//	sluice_runs_total{pipeline,state}                        runs that finished, by final state
//	sluice_run_duration_seconds{pipeline,state}              histogram of finished runs' durations
//	sluice_attempts_total{pipeline,activity,kind,outcome}    finished activity attempts
//	sluice_attempt_duration_seconds{kind}                    histogram of attempt durations
//	sluice_queue_depth{state}                                activity instances waiting (scrape time)
//	sluice_freshness_timestamp_seconds{pipeline}             end of the newest successful interval
//	sluice_freshness_age_seconds{pipeline}                   now minus that end
//	sluice_scrape_errors_total{source}                       Source calls that failed at scrape
//	sluice_ticks_total                                       scheduler ticks that ended
//	sluice_tick_failures_total                               scheduler ticks that failed
//	sluice_registry_unreadable_documents                     pipeline documents the last tick could not read
//
// plus the standard go_* and process_* metrics.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Source gives the values computed at scrape time. Both methods are called once per scrape, with
// a context bounded by the scrape timeout (WithScrapeTimeout).
type Source interface {
	// QueueDepth counts the activity instances waiting, keyed by activity instance state:
	// status.ActivityQueued (a job waits for a worker), status.ActivityRetrying (an attempt
	// failed, the next is scheduled) and status.ActivityWaiting (a wait_for precondition does
	// not hold yet). Those three are always exported, as 0 when missing from the map; other keys
	// a source chooses to return are exported as they are.
	QueueDepth(ctx context.Context) (map[string]int, error)
	// Freshness gives, per pipeline, the end of its newest successful interval. Pipelines that
	// never succeeded are left out (or given a zero Newest): they have no freshness series, so
	// alert on them with absent() or on sluice_runs_total instead.
	Freshness(ctx context.Context) ([]PipelineFreshness, error)
}

// PipelineFreshness is the newest data of one pipeline.
type PipelineFreshness struct {
	Pipeline string
	// Newest is the end of the pipeline's newest successful interval.
	Newest time.Time
}

// Attempt outcomes for AttemptFinished.
const (
	OutcomeSuccess = "success" // the attempt succeeded
	OutcomeRetry   = "retry"   // the attempt failed and another is scheduled
	OutcomeFailed  = "failed"  // the attempt failed and the activity failed with it
)

// Outcomes lists the attempt outcomes.
func Outcomes() []string { return []string{OutcomeSuccess, OutcomeRetry, OutcomeFailed} }

// QueueStates lists the activity instance states counted as waiting in sluice_queue_depth.
func QueueStates() []string {
	return []string{status.ActivityQueued, status.ActivityRetrying, status.ActivityWaiting}
}

// Scrape error sources, the values of sluice_scrape_errors_total's label "source".
const (
	SourceQueueDepth = "queue_depth"
	SourceFreshness  = "freshness"
)

// DefaultScrapeTimeout bounds the Source calls of one scrape: Prometheus' own default scrape
// timeout is 10s, and a slow database must not make the whole scrape fail.
const DefaultScrapeTimeout = 5 * time.Second

// Run durations range from seconds (a small SQL pipeline) to many hours (a backfill of a large
// EMR job); attempts from sub-second checks to long EMR steps.
var (
	runBuckets     = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 57600}
	attemptBuckets = []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400}
)

// Metrics is the runner's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger

	runsStarted     *prometheus.CounterVec
	runsFinished    *prometheus.CounterVec
	runDuration     *prometheus.HistogramVec
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	scrapeErrors    *prometheus.CounterVec
	ticks           prometheus.Counter
	tickFailures    prometheus.Counter
	unreadable      prometheus.Gauge
}

// Option changes a default of New.
type Option func(*options)

type options struct {
	logger        *slog.Logger
	scrapeTimeout time.Duration
}

// WithLogger sets where Source errors are logged; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithScrapeTimeout bounds the Source calls of one scrape; the default is DefaultScrapeTimeout.
func WithScrapeTimeout(d time.Duration) Option { return func(o *options) { o.scrapeTimeout = d } }

// New returns the runner's metrics in a new registry. src may be nil (a command without a
// database): then the scrape-time gauges are not exported. now is the clock of the freshness
// age; nil means time.Now.
func New(src Source, now func() time.Time, opts ...Option) *Metrics {
	o := options{logger: slog.Default(), scrapeTimeout: DefaultScrapeTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.scrapeTimeout <= 0 {
		o.scrapeTimeout = DefaultScrapeTimeout
	}
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		logger: o.logger,
		runsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_runs_started_total",
			Help: "Pipeline runs that started executing, by pipeline.",
		}, []string{"pipeline"}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_runs_total",
			Help: "Pipeline runs that finished, by pipeline and final state (success or failed).",
		}, []string{"pipeline", "state"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_run_duration_seconds",
			Help:    "Wall time of finished pipeline runs from start to finish, by pipeline and final state.",
			Buckets: runBuckets,
		}, []string{"pipeline", "state"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_attempts_total",
			Help: "Activity attempts that finished, by pipeline, activity, activity kind and outcome (success, retry, failed).",
		}, []string{"pipeline", "activity", "kind", "outcome"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_attempt_duration_seconds",
			Help:    "Wall time of finished activity attempts, by activity kind.",
			Buckets: attemptBuckets,
		}, []string{"kind"}),
		scrapeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_scrape_errors_total",
			Help: "Scrapes whose values from the runner's database could not be read, by source (queue_depth or freshness); those values are missing from that scrape.",
		}, []string{"source"}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_ticks_total",
			Help: "Scheduler ticks (read the registry, create due runs, start runs) that ended, failed or not.",
		}),
		tickFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_tick_failures_total",
			Help: "Scheduler ticks that failed (registry or state database unreadable, ...); the status page shows the last error. Alert on its rate: a runner whose ticks fail schedules nothing.",
		}),
		unreadable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_registry_unreadable_documents",
			Help: "Documents under pipelines/ that the last tick could not read (each named on the status page); the other pipelines were scheduled.",
		}),
	}
	// Both sources exist from the start, so a rate() over them is defined before the first error.
	m.scrapeErrors.WithLabelValues(SourceQueueDepth)
	m.scrapeErrors.WithLabelValues(SourceFreshness)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runsStarted, m.runsFinished, m.runDuration, m.attempts, m.attemptDuration,
		m.ticks, m.tickFailures, m.unreadable,
	)
	if src == nil {
		m.reg.MustRegister(m.scrapeErrors)
	} else {
		// The source collector collects the error counter itself, after its Source calls, so a
		// scrape's own error is in that scrape's count.
		m.reg.MustRegister(&sourceCollector{m: m, src: src, now: now, timeout: o.scrapeTimeout})
	}
	return m
}

// Registry is the registry holding every metric, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats. A collector's error does not
// fail the scrape: the metrics that could be gathered are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	}))
}

// RunStarted counts a run of pipeline that started executing.
func (m *Metrics) RunStarted(pipeline string) {
	m.runsStarted.WithLabelValues(label(pipeline)).Inc()
}

// RunFinished counts a run of pipeline that finished in state (status.RunSuccess or
// status.RunFailed) after d.
func (m *Metrics) RunFinished(pipeline, state string, d time.Duration) {
	pipeline, state = label(pipeline), label(state)
	m.runsFinished.WithLabelValues(pipeline, state).Inc()
	m.runDuration.WithLabelValues(pipeline, state).Observe(d.Seconds())
}

// AttemptFinished counts one finished attempt of activity (of kind) in pipeline with outcome
// (OutcomeSuccess, OutcomeRetry or OutcomeFailed) after d. The activity is a label because
// "which activity keeps failing" is the first question of an alert; its values are bounded by
// the activities of the published definitions. The duration histogram is by kind only, to keep
// its bucket series few.
func (m *Metrics) AttemptFinished(pipeline, activity, kind, outcome string, d time.Duration) {
	pipeline, activity, kind, outcome = label(pipeline), label(activity), label(kind), label(outcome)
	m.attempts.WithLabelValues(pipeline, activity, kind, outcome).Inc()
	m.attemptDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// TickFinished counts a scheduler tick that ended, and whether it failed, and sets how many
// pipeline documents it could not read.
func (m *Metrics) TickFinished(failed bool, unreadable int) {
	m.ticks.Inc()
	if failed {
		m.tickFailures.Inc()
	}
	m.unreadable.Set(float64(unreadable))
}

// label makes v a valid label value: the client panics on invalid UTF-8, and a metric must never
// bring the engine down.
func label(v string) string { return strings.ToValidUTF8(v, "\uFFFD") }

// sourceCollector computes the scrape-time gauges from a Source.
type sourceCollector struct {
	m       *Metrics
	src     Source
	now     func() time.Time
	timeout time.Duration
}

var (
	queueDepthDesc = prometheus.NewDesc("sluice_queue_depth",
		"Activity instances waiting, by state: queued (waiting for a worker), retrying (waiting for the next attempt), waiting (a wait_for precondition does not hold yet).",
		[]string{"state"}, nil)
	freshnessTimestampDesc = prometheus.NewDesc("sluice_freshness_timestamp_seconds",
		"End of the newest successfully processed interval of a pipeline, as a Unix timestamp.",
		[]string{"pipeline"}, nil)
	freshnessAgeDesc = prometheus.NewDesc("sluice_freshness_age_seconds",
		"Seconds from the end of the newest successfully processed interval of a pipeline to now (0 when that end is in the future).",
		[]string{"pipeline"}, nil)
)

// Describe implements prometheus.Collector.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- freshnessTimestampDesc
	ch <- freshnessAgeDesc
	c.m.scrapeErrors.Describe(ch)
}

// Collect implements prometheus.Collector. A Source error is counted and logged, and the
// values of that source are left out of this scrape: the other metrics are still served.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.collectQueueDepth(ctx, ch)
	c.collectFreshness(ctx, ch)
	c.m.scrapeErrors.Collect(ch)
}

func (c *sourceCollector) collectQueueDepth(ctx context.Context, ch chan<- prometheus.Metric) {
	depth, err := c.src.QueueDepth(ctx)
	if err != nil {
		c.fail(SourceQueueDepth, err)
		return
	}
	// Missing known states are exported as 0, so a drained queue reads 0 rather than "no data".
	values := map[string]int{}
	for _, s := range QueueStates() {
		values[s] = 0
	}
	for s, n := range depth {
		if s = label(s); s != "" {
			// Sanitizing can map two keys to one; their counts add up.
			values[s] += n
		}
	}
	states := make([]string, 0, len(values))
	for s := range values {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		metric, err := prometheus.NewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(values[s]), s)
		if err != nil {
			c.fail(SourceQueueDepth, err)
			continue
		}
		ch <- metric
	}
}

func (c *sourceCollector) collectFreshness(ctx context.Context, ch chan<- prometheus.Metric) {
	list, err := c.src.Freshness(ctx)
	if err != nil {
		c.fail(SourceFreshness, err)
		return
	}
	// One series per pipeline: a source listing a pipeline twice must not make the registry
	// reject the whole scrape as a duplicate, so the newest value wins.
	newest := map[string]time.Time{}
	for _, f := range list {
		if f.Newest.IsZero() {
			continue
		}
		p := label(f.Pipeline)
		if cur, ok := newest[p]; !ok || f.Newest.After(cur) {
			newest[p] = f.Newest
		}
	}
	names := make([]string, 0, len(newest))
	for p := range newest {
		names = append(names, p)
	}
	sort.Strings(names)
	now := c.now()
	for _, p := range names {
		t := newest[p]
		// A newest end in the future means clock skew between runners; an age below zero
		// would read as "fresher than possible", so it is clamped.
		age := max(now.Sub(t).Seconds(), 0)
		ts, err := prometheus.NewConstMetric(freshnessTimestampDesc, prometheus.GaugeValue,
			float64(t.UnixNano())/1e9, p)
		if err != nil {
			c.fail(SourceFreshness, err)
			continue
		}
		ageMetric, err := prometheus.NewConstMetric(freshnessAgeDesc, prometheus.GaugeValue, age, p)
		if err != nil {
			c.fail(SourceFreshness, err)
			continue
		}
		ch <- ts
		ch <- ageMetric
	}
}

func (c *sourceCollector) fail(source string, err error) {
	c.m.scrapeErrors.WithLabelValues(source).Inc()
	c.m.logger.Error("metrics: reading scrape-time values failed; they are missing from this scrape",
		slog.String("source", source), slog.Any("error", err))
}
