package status

import (
	"fmt"
	"time"
)

// ReplicaShard is the state of one shard of a stream replication as applied to one replica,
// as the subscriber holding its lease last reported it.
type ReplicaShard struct {
	Replication string `json:"replication"`
	Replica     string `json:"replica"`
	Shard       string `json:"shard"`
	// State is reading, retrying (a transient error: the replica or Kinesis unreachable),
	// stopped (a poison record under poison = "stop") or finished (a closed shard applied to
	// its end).
	State string `json:"state"`
	// Owner is the runner holding (or last holding) the shard's lease; LeaseHeld says whether
	// the lease was live when read.
	Owner     string `json:"owner"`
	LeaseHeld bool   `json:"lease_held"`
	// Sequence is the sequence number of the last record checkpointed in the replica.
	Sequence string `json:"sequence,omitempty"`
	// Applied counts the records checkpointed in the replica (applied or dead-lettered).
	Applied int64 `json:"applied_records"`
	// MillisBehind is Kinesis's MillisBehindLatest of the last read: how far the shard's tip
	// is ahead of what the subscriber has read. Absent when unknown.
	MillisBehind *int64 `json:"millis_behind_latest,omitempty"`
	// RecordsBehind counts the records the subscriber has read and not yet applied: every
	// record after the replica's checkpoint when RecordsBehindExact (its last read reached the
	// tip), a lower bound otherwise. Absent when unknown (the subscriber is not reading).
	RecordsBehind      *int64     `json:"records_behind,omitempty"`
	RecordsBehindExact bool       `json:"records_behind_exact,omitempty"`
	LastApplied        *time.Time `json:"last_applied,omitempty"`
	LastError          string     `json:"last_error,omitempty"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// RecordsLag is RecordsBehind for people: "340 records", "≥ 10000 records" while the subscriber
// has not read up to the tip, "" when unknown.
func (s ReplicaShard) RecordsLag() string {
	if s.RecordsBehind == nil {
		return ""
	}
	if s.RecordsBehindExact {
		return fmt.Sprintf("%d records", *s.RecordsBehind)
	}
	return fmt.Sprintf("≥ %d records", *s.RecordsBehind)
}
