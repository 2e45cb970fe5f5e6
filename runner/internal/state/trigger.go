package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Triggers of runs made by events (see package trigger).
const (
	// TriggerSQS is a run made from queue messages: S3 events or sluice notifications.
	TriggerSQS = "sqs"
	// TriggerAfter is a run made because an upstream pipeline's run succeeded (trigger.after).
	TriggerAfter = "after"
)

// IsEventTrigger says whether runs of the trigger carry an event (EventOf).
func IsEventTrigger(trigger string) bool { return trigger == TriggerSQS || trigger == TriggerAfter }

// triggerMigration adds the tables of triggered runs. A dedupe key is recorded in the
// transaction that creates the run it went into, so "the event made a run" and "the run exists"
// are one fact: a redelivered message finds its key and makes nothing.
var triggerMigration = migration{version: 13, stmts: []string{
	`CREATE TABLE sluice_trigger_keys (
		pipeline TEXT NOT NULL,
		dedupe_key TEXT NOT NULL,
		run_id BIGINT NOT NULL,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (pipeline, dedupe_key))`,
	// What started a triggered run: the event its templates see (.Event, JSON of
	// definition.Event) and the parameters its key pattern named.
	`CREATE TABLE sluice_run_events (
		run_id BIGINT PRIMARY KEY,
		source TEXT NOT NULL,
		messages INTEGER NOT NULL,
		objects INTEGER NOT NULL,
		event TEXT NOT NULL,
		params TEXT NOT NULL)`,
}}

// keysPerStatement bounds the keys one statement looks up or inserts.
const keysPerStatement = 500

