package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Run triggers.
const (
	TriggerSchedule = "schedule"
	TriggerBackfill = "backfill"
	TriggerManual   = "manual"
)

// FreshnessPipeline is the freshness subject of a pipeline itself: the end of its newest
// successful interval.
const FreshnessPipeline = "pipeline"

// ErrNotFound is returned when a run or activity does not exist.
var ErrNotFound = errors.New("not found")

// Micros encodes a time as the tables store it.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros decodes a stored time (UTC).
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := FromMicros(n.Int64)
	return &t
}

// PutDefinition records a published document under its version, once.
func PutDefinition(ctx context.Context, q Q, pipeline, version string, doc []byte, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO sluice_definitions (pipeline, version, document, seen_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (pipeline, version) DO NOTHING`, pipeline, version, string(doc), Micros(now))
	if err != nil {
		return fmt.Errorf("recording pipeline %s version %s: %w", pipeline, version, err)
	}
	return nil
}

// Definition returns the document of a pipeline version.
func Definition(ctx context.Context, q Q, pipeline, version string) ([]byte, error) {
	rows, err := q.Query(ctx, `SELECT document FROM sluice_definitions WHERE pipeline = $1 AND version = $2`, pipeline, version)
	if err != nil {
		return nil, fmt.Errorf("reading pipeline %s version %s: %w", pipeline, version, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading pipeline %s version %s: %w", pipeline, version, err)
		}
		return nil, fmt.Errorf("pipeline %s version %s: %w", pipeline, version, ErrNotFound)
	}
	var doc string
	if err := rows.Scan(&doc); err != nil {
		return nil, fmt.Errorf("reading pipeline %s version %s: %w", pipeline, version, err)
	}
	return []byte(doc), nil
}

// PipelineRow is the newest state of a pipeline in the registry.
type PipelineRow struct {
	Name    string
	Version string
	Enabled bool
	Owner   string
	Removed bool
}

// PutPipeline records the newest version of a pipeline seen in the registry.
func PutPipeline(ctx context.Context, q Q, p PipelineRow, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO sluice_pipelines (name, version, enabled, owner, removed, seen_at) VALUES ($1, $2, $3, $4, 0, $5)
		ON CONFLICT (name) DO UPDATE SET version = excluded.version, enabled = excluded.enabled, owner = excluded.owner, removed = 0, seen_at = excluded.seen_at`,
		p.Name, p.Version, boolInt(p.Enabled), p.Owner, Micros(now))
	if err != nil {
		return fmt.Errorf("recording pipeline %s: %w", p.Name, err)
	}
	return nil
}

// MarkRemoved flags pipelines that are no longer in the registry: they schedule nothing new,
// and their history stays.
func MarkRemoved(ctx context.Context, q Q, present map[string]bool) error {
	known, err := Pipelines(ctx, q)
	if err != nil {
		return err
	}
	for _, p := range known {
		if present[p.Name] || p.Removed {
			continue
		}
		if _, err := q.Exec(ctx, `UPDATE sluice_pipelines SET removed = 1 WHERE name = $1`, p.Name); err != nil {
			return fmt.Errorf("marking pipeline %s removed: %w", p.Name, err)
		}
	}
	return nil
}

