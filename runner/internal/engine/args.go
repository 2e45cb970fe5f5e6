package engine

import (
	"time"
)

// Job kinds: the River job kinds this runner works.
const (
	KindActivity = "sluice_activity"
	KindNotify   = "sluice_notify"
)

// ActivityArgs are the arguments of an activity job: one activity instance of one run. River's
// unique-args check on RunID+Activity keeps one live job per instance even when two
// transactions race to queue it.
type ActivityArgs struct {
	RunID    int64  `json:"run_id" river:"unique"`
	Activity string `json:"activity" river:"unique"`
	// Pipeline is for logs and River's UI only.
	Pipeline string `json:"pipeline"`
	// RetryDelay is the first retry delay; later ones back off exponentially with jitter.
	RetryDelay time.Duration `json:"retry_delay"`
	// Timeout is the per-attempt timeout; 0 means none.
	Timeout time.Duration `json:"timeout"`
	// Version and the interval (Unix microseconds) are the run's, copied here so that the
	// hot path (workActivity) starts the activity without reading the run; a job queued
	// without them (by an older runner) takes the path that reads it.
	Version       string `json:"version,omitempty"`
	IntervalStart int64  `json:"interval_start,omitempty"`
	IntervalEnd   int64  `json:"interval_end,omitempty"`
}

// Kind implements river.JobArgs.
func (ActivityArgs) Kind() string { return KindActivity }

// NotifyArgs are the arguments of a notification job: one message to one target. Sending runs
// as a job of its own, inserted in the transaction that finishes the run, so a notification is
// neither lost nor sent for a change that rolled back; River retries it.
type NotifyArgs struct {
	Target  string       `json:"target"`
	Message Notification `json:"message"`
}

// Kind implements river.JobArgs.
func (NotifyArgs) Kind() string { return KindNotify }

// Notification events.
const (
	EventFailure = "failure"
	EventSuccess = "success"
	EventLate    = "late"
)

// Notification is what the runner tells a pipeline's notify targets.
type Notification struct {
	Event         string        `json:"event"`
	Pipeline      string        `json:"pipeline"`
	Owner         string        `json:"owner,omitempty"`
	RunID         int64         `json:"run_id"`
	IntervalStart time.Time     `json:"interval_start"`
	IntervalEnd   time.Time     `json:"interval_end"`
	Activity      string        `json:"activity,omitempty"`
	Error         string        `json:"error,omitempty"`
	Late          time.Duration `json:"late,omitempty"`
	// Version is the pipeline version the run ran.
	Version string `json:"version,omitempty"`
	// Outputs are the run's parameters: the pipeline's, and for a triggered run the parts its
	// key pattern named (success notifications).
	Outputs map[string]string `json:"outputs,omitempty"`
}
