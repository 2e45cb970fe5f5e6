package status

import "time"

// Ticks is how the scheduler loop of a serving runner has fared: what /healthz judges and the
// status page shows, so that a runner whose ticks fail never looks healthy (issue 11).
type Ticks struct {
	// Last is when the last tick ended, failed or not; zero before the first.
	Last time.Time `json:"last,omitzero"`
	// LastOK is when the last tick that did not fail ended.
	LastOK time.Time `json:"last_ok,omitzero"`
	// Failures counts the ticks that failed since the runner started
	// (sluice_tick_failures_total).
	Failures int64 `json:"failures"`
	// Consecutive counts the ticks that failed in a row, up to the last one; 0 once a tick
	// succeeds.
	Consecutive int `json:"consecutive_failures"`
	// LastError is the error of the last tick that failed, and LastErrorAt when it ended.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// UnhealthyAfter is how many failed ticks in a row make /healthz fail.
	UnhealthyAfter int `json:"unhealthy_after"`
	// Unreadable are the documents under pipelines/ that the last tick could not read: each
	// failed alone, and the other pipelines were scheduled.
	Unreadable []DocumentError `json:"unreadable_documents,omitempty"`
}

// DocumentError is a registry document that could not be read, by key.
type DocumentError struct {
	Key   string `json:"key"`
	Error string `json:"error"`
}