// Pipelines lists the pipelines the runner knows, by name.
func Pipelines(ctx context.Context, q Q) ([]PipelineRow, error) {
	rows, err := q.Query(ctx, `SELECT name, version, enabled, owner, removed FROM sluice_pipelines ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	defer rows.Close()
	var out []PipelineRow
	for rows.Next() {
		var p PipelineRow
		var enabled, removed int
		if err := rows.Scan(&p.Name, &p.Version, &enabled, &p.Owner, &removed); err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", err)
		}
		p.Enabled, p.Removed = enabled != 0, removed != 0
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing pipelines: %w", err)
	}
	return out, nil
}

// RunRow is a run as stored.
type RunRow struct {
	ID            int64
	Pipeline      string
	IntervalStart time.Time
	IntervalEnd   time.Time
	Seq           int
	Version       string
	Trigger       string
	State         string
	MaxActive     int
	CreatedAt     time.Time
	StartedAt     *time.Time
	FinishedAt    *time.Time
	LateNotified  bool
}

const runColumns = `id, pipeline, interval_start, interval_end, seq, version, trigger, state, max_active, created_at, started_at, finished_at, late_notified`

func scanRun(rows Rows) (RunRow, error) {
	var r RunRow
	var start, end, created int64
	var started, finished sql.NullInt64
	var late int
	if err := rows.Scan(&r.ID, &r.Pipeline, &start, &end, &r.Seq, &r.Version, &r.Trigger, &r.State, &r.MaxActive, &created, &started, &finished, &late); err != nil {
		return r, fmt.Errorf("reading a run: %w", err)
	}
	r.IntervalStart, r.IntervalEnd, r.CreatedAt = FromMicros(start), FromMicros(end), FromMicros(created)
	r.StartedAt, r.FinishedAt, r.LateNotified = nullTime(started), nullTime(finished), late != 0
	return r, nil
}

func queryRuns(ctx context.Context, q Q, query string, args ...any) ([]RunRow, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading runs: %w", err)
	}
	defer rows.Close()
	var out []RunRow
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading runs: %w", err)
	}
	return out, nil
}

// GetRun returns one run.
func GetRun(ctx context.Context, q Q, id int64) (RunRow, error) {
	runs, err := queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs WHERE id = $1`, id)
	if err != nil {
		return RunRow{}, err
	}
	if len(runs) == 0 {
		return RunRow{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return runs[0], nil
}

// LatestRuns returns, for each interval start in [from, to) of a pipeline, its newest run
// (highest seq), keyed by the interval start in Unix microseconds.
func LatestRuns(ctx context.Context, q Q, pipeline string, from, to time.Time) (map[int64]RunRow, error) {
	runs, err := queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs
		WHERE pipeline = $1 AND interval_start >= $2 AND interval_start < $3 ORDER BY interval_start, seq`,
		pipeline, Micros(from), Micros(to))
	if err != nil {
		return nil, err
	}
	out := make(map[int64]RunRow, len(runs))
	for _, r := range runs {
		out[Micros(r.IntervalStart)] = r // ordered by seq: the last one wins
	}
	return out, nil
}

// OverlappingRuns returns every run of a pipeline whose interval meets [from, to), ordered by
// interval start and seq.
func OverlappingRuns(ctx context.Context, q Q, pipeline string, from, to time.Time) ([]RunRow, error) {
	return queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs
		WHERE pipeline = $1 AND interval_start < $2 AND interval_end > $3 ORDER BY interval_start, seq`,
		pipeline, Micros(to), Micros(from))
}

// LastScheduled returns the start of the newest interval the scheduler created a run for: the
// scheduler's cursor. Backfills and manual runs do not move it.
func LastScheduled(ctx context.Context, q Q, pipeline string) (time.Time, bool, error) {
	rows, err := q.Query(ctx, `SELECT MAX(interval_start) FROM sluice_runs WHERE pipeline = $1 AND trigger = $2`, pipeline, TriggerSchedule)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the newest run of %s: %w", pipeline, err)
	}
	defer rows.Close()
	var v sql.NullInt64
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return time.Time{}, false, fmt.Errorf("reading the newest run of %s: %w", pipeline, err)
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("reading the newest run of %s: %w", pipeline, err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return FromMicros(v.Int64), true, nil
}

// NewRun is a run to create.
type NewRun struct {
	Pipeline      string
	IntervalStart time.Time
	IntervalEnd   time.Time
	Seq           int
	Version       string
	Trigger       string
	MaxActive     int
	// Activities are the activity ids with their kinds.
	Activities map[string]string
}

// InsertRun creates a scheduled run with its activity instances (all pending). It returns
// created = false, and changes nothing, when the (pipeline, interval, seq) run exists: that
// unique key is what makes "exactly one run per interval" hold with several schedulers.
func InsertRun(ctx context.Context, q Q, r NewRun, now time.Time) (id int64, created bool, err error) {
	// One run binds far fewer parameters than either database allows: the limit is moot.
	ids, err := insertRuns(ctx, q, anyPlaceholders, []NewRun{r}, now, maxParamsSQLite)
	if err != nil {
		return 0, false, err
	}
	id, created = ids[Micros(r.IntervalStart)]
	return id, created, nil
}

// Bound parameters one statement may carry: SQLite's SQLITE_MAX_VARIABLE_NUMBER (32,766 since
// 3.32) and PostgreSQL's wire protocol, which counts them in 16 bits.
const (
	maxParamsSQLite   = 32766
	maxParamsPostgres = 65535
)

// Parameters per row of the multi-row INSERTs of InsertRuns.
const (
	runParams      = 9
	activityParams = 4
)

// statementParamsCap bounds a statement below both limits: larger statements planned a year of
// hourly runs no faster and tripled the peak heap (about 30 MB instead of 10 on PostgreSQL).
const statementParamsCap = 9000

// statementParams is how many bound parameters one statement of InsertRuns carries at most.
func statementParams(d Dialect) int {
	limit := maxParamsSQLite
	if d == Postgres {
		limit = maxParamsPostgres
	}
	return min(limit, statementParamsCap)
}

// InsertRuns creates scheduled runs with their activity instances (all pending), as InsertRun
// does for one, and returns the id of each run it created keyed by its interval start in Unix
// microseconds. A run whose (pipeline, interval, seq) exists is skipped and absent from the
// result: the unique key keeps "exactly one run per interval" with several schedulers.
//
// The runs must be of one pipeline and of distinct intervals, so that the interval start names
// one run. They are written with multi-row INSERTs in chunks that stay within the dialect's
// limit of bound parameters: a year of hourly runs is a handful of statements instead of one
// round trip per row, which on PostgreSQL is most of the cost of planning a backfill.
func InsertRuns(ctx context.Context, q Q, d Dialect, runs []NewRun, now time.Time) (map[int64]int64, error) {
	return insertRuns(ctx, q, phFor(d), runs, now, statementParams(d))
}

// insertRuns is InsertRuns with the parameter limit given, so that tests can cross chunk
// boundaries with few rows.
func insertRuns(ctx context.Context, q Q, ph placeholders, runs []NewRun, now time.Time, limit int) (map[int64]int64, error) {
	if limit < runParams || limit < activityParams {
		return nil, fmt.Errorf("creating runs: a limit of %d bound parameters cannot hold one row", limit)
	}
	if err := checkNewRuns(runs); err != nil {
		return nil, err
	}
	created := make(map[int64]int64, len(runs))
	perChunk := limit / runParams
	for from := 0; from < len(runs); from += perChunk {
		chunk := runs[from:min(from+perChunk, len(runs))]
		ids, err := insertRunChunk(ctx, q, ph, chunk, now)
		if err != nil {
			return nil, err
		}
		if err := insertActivities(ctx, q, ph, chunk, ids, limit); err != nil {
			return nil, err
		}
		for k, id := range ids {
			created[k] = id
		}
	}
	return created, nil
}

// checkNewRuns refuses runs that the interval start would not tell apart in the result.
func checkNewRuns(runs []NewRun) error {
	seen := make(map[int64]bool, len(runs))
	for _, r := range runs {
		if r.Pipeline != runs[0].Pipeline {
			return fmt.Errorf("creating runs: runs of pipelines %s and %s in one call: one pipeline per call", runs[0].Pipeline, r.Pipeline)
		}
		k := Micros(r.IntervalStart)
		if seen[k] {
			return fmt.Errorf("creating runs of %s: interval %s is given twice", r.Pipeline, r.IntervalStart.Format(time.RFC3339))
		}
		seen[k] = true
	}
	return nil
}

// insertRunChunk inserts runs in one statement and returns the ids of those it created, by
// interval start. RETURNING reports only the inserted rows, in no guaranteed order.
func insertRunChunk(ctx context.Context, q Q, ph placeholders, chunk []NewRun, now time.Time) (map[int64]int64, error) {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO sluice_runs (pipeline, interval_start, interval_end, seq, version, trigger, state, max_active, created_at) VALUES `)
	args := make([]any, 0, len(chunk)*runParams)
	for i, r := range chunk {
		if i > 0 {
			sb.WriteByte(',')
		}
		ph.write(&sb, len(args), runParams)
		args = append(args, r.Pipeline, Micros(r.IntervalStart), Micros(r.IntervalEnd), r.Seq, r.Version, r.Trigger,
			status.RunScheduled, max(r.MaxActive, 1), Micros(now))
	}
	sb.WriteString(` ON CONFLICT (pipeline, interval_start, seq) DO NOTHING RETURNING id, interval_start`)
	first, last := chunk[0], chunk[len(chunk)-1]
	what := fmt.Sprintf("creating %d runs of %s for %s to %s", len(chunk), first.Pipeline,
		first.IntervalStart.Format(time.RFC3339), last.IntervalStart.Format(time.RFC3339))
	rows, err := q.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	ids := make(map[int64]int64, len(chunk))
	for rows.Next() {
		var id, start int64
		if err := rows.Scan(&id, &start); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ids[start] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, nil
}

// insertActivities inserts the pending activity instances of the runs of chunk that were
// created (ids), in run order and by activity id, within limit bound parameters a statement.
func insertActivities(ctx context.Context, q Q, ph placeholders, chunk []NewRun, ids map[int64]int64, limit int) error {
	perStmt := limit / activityParams
	var sb strings.Builder
	args := make([]any, 0, min(perStmt, len(ids)*len(chunk[0].Activities))*activityParams)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		n := len(args) / activityParams
		if _, err := q.Exec(ctx, `INSERT INTO sluice_activities (run_id, activity, kind, state) VALUES `+sb.String(), args...); err != nil {
			return fmt.Errorf("creating %d activity instances of runs of %s (run %d onwards): %w", n, chunk[0].Pipeline, args[0], err)
		}
		sb.Reset()
		args = args[:0]
		return nil
	}
	for _, r := range chunk {
		id, ok := ids[Micros(r.IntervalStart)]
		if !ok {
			continue
		}
		for _, act := range sortedKeys(r.Activities) {
			if len(args) > 0 {
				sb.WriteByte(',')
			}
			ph.write(&sb, len(args), activityParams)
			args = append(args, id, act, r.Activities[act], status.ActivityPending)
			if len(args)/activityParams == perStmt {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// placeholders is how a statement names its bound parameters.
type placeholders bool

const (
	// anyPlaceholders are numbered ($1, $2): what both databases accept.
	anyPlaceholders placeholders = false
	// sqlitePlaceholders are anonymous (?, ?). SQLite looks a numbered parameter up by name
	// in a list, when parsing and again when the driver binds it, which makes a statement
	// with thousands of them quadratic: a year of runs took 35 s instead of a fraction of one.
	sqlitePlaceholders placeholders = true
)

// write writes one row of n placeholders, numbered after the used ones: ($7, $8) or (?, ?).
func (ph placeholders) write(sb *strings.Builder, used, n int) {
	sb.WriteByte('(')
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		if ph == sqlitePlaceholders {
			sb.WriteByte('?')
			continue
		}
		sb.WriteByte('$')
		sb.WriteString(strconv.Itoa(used + i + 1))
	}
	sb.WriteByte(')')
}

// ScheduledRuns lists runs waiting for a slot, oldest interval first per pipeline.
func ScheduledRuns(ctx context.Context, q Q, limit int) ([]RunRow, error) {
	return queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs WHERE state = $1
		ORDER BY pipeline, interval_start, seq LIMIT $2`, status.RunScheduled, limit)
}

