// Package status holds the runner's read model: what `sluice-runner status`, the status page
// and the metrics show about pipelines, runs and activities. Plain data, filled by the state
// package and rendered by the cli and web packages.
package status

import "time"

// Run states.
const (
	RunScheduled = "scheduled" // planned, waiting for a free slot (max_active_runs)
	RunRunning   = "running"
	RunSuccess   = "success"
	RunFailed    = "failed"
)

// RunStates lists the run states.
func RunStates() []string { return []string{RunScheduled, RunRunning, RunSuccess, RunFailed} }

// Activity instance states.
const (
	ActivityPending        = "pending"         // dependencies not done yet
	ActivityQueued         = "queued"          // a job exists, waiting for a worker
	ActivityRunning        = "running"         // an attempt is running
	ActivityWaiting        = "waiting"         // wait_for: the precondition does not hold yet
	ActivityRetrying       = "retrying"        // an attempt failed, another is scheduled
	ActivitySuccess        = "success"         // done
	ActivityFailed         = "failed"          // failed after its retries
	ActivityUpstreamFailed = "upstream_failed" // a dependency failed
)

// ActivityStates lists the activity instance states.
func ActivityStates() []string {
	return []string{
		ActivityPending, ActivityQueued, ActivityRunning, ActivityWaiting, ActivityRetrying,
		ActivitySuccess, ActivityFailed, ActivityUpstreamFailed,
	}
}

// Pipeline is one pipeline as the runner sees it.
type Pipeline struct {
	Name        string `json:"name"`
	Owner       string `json:"owner,omitempty"`
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	// Version is the newest version the runner has seen published.
	Version  string `json:"version,omitempty"`
	Schedule string `json:"schedule,omitempty"` // "every 1d from 2026-11-18T00:00:00Z" or "cron 0 * * * *"
	// Trigger says what starts runs besides the schedule: "sqs https://… (pattern raw/{date}/), after a, b".
	Trigger string `json:"trigger,omitempty"`
	// LastRun is the newest run by interval; nil when none ran yet.
	LastRun *Run `json:"last_run,omitempty"`
	// NextRun is when the next interval's run is due; nil when the schedule ended.
	NextRun *time.Time `json:"next_run,omitempty"`
	// Counts of runs by state.
	Counts map[string]int `json:"counts"`
	// Freshness: the newest data per subject ("pipeline" = end of the newest successful
	// interval; a table name = newest value a freshness check saw).
	Freshness []Freshness `json:"freshness,omitempty"`
	// Runs are the most recent runs, newest interval first.
	Runs []Run `json:"runs,omitempty"`
	// RecentFailures are failed activity attempts, newest first.
	RecentFailures []Failure `json:"recent_failures,omitempty"`
	// Cost is what the pipeline's EMR clusters cost per day; nil when it never launched one.
	Cost *PipelineCost `json:"cost,omitempty"`
}

// PipelineCost is what a pipeline's EMR clusters cost, per UTC day, next to the plan's estimate.
type PipelineCost struct {
	// EstimatedPerRun is the plan's estimate of one run (templates × expected_duration), from
	// the newest run that launched a cluster; nil when it could not be estimated.
	EstimatedPerRun *float64 `json:"estimated_per_run_usd"`
	// Days are the last days with clusters, newest first.
	Days []DayCost `json:"days"`
}

// DayCost is one UTC day of a pipeline's EMR usage.
type DayCost struct {
	Day      string `json:"day"` // YYYY-MM-DD, UTC, of the clusters' end
	Runs     int    `json:"runs"`
	Clusters int    `json:"clusters"`
	// USD is the measured cost; nil when a price was missing for one of the clusters.
	USD         *float64 `json:"usd"`
	NodeSeconds int64    `json:"node_seconds"`
}

// RunCost is what a run's EMR clusters used and cost, every attempt counted.
type RunCost struct {
	Clusters    int   `json:"clusters"`
	NodeSeconds int64 `json:"node_seconds"`
	// NormalizedInstanceHours is EMR's figure (aws mode); nil in local mode.
	NormalizedInstanceHours *int64 `json:"normalized_instance_hours,omitempty"`
	// USD is the measured usage priced with the runner's price table; nil when a price is missing.
	USD *float64 `json:"usd"`
	// EstimatedUSD is the plan's estimate for the run; nil without expected_duration or a price.
	EstimatedUSD *float64 `json:"estimated_usd"`
	// Unestimated says why USD or EstimatedUSD is nil.
	Unestimated string `json:"unestimated,omitempty"`
}

// Run is one run of a pipeline for one interval.
type Run struct {
	ID            int64     `json:"id"`
	Pipeline      string    `json:"pipeline"`
	IntervalStart time.Time `json:"interval_start"`
	IntervalEnd   time.Time `json:"interval_end"`
	// Seq is 0 for the first run of an interval; reprocessing adds 1.
	Seq        int        `json:"seq"`
	Version    string     `json:"version"`
	Trigger    string     `json:"trigger"` // schedule, backfill, manual
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Activities []Activity `json:"activities,omitempty"`
	// Cost is what the run's EMR clusters used; nil when it launched none.
	Cost *RunCost `json:"cost,omitempty"`
	// Event is what started a triggered run (trigger sqs or after).
	Event *RunEvent `json:"event,omitempty"`
}

// RunEvent is what started a triggered run: how many queue messages and S3 objects went into
// it, the first objects, and the upstream run.
type RunEvent struct {
	Messages int      `json:"messages"`
	Objects  int      `json:"objects"`
	Sample   []string `json:"sample,omitempty"`   // s3:// URLs of the first objects
	Upstream string   `json:"upstream,omitempty"` // "pipeline run 42"
}

// Activity is one activity instance of a run.
type Activity struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Summary and Warnings come from the last successful attempt's result.
	Summary  string         `json:"summary,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// Freshness is the newest data seen for a subject.
type Freshness struct {
	Subject    string    `json:"subject"`
	Value      time.Time `json:"value"`
	ObservedAt time.Time `json:"observed_at"`
}

// Failure is one failed attempt.
type Failure struct {
	RunID         int64     `json:"run_id"`
	IntervalStart time.Time `json:"interval_start"`
	Activity      string    `json:"activity"`
	Attempt       int       `json:"attempt"`
	At            time.Time `json:"at"`
	Error         string    `json:"error"`
}
