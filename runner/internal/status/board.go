package status

import "time"

// The web UI's read model (issue 16): the home page's rows, a pipeline's grid and graph, a
// run's attempts, the runners and the action log. Each view is read with a fixed number of
// queries, however many pipelines and runs there are.

// Pause says who paused a pipeline and when: the scheduler creates no runs for it.
type Pause struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// RunCell is a run as a cell of the home page's row or the pipeline grid's column.
type RunCell struct {
	ID            int64      `json:"id"`
	IntervalStart time.Time  `json:"interval_start"`
	IntervalEnd   time.Time  `json:"interval_end"`
	Seq           int        `json:"seq"`
	State         string     `json:"state"`
	Trigger       string     `json:"trigger"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

// HomePipeline is one pipeline on the home page.
type HomePipeline struct {
	Name    string `json:"name"`
	Owner   string `json:"owner,omitempty"`
	Version string `json:"version,omitempty"`
	// Enabled is the published definition's; Removed is true once it left the registry.
	Enabled bool   `json:"enabled"`
	Removed bool   `json:"removed,omitempty"`
	Paused  *Pause `json:"paused,omitempty"`
	// Schedule describes the schedule; NextRun is when the next interval's run is due (nil
	// when the schedule ended, or the pipeline is disabled or paused).
	Schedule string     `json:"schedule,omitempty"`
	NextRun  *time.Time `json:"next_run,omitempty"`
	// Trigger describes what else starts runs: a queue, upstream pipelines ("" for none).
	Trigger string `json:"trigger,omitempty"`
	// Freshness is the end of the newest successful interval; nil before the first.
	Freshness *time.Time `json:"freshness,omitempty"`
	// Cells are the newest runs, newest first (at most HomeCells).
	Cells []RunCell `json:"runs"`
	// FailureStreak counts the newest runs that failed in a row (within Cells).
	FailureStreak int `json:"failure_streak"`
}

// HomeCells is how many runs the home page shows per pipeline.
const HomeCells = 25

// SetCells sets a pipeline's newest runs (newest first) and the failure streak they make: the
// finished runs that failed in a row, newest first. Runs still scheduled or running at the
// head neither end the streak nor extend it.
func (h *HomePipeline) SetCells(cells []RunCell) {
	if cells == nil {
		cells = []RunCell{}
	}
	h.Cells, h.FailureStreak = cells, 0
	for _, c := range cells {
		if c.State == RunScheduled || c.State == RunRunning {
			if h.FailureStreak == 0 {
				continue
			}
			break
		}
		if c.State != RunFailed {
			break
		}
		h.FailureStreak++
	}
}

// GridActivity is an activity of a pipeline's published version, in topological order.
type GridActivity struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	DependsOn []string `json:"depends_on,omitempty"`
	// Gone is true for an activity that ran in a shown run but is not in the newest version.
	Gone bool `json:"gone,omitempty"`
}

// GridCell is one activity instance of one run in the grid.
type GridCell struct {
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
}

// GridRun is a column of the grid: a run and its activity instances by activity id.
type GridRun struct {
	RunCell
	Activities map[string]GridCell `json:"activities"`
}

// Version is a published version of a pipeline the runner has seen, and when it first saw it.
type Version struct {
	Version string    `json:"version"`
	SeenAt  time.Time `json:"seen_at"`
}

// PipelineDetail is the pipeline page: the home row and the grid, graph, schedule, versions,
// failures and actions.
type PipelineDetail struct {
	HomePipeline
	Description string `json:"description,omitempty"`
	// NextRuns are the next intervals the schedule makes due, by their start.
	NextRuns []Interval `json:"next_runs,omitempty"`
	// Activities are the newest version's activities in topological order (then any that
	// only older shown runs have).
	Activities []GridActivity `json:"activities"`
	// Grid are the newest runs, newest first.
	Grid           []GridRun      `json:"grid"`
	Counts         map[string]int `json:"counts"`
	Versions       []Version      `json:"versions"`
	RecentFailures []Failure      `json:"recent_failures,omitempty"`
	Actions        []Action       `json:"actions,omitempty"`
}

// Interval is a data interval [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// AttemptDetail is one attempt of an activity instance, with the tail of its captured log.
type AttemptDetail struct {
	Attempt    int        `json:"attempt"`
	Runner     string     `json:"runner"`
	State      string     `json:"state"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Log is the end of the stored log, at most LogTail bytes; LogBytes is the whole stored
	// log's size (download it whole from the attempt's log URL).
	Log      string `json:"log,omitempty"`
	LogBytes int    `json:"log_bytes"`
}

// LogTail is how much of an attempt's log a page shows.
const LogTail = 16 << 10

// ActivityDetail is one activity instance of a run with its attempts and its definition as
// rendered for the run (templates filled in, secrets scrubbed).
type ActivityDetail struct {
	Activity
	DependsOn  []string        `json:"depends_on,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	Rendered   string          `json:"rendered,omitempty"`
	History    []AttemptDetail `json:"attempts_detail"`
}

// RunDetail is the run page.
type RunDetail struct {
	Run
	Owner      string           `json:"owner,omitempty"`
	Activities []ActivityDetail `json:"activity_details"`
	Actions    []Action         `json:"actions,omitempty"`
}

// Runner is a runner known from the attempts it ran, with its liveness (PostgreSQL: its
// liveness lock) and the attempts it is running.
type Runner struct {
	ID string `json:"id"`
	// Live is whether the runner holds its liveness lock; LiveKnown is false on SQLite, where
	// one runner holds the database file.
	Live      bool      `json:"live"`
	LiveKnown bool      `json:"live_known"`
	LastStart time.Time `json:"last_attempt_started"`
	Working   []Working `json:"working,omitempty"`
}

// Working is an attempt a runner is running.
type Working struct {
	RunID    int64     `json:"run_id"`
	Pipeline string    `json:"pipeline"`
	Activity string    `json:"activity"`
	Attempt  int       `json:"attempt"`
	Since    time.Time `json:"since"`
}

// Action is an entry of the action log: who asked what, when, and how it went.
type Action struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Pipeline string    `json:"pipeline"`
	RunID    int64     `json:"run_id,omitempty"`
	Activity string    `json:"activity,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Outcome  string    `json:"outcome"`
	Error    string    `json:"error,omitempty"`
}