// ScheduledRunsOf lists up to limit runs of one pipeline waiting for a slot, oldest interval
// first: what a finishing run hands its slot to.
func ScheduledRunsOf(ctx context.Context, q Q, pipeline string, limit int) ([]RunRow, error) {
	return queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs WHERE pipeline = $1 AND state = $2
		ORDER BY interval_start, seq LIMIT $3`, pipeline, status.RunScheduled, limit)
}

// RunningCounts counts running runs per pipeline.
func RunningCounts(ctx context.Context, q Q) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT pipeline, COUNT(*) FROM sluice_runs WHERE state = $1 GROUP BY pipeline`, status.RunRunning)
	if err != nil {
		return nil, fmt.Errorf("counting running runs: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var p string
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			return nil, fmt.Errorf("counting running runs: %w", err)
		}
		out[p] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting running runs: %w", err)
	}
	return out, nil
}

// LockRun serialises the transactions that change one run's activities, so that two
// activities finishing at once both see each other's outcome. SQLite transactions already
// hold the database's write lock from BEGIN (see openSQLite).
func LockRun(ctx context.Context, q Q, d Dialect, id int64) error {
	if d != Postgres {
		return nil
	}
	if _, err := q.Exec(ctx, `SELECT id FROM sluice_runs WHERE id = $1 FOR UPDATE`, id); err != nil {
		return fmt.Errorf("locking run %d: %w", id, err)
	}
	return nil
}