// KnownKeys returns which of keys are recorded for the pipeline.
func KnownKeys(ctx context.Context, q Q, d Dialect, pipeline string, keys []string) (map[string]bool, error) {
	known := map[string]bool{}
	ph := phFor(d)
	for from := 0; from < len(keys); from += keysPerStatement {
		chunk := keys[from:min(from+keysPerStatement, len(keys))]
		var sb strings.Builder
		sb.WriteString(`SELECT dedupe_key FROM sluice_trigger_keys WHERE pipeline = `)
		ph.one(&sb, 0)
		sb.WriteString(` AND dedupe_key IN `)
		ph.write(&sb, 1, len(chunk))
		args := make([]any, 0, len(chunk)+1)
		args = append(args, pipeline)
		for _, k := range chunk {
			args = append(args, k)
		}
		rows, err := q.Query(ctx, sb.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("reading the dedupe keys of %s: %w", pipeline, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading the dedupe keys of %s: %w", pipeline, err)
			}
			known[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading the dedupe keys of %s: %w", pipeline, err)
		}
	}
	return known, nil
}

// EventRun is a run to create for events.
type EventRun struct {
	Run NewRun // Seq is ignored: the next free one of the interval is taken
	// Keys are the dedupe keys of the events, none of them recorded yet (KnownKeys).
	Keys     []string
	Source   string
	Messages int
	Objects  int
	Event    []byte // JSON of definition.Event
	Params   []byte // JSON object of the run's parameters from its key pattern
}

// InsertEventRun creates a scheduled run for events with its dedupe keys and its event, in the
// caller's transaction. The caller holds LockPipeline and has dropped known keys: a key
// recorded meanwhile by another runner fails the insert (unique key), and the transaction must
// be retried.
func InsertEventRun(ctx context.Context, q Q, d Dialect, r EventRun, now time.Time) (int64, error) {
	rows, err := q.Query(ctx, `SELECT COALESCE(MAX(seq), -1) + 1 FROM sluice_runs WHERE pipeline = $1 AND interval_start = $2`,
		r.Run.Pipeline, Micros(r.Run.IntervalStart))
	if err != nil {
		return 0, fmt.Errorf("creating a run of %s: %w", r.Run.Pipeline, err)
	}
	seq := 0
	if rows.Next() {
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return 0, fmt.Errorf("creating a run of %s: %w", r.Run.Pipeline, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("creating a run of %s: %w", r.Run.Pipeline, err)
	}
	r.Run.Seq = seq
	ids, err := InsertRuns(ctx, q, d, []NewRun{r.Run}, now)
	if err != nil {
		return 0, err
	}
	id, ok := ids[Micros(r.Run.IntervalStart)]
	if !ok {
		return 0, fmt.Errorf("creating a run of %s for %s: seq %d was taken meanwhile", r.Run.Pipeline, r.Run.IntervalStart.Format(time.RFC3339), seq)
	}
	ph := phFor(d)
	for from := 0; from < len(r.Keys); from += keysPerStatement {
		chunk := r.Keys[from:min(from+keysPerStatement, len(r.Keys))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO sluice_trigger_keys (pipeline, dedupe_key, run_id, created_at) VALUES `)
		args := make([]any, 0, 4*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			ph.write(&sb, len(args), 4)
			args = append(args, r.Run.Pipeline, k, id, Micros(now))
		}
		if _, err := q.Exec(ctx, sb.String(), args...); err != nil {
			return 0, fmt.Errorf("recording %d dedupe keys of run %d of %s: %w", len(chunk), id, r.Run.Pipeline, err)
		}
	}
	if _, err := q.Exec(ctx, `INSERT INTO sluice_run_events (run_id, source, messages, objects, event, params) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, r.Source, r.Messages, r.Objects, string(r.Event), string(r.Params)); err != nil {
		return 0, fmt.Errorf("recording the event of run %d of %s: %w", id, r.Run.Pipeline, err)
	}
	return id, nil
}

// RunEvent is what started a triggered run.
type RunEvent struct {
	RunID    int64
	Source   string
	Messages int
	Objects  int
	Event    []byte
	Params   []byte
}

// EventOf returns the event of a triggered run; ok is false for other runs.
func EventOf(ctx context.Context, q Q, runID int64) (ev RunEvent, ok bool, err error) {
	rows, err := q.Query(ctx, `SELECT run_id, source, messages, objects, event, params FROM sluice_run_events WHERE run_id = $1`, runID)
	if err != nil {
		return ev, false, fmt.Errorf("reading the event of run %d: %w", runID, err)
	}
	defer rows.Close()
	if rows.Next() {
		var e, p string
		if err := rows.Scan(&ev.RunID, &ev.Source, &ev.Messages, &ev.Objects, &e, &p); err != nil {
			return ev, false, fmt.Errorf("reading the event of run %d: %w", runID, err)
		}
		ev.Event, ev.Params, ok = []byte(e), []byte(p), true
	}
	if err := rows.Err(); err != nil {
		return ev, false, fmt.Errorf("reading the event of run %d: %w", runID, err)
	}
	return ev, ok, nil
}

// SucceededRunsSince lists the successful runs of a pipeline that finished at or after since,
// by finish time, at most limit.
func SucceededRunsSince(ctx context.Context, q Q, pipeline string, since time.Time, limit int) ([]RunRow, error) {
	return queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs WHERE pipeline = $1 AND state = $2 AND finished_at >= $3
		ORDER BY finished_at, id LIMIT $4`, pipeline, status.RunSuccess, Micros(since), limit)
}

// FirstSeen is when the runner first recorded a version of the pipeline; ok is false when it
// never did.
func FirstSeen(ctx context.Context, q Q, pipeline string) (time.Time, bool, error) {
	rows, err := q.Query(ctx, `SELECT MIN(seen_at) FROM sluice_definitions WHERE pipeline = $1`, pipeline)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading when %s was first seen: %w", pipeline, err)
	}
	defer rows.Close()
	var v sql.NullInt64
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return time.Time{}, false, fmt.Errorf("reading when %s was first seen: %w", pipeline, err)
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("reading when %s was first seen: %w", pipeline, err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return FromMicros(v.Int64), true, nil
}

// Covered says whether successful runs of pipeline together cover [from, to). missing is the
// first instant not covered (for messages) when they do not.
func Covered(ctx context.Context, q Q, pipeline string, from, to time.Time) (ok bool, missing time.Time, err error) {
	runs, err := queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs
		WHERE pipeline = $1 AND state = $2 AND interval_start < $3 AND interval_end > $4 ORDER BY interval_start`,
		pipeline, status.RunSuccess, Micros(to), Micros(from))
	if err != nil {
		return false, from, err
	}
	at := from
	for _, r := range runs {
		if r.IntervalStart.After(at) {
			return false, at, nil
		}
		if r.IntervalEnd.After(at) {
			at = r.IntervalEnd
		}
		if !at.Before(to) {
			return true, time.Time{}, nil
		}
	}
	return !at.Before(to), at, nil
}

// TriggeredPipelines lists the enabled pipelines still in the registry with their newest
// documents, for the consumers of triggers.
func TriggeredPipelines(ctx context.Context, q Q) (map[string][]byte, error) {
	rows, err := q.Query(ctx, `SELECT p.name, d.document FROM sluice_pipelines p
		JOIN sluice_definitions d ON d.pipeline = p.name AND d.version = p.version
		WHERE p.enabled = 1 AND p.removed = 0 ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("reading the pipelines: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name, doc string
		if err := rows.Scan(&name, &doc); err != nil {
			return nil, fmt.Errorf("reading the pipelines: %w", err)
		}
		out[name] = []byte(doc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the pipelines: %w", err)
	}
	return out, nil
}

// RunEventSummary is what status shows of a triggered run's event: its messages and objects,
// the first sample objects' URLs and the upstream run; nil for runs no event made.
func RunEventSummary(ctx context.Context, q Q, runID int64, sample int) (*status.RunEvent, error) {
	ev, ok, err := EventOf(ctx, q, runID)
	if err != nil || !ok {
		return nil, err
	}
	var e definition.Event
	if err := json.Unmarshal(ev.Event, &e); err != nil {
		return nil, fmt.Errorf("run %d: decoding its event: %w", runID, err)
	}
	out := &status.RunEvent{Messages: ev.Messages, Objects: ev.Objects}
	for i, o := range e.Objects {
		if i == sample {
			break
		}
		out.Sample = append(out.Sample, "s3://"+o.Bucket+"/"+o.Key)
	}
	if u := e.Upstream; u != nil {
		out.Upstream = u.Pipeline + " run " + u.RunID
	}
	return out, nil
}