// LockPipeline serialises run promotion of one pipeline among runners, so that max_active_runs
// holds with several runners. A no-op on SQLite (one runner, one writer).
func LockPipeline(ctx context.Context, q Q, d Dialect, pipeline string) error {
	if d != Postgres {
		return nil
	}
	if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('sluice:' || $1))`, pipeline); err != nil {
		return fmt.Errorf("locking pipeline %s: %w", pipeline, err)
	}
	return nil
}

// TryLockPipeline is LockPipeline without waiting: false when another transaction holds the
// lock (it is starting runs of the pipeline right now). Always true on SQLite.
func TryLockPipeline(ctx context.Context, q Q, d Dialect, pipeline string) (bool, error) {
	if d != Postgres {
		return true, nil
	}
	rows, err := q.Query(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('sluice:' || $1))`, pipeline)
	if err != nil {
		return false, fmt.Errorf("locking pipeline %s: %w", pipeline, err)
	}
	defer rows.Close()
	got := false
	for rows.Next() {
		if err := rows.Scan(&got); err != nil {
			return false, fmt.Errorf("locking pipeline %s: %w", pipeline, err)
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("locking pipeline %s: %w", pipeline, err)
	}
	return got, nil
}

// CountRunning counts the running runs of a pipeline.
func CountRunning(ctx context.Context, q Q, pipeline string) (int, error) {
	rows, err := q.Query(ctx, `SELECT COUNT(*) FROM sluice_runs WHERE pipeline = $1 AND state = $2`, pipeline, status.RunRunning)
	if err != nil {
		return 0, fmt.Errorf("counting running runs of %s: %w", pipeline, err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("counting running runs of %s: %w", pipeline, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("counting running runs of %s: %w", pipeline, err)
	}
	return n, nil
}

// FinishRun records a run's outcome.
func FinishRun(ctx context.Context, q Q, id int64, state string, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE sluice_runs SET state = $1, finished_at = $2 WHERE id = $3`, state, Micros(now), id); err != nil {
		return fmt.Errorf("finishing run %d: %w", id, err)
	}
	return nil
}

// FinishRuns ends the runs that are still running with the same state, in one statement, and
// returns them as finished (in no particular order).
func FinishRuns(ctx context.Context, q Q, d Dialect, ids []int64, state string, now time.Time) ([]RunRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var runs []RunRow
	var err error
	if d == Postgres {
		runs, err = queryRuns(ctx, q, `UPDATE sluice_runs SET state = $1, finished_at = $2 WHERE id = ANY($3) AND state = $4 RETURNING `+runColumns,
			state, Micros(now), ids, status.RunRunning)
	} else {
		js, jerr := json.Marshal(ids)
		if jerr != nil {
			return nil, fmt.Errorf("finishing %d runs: %w", len(ids), jerr)
		}
		runs, err = queryRuns(ctx, q, `UPDATE sluice_runs SET state = $1, finished_at = $2 WHERE id IN (SELECT value FROM json_each($3)) AND +state = $4 RETURNING `+runColumns,
			state, Micros(now), string(js), status.RunRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("finishing run %d and %d more: %w", ids[0], len(ids)-1, err)
	}
	return runs, nil
}

// MarkLateNotified records that the lateness of a run was notified.
func MarkLateNotified(ctx context.Context, q Q, id int64) (bool, error) {
	n, err := q.Exec(ctx, `UPDATE sluice_runs SET late_notified = 1 WHERE id = $1 AND late_notified = 0`, id)
	if err != nil {
		return false, fmt.Errorf("run %d: %w", id, err)
	}
	return n == 1, nil
}

// UnfinishedRuns lists runs that are scheduled or running, oldest interval first.
func UnfinishedRuns(ctx context.Context, q Q) ([]RunRow, error) {
	return queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs WHERE state IN ($1, $2) ORDER BY interval_start, id`,
		status.RunScheduled, status.RunRunning)
}

// RunsByID returns runs by id, in id order.
func RunsByID(ctx context.Context, q Q, ids []int64) ([]RunRow, error) {
	var out []RunRow
	for _, id := range ids {
		r, err := GetRun(ctx, q, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ActivityRow is an activity instance as stored.
type ActivityRow struct {
	RunID       int64
	Activity    string
	Kind        string
	State       string
	Attempts    int
	Pokes       int
	JobID       *int64
	WaitStarted *time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
	Result      string // JSON of activity.Result
	Error       string
	// AttemptBase is Attempts when the instance was last cleared (ClearActivities): its
	// retries count from there.
	AttemptBase int
}

const activityColumns = `run_id, activity, kind, state, attempts, pokes, job_id, wait_started, started_at, finished_at, result, error, attempt_base`

// Activities returns the activity instances of a run, by id.
func Activities(ctx context.Context, q Q, runID int64) ([]ActivityRow, error) {
	return queryActivities(ctx, q, `SELECT `+activityColumns+` FROM sluice_activities WHERE run_id = $1 ORDER BY activity`, runID)
}

// GetActivity returns one activity instance.
func GetActivity(ctx context.Context, q Q, runID int64, activity string) (ActivityRow, error) {
	acts, err := queryActivities(ctx, q, `SELECT `+activityColumns+` FROM sluice_activities WHERE run_id = $1 AND activity = $2`, runID, activity)
	if err != nil {
		return ActivityRow{}, err
	}
	if len(acts) == 0 {
		return ActivityRow{}, fmt.Errorf("activity %s of run %d: %w", activity, runID, ErrNotFound)
	}
	return acts[0], nil
}

func queryActivities(ctx context.Context, q Q, query string, args ...any) ([]ActivityRow, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading activities: %w", err)
	}
	defer rows.Close()
	var out []ActivityRow
	for rows.Next() {
		var a ActivityRow
		var job, wait, started, finished sql.NullInt64
		var result, errText sql.NullString
		if err := rows.Scan(&a.RunID, &a.Activity, &a.Kind, &a.State, &a.Attempts, &a.Pokes, &job, &wait, &started, &finished, &result, &errText, &a.AttemptBase); err != nil {
			return nil, fmt.Errorf("reading activities: %w", err)
		}
		if job.Valid {
			a.JobID = &job.Int64
		}
		a.WaitStarted, a.StartedAt, a.FinishedAt = nullTime(wait), nullTime(started), nullTime(finished)
		a.Result, a.Error = result.String, errText.String
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading activities: %w", err)
	}
	return out, nil
}

// SetWaiting records a poke of a wait_for precondition that did not hold.
func SetWaiting(ctx context.Context, q Q, runID int64, activity string, waitStarted time.Time) error {
	_, err := q.Exec(ctx, `UPDATE sluice_activities SET state = $1, pokes = pokes + 1, wait_started = COALESCE(wait_started, $2) WHERE run_id = $3 AND activity = $4`,
		status.ActivityWaiting, Micros(waitStarted), runID, activity)
	if err != nil {
		return fmt.Errorf("activity %s of run %d: %w", activity, runID, err)
	}
	return nil
}

// StartAttempt records that an attempt starts: the instance is running and has one more
// attempt, whose number it returns.
func StartAttempt(ctx context.Context, q Q, runID int64, activity, runner string, now time.Time) (int, error) {
	// RETURNING (PostgreSQL, and SQLite since 3.35) saves reading the row back.
	rows, err := q.Query(ctx, `UPDATE sluice_activities SET state = $1, attempts = attempts + 1, started_at = COALESCE(started_at, $2)
		WHERE run_id = $3 AND activity = $4 RETURNING attempts`,
		status.ActivityRunning, Micros(now), runID, activity)
	if err != nil {
		return 0, fmt.Errorf("starting activity %s of run %d: %w", activity, runID, err)
	}
	attempt := 0
	for rows.Next() {
		if err := rows.Scan(&attempt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("starting activity %s of run %d: %w", activity, runID, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("starting activity %s of run %d: %w", activity, runID, err)
	}
	if attempt == 0 {
		return 0, fmt.Errorf("activity %s of run %d: %w", activity, runID, ErrNotFound)
	}
	if _, err := q.Exec(ctx, `INSERT INTO sluice_attempts (run_id, activity, attempt, runner, state, started_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		runID, activity, attempt, runner, status.ActivityRunning, Micros(now)); err != nil {
		return 0, fmt.Errorf("recording attempt %d of activity %s of run %d: %w", attempt, activity, runID, err)
	}
	return attempt, nil
}

// FinishAttempt records an attempt's outcome (success or failed) and its log.
func FinishAttempt(ctx context.Context, q Q, runID int64, activity string, attempt int, state, errText, log string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE sluice_attempts SET state = $1, finished_at = $2, error = $3, log = $4 WHERE run_id = $5 AND activity = $6 AND attempt = $7`,
		state, Micros(now), nullString(errText), log, runID, activity, attempt)
	if err != nil {
		return fmt.Errorf("recording attempt %d of activity %s of run %d: %w", attempt, activity, runID, err)
	}
	return nil
}

// SetActivityState records an activity instance's state, with its result or error.
func SetActivityState(ctx context.Context, q Q, runID int64, activity, state, result, errText string, now time.Time) error {
	finished := sql.NullInt64{}
	if state == status.ActivitySuccess || state == status.ActivityFailed || state == status.ActivityUpstreamFailed {
		finished = sql.NullInt64{Int64: Micros(now), Valid: true}
	}
	_, err := q.Exec(ctx, `UPDATE sluice_activities SET state = $1, result = COALESCE($2, result), error = $3, finished_at = $4 WHERE run_id = $5 AND activity = $6`,
		state, nullString(result), nullString(errText), finished, runID, activity)
	if err != nil {
		return fmt.Errorf("activity %s of run %d: %w", activity, runID, err)
	}
	return nil
}

// Attempt is one attempt as stored.
type Attempt struct {
	RunID      int64
	Activity   string
	Attempt    int
	Runner     string
	State      string
	StartedAt  time.Time
	FinishedAt *time.Time
	Error      string
	Log        string
}

// Attempts lists the attempts of a run's activity (all activities when activity is empty).
func Attempts(ctx context.Context, q Q, runID int64, activity string) ([]Attempt, error) {
	query := `SELECT run_id, activity, attempt, runner, state, started_at, finished_at, error, log FROM sluice_attempts WHERE run_id = $1`
	args := []any{runID}
	if activity != "" {
		query += ` AND activity = $2`
		args = append(args, activity)
	}
	rows, err := q.Query(ctx, query+` ORDER BY activity, attempt`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading attempts of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var started int64
		var finished sql.NullInt64
		var errText, log sql.NullString
		if err := rows.Scan(&a.RunID, &a.Activity, &a.Attempt, &a.Runner, &a.State, &started, &finished, &errText, &log); err != nil {
			return nil, fmt.Errorf("reading attempts of run %d: %w", runID, err)
		}
		a.StartedAt, a.FinishedAt, a.Error, a.Log = FromMicros(started), nullTime(finished), errText.String, log.String
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading attempts of run %d: %w", runID, err)
	}
	return out, nil
}

// PutFreshness raises the freshness of a subject to value (never lowers it).
func PutFreshness(ctx context.Context, q Q, pipeline, subject string, value, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO sluice_freshness (pipeline, subject, value, observed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (pipeline, subject) DO UPDATE SET
			value = CASE WHEN excluded.value > sluice_freshness.value THEN excluded.value ELSE sluice_freshness.value END,
			observed_at = excluded.observed_at`,
		pipeline, subject, Micros(value), Micros(now))
	if err != nil {
		return fmt.Errorf("recording the freshness of %s/%s: %w", pipeline, subject, err)
	}
	return nil
}

// Freshness lists the freshness subjects of a pipeline (all pipelines when empty).
func Freshness(ctx context.Context, q Q, pipeline string) (map[string][]status.Freshness, error) {
	query := `SELECT pipeline, subject, value, observed_at FROM sluice_freshness`
	var args []any
	if pipeline != "" {
		query += ` WHERE pipeline = $1`
		args = append(args, pipeline)
	}
	rows, err := q.Query(ctx, query+` ORDER BY pipeline, subject`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading freshness: %w", err)
	}
	defer rows.Close()
	out := map[string][]status.Freshness{}
	for rows.Next() {
		var p string
		var f status.Freshness
		var v, o int64
		if err := rows.Scan(&p, &f.Subject, &v, &o); err != nil {
			return nil, fmt.Errorf("reading freshness: %w", err)
		}
		f.Value, f.ObservedAt = FromMicros(v), FromMicros(o)
		out[p] = append(out[p], f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading freshness: %w", err)
	}
	return out, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RecentRuns lists a pipeline's newest runs by interval, at most limit.
func RecentRuns(ctx context.Context, q Q, pipeline string, limit int) ([]RunRow, error) {
	return queryRuns(ctx, q, `SELECT `+runColumns+` FROM sluice_runs WHERE pipeline = $1
		ORDER BY interval_start DESC, seq DESC LIMIT $2`, pipeline, limit)
}

// RunCounts counts a pipeline's runs by state.
func RunCounts(ctx context.Context, q Q, pipeline string) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT state, COUNT(*) FROM sluice_runs WHERE pipeline = $1 GROUP BY state`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("counting runs of %s: %w", pipeline, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("counting runs of %s: %w", pipeline, err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting runs of %s: %w", pipeline, err)
	}
	return out, nil
}

// RecentFailures lists a pipeline's newest failed attempts, at most limit.
func RecentFailures(ctx context.Context, q Q, pipeline string, limit int) ([]status.Failure, error) {
	rows, err := q.Query(ctx, `SELECT a.run_id, r.interval_start, a.activity, a.attempt, COALESCE(a.finished_at, a.started_at), COALESCE(a.error, '')
		FROM sluice_attempts a JOIN sluice_runs r ON r.id = a.run_id
		WHERE r.pipeline = $1 AND a.state = $2 ORDER BY COALESCE(a.finished_at, a.started_at) DESC LIMIT $3`,
		pipeline, status.ActivityFailed, limit)
	if err != nil {
		return nil, fmt.Errorf("reading failures of %s: %w", pipeline, err)
	}
	defer rows.Close()
	var out []status.Failure
	for rows.Next() {
		var f status.Failure
		var start, at int64
		if err := rows.Scan(&f.RunID, &start, &f.Activity, &f.Attempt, &at, &f.Error); err != nil {
			return nil, fmt.Errorf("reading failures of %s: %w", pipeline, err)
		}
		f.IntervalStart, f.At = FromMicros(start), FromMicros(at)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading failures of %s: %w", pipeline, err)
	}
	return out, nil
}

// QueueDepth counts activity instances waiting to run, by state (queued, retrying, waiting).
func QueueDepth(ctx context.Context, q Q) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT state, COUNT(*) FROM sluice_activities WHERE state IN ($1, $2, $3) GROUP BY state`,
		status.ActivityQueued, status.ActivityRetrying, status.ActivityWaiting)
	if err != nil {
		return nil, fmt.Errorf("counting queued activities: %w", err)
	}
	defer rows.Close()
	out := map[string]int{status.ActivityQueued: 0, status.ActivityRetrying: 0, status.ActivityWaiting: 0}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("counting queued activities: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting queued activities: %w", err)
	}
	return out, nil
}
