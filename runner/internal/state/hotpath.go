package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The hot path of an activity is two writes: StartActivities, then (on success)
// SucceedActivities and the queueing of the dependents it made ready. Each takes a batch: the
// engine gathers the activities that start, or succeed, at the same time into one write (see
// runner/internal/groupcommit), so a busy runner pays a few statements and one commit for
// many activities. On PostgreSQL each write is one statement over arrays (data-modifying
// CTEs); SQLite has no such CTEs and runs its parts one after another over a JSON array, in
// the same transaction: two statements to start, three or four to succeed, whatever the batch.

// Start is one activity instance whose attempt starts, and the job working it.
type Start struct {
	RunID    int64
	Activity string
	JobID    int64
}

// StartActivities records that an attempt of each unfinished instance starts: the instance is
// running with one more attempt, and the attempt is recorded with runner. It returns the
// instances as updated (Attempts is the attempt's number), keyed by RunKey; an instance that
// is final or missing is left out and unchanged (the caller then looks at why). The starts
// must name distinct instances.
//
// The job being worked (JobID) is recorded on the instance here: the transaction that queued
// it marked it queued without waiting for River's id.
func StartActivities(ctx context.Context, q Q, d Dialect, starts []Start, runner string, now time.Time) (map[RunKey]ActivityRow, error) {
	if len(starts) == 0 {
		return map[RunKey]ActivityRow{}, nil
	}
	var acts []ActivityRow
	var err error
	if d == Postgres {
		runs, names, jobs := make([]int64, len(starts)), make([]string, len(starts)), make([]int64, len(starts))
		for i, s := range starts {
			runs[i], names[i], jobs[i] = s.RunID, s.Activity, s.JobID
		}
		acts, err = queryActivities(ctx, q, `WITH c AS (SELECT * FROM unnest($3::bigint[], $4::text[], $5::bigint[]) AS c(rid, act, jid)),
			a AS (UPDATE sluice_activities s SET state = $1, attempts = s.attempts + 1, started_at = COALESCE(s.started_at, $2), job_id = c.jid
				FROM c WHERE s.run_id = c.rid AND s.activity = c.act AND s.state NOT IN ($6, $7, $8) RETURNING s.*),
			i AS (INSERT INTO sluice_attempts (run_id, activity, attempt, runner, state, started_at) SELECT run_id, activity, attempts, $9, $1, $2 FROM a)
			SELECT `+activityColumns+` FROM a`,
			status.ActivityRunning, Micros(now), runs, names, jobs,
			status.ActivitySuccess, status.ActivityFailed, status.ActivityUpstreamFailed, runner)
	} else {
		rows := make([][3]any, len(starts))
		for i, s := range starts {
			rows[i] = [3]any{s.RunID, s.Activity, s.JobID}
		}
		var js []byte
		if js, err = json.Marshal(rows); err != nil {
			return nil, fmt.Errorf("starting %d activities: %w", len(starts), err)
		}
		acts, err = queryActivities(ctx, q, `UPDATE sluice_activities AS s SET state = $1, attempts = s.attempts + 1, started_at = COALESCE(s.started_at, $2), job_id = c.jid
			FROM (SELECT value ->> 0 AS rid, value ->> 1 AS act, value ->> 2 AS jid FROM json_each($3)) AS c
			WHERE s.run_id = c.rid AND s.activity = c.act AND s.state NOT IN ($4, $5, $6) RETURNING `+activityColumns,
			status.ActivityRunning, Micros(now), string(js), status.ActivitySuccess, status.ActivityFailed, status.ActivityUpstreamFailed)
		if err == nil && len(acts) > 0 {
			att := make([][3]any, len(acts))
			for i, a := range acts {
				att[i] = [3]any{a.RunID, a.Activity, a.Attempts}
			}
			if js, err = json.Marshal(att); err == nil {
				_, err = q.Exec(ctx, `INSERT INTO sluice_attempts (run_id, activity, attempt, runner, state, started_at)
					SELECT value ->> 0, value ->> 1, value ->> 2, $1, $2, $3 FROM json_each($4)`,
					runner, status.ActivityRunning, Micros(now), string(js))
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("starting activity %s of run %d and %d more: %w", starts[0].Activity, starts[0].RunID, len(starts)-1, err)
	}
	out := make(map[RunKey]ActivityRow, len(acts))
	for _, a := range acts {
		out[RunKey{RunID: a.RunID, Activity: a.Activity}] = a
	}
	return out, nil
}

// RunKey names one activity instance.
type RunKey struct {
	RunID    int64
	Activity string
}

// Success is one successful attempt to record, and the candidates its success may make ready:
// each activity that depends on this one, mapped to all the activities it depends on.
type Success struct {
	RunID      int64
	Activity   string
	Attempt    int
	Result     string // JSON; "" keeps the instance's result
	Log        string
	Candidates map[string][]string
}

// Progress is what a run's row says of its activities after some of them finished: the
// succeeded ones, and how many are final (succeeded, failed or upstream_failed); and the
// dependents the successes made ready, now marked queued. It is read from the row the
// finishing statement updated, so activities finishing at once see each other (the row lock
// orders them), with no separate lock or read of the activities.
type Progress struct {
	Succeeded map[string]bool
	Finals    int
	Queued    []string
}

// SucceedActivities records successful attempts: each attempt and instance (with its result
// JSON) succeeded, and each run's row counts them. Of the candidates, the pending ones whose
// dependencies have now all succeeded are marked queued: the caller inserts their jobs in the
// same transaction. It returns each run's progress including these successes. The successes
// must name distinct instances.
func SucceedActivities(ctx context.Context, q Q, d Dialect, successes []Success, now time.Time) (map[int64]*Progress, error) {
	if len(successes) == 0 {
		return map[int64]*Progress{}, nil
	}
	fail := func(err error) (map[int64]*Progress, error) {
		s := successes[0]
		return nil, fmt.Errorf("recording the success of activity %s of run %d (attempt %d) and %d more: %w", s.Activity, s.RunID, s.Attempt, len(successes)-1, err)
	}
	var cands []candidate
	for _, s := range successes {
		for _, n := range sortedKeys(s.Candidates) {
			cands = append(cands, candidate{RunID: s.RunID, Activity: n, Needs: s.Candidates[n]})
		}
	}
	var progress map[int64]*Progress
	var err error
	if d == Postgres {
		progress, err = succeedPostgres(ctx, q, successes, cands, now)
	} else {
		progress, err = succeedSQLite(ctx, q, successes, cands, now)
	}
	if err != nil {
		return fail(err)
	}
	for _, s := range successes {
		if progress[s.RunID] == nil {
			return fail(fmt.Errorf("run %d: %w", s.RunID, ErrNotFound))
		}
	}
	return progress, nil
}

// candidate is a dependent that a success may make ready: the activities it needs.
type candidate struct {
	RunID    int64
	Activity string
	Needs    []string
}

// succeedPostgres is SucceedActivities in one statement: the attempts, the instances, the
// runs' rows (each locked once, whichever of its activities are in the batch, then seen in its
// newest version), and the dependents found ready from those rows. The runs' rows are locked
// in id order first (l, a row-locking CTE, which PostgreSQL runs in full before the update
// reads it): two runners' batches over the same runs then queue behind each other in the same
// order whatever plan each statement gets, and cannot deadlock on them.
func succeedPostgres(ctx context.Context, q Q, successes []Success, cands []candidate, now time.Time) (map[int64]*Progress, error) {
	n := len(successes)
	runs, acts, attempts, results, logs := make([]int64, n), make([]string, n), make([]int32, n), make([]*string, n), make([]string, n)
	for i, s := range successes {
		runs[i], acts[i], attempts[i], logs[i] = s.RunID, s.Activity, int32(s.Attempt), s.Log
		if s.Result != "" {
			results[i] = &successes[i].Result
		}
	}
	cRuns, cActs, cNeeds := make([]int64, len(cands)), make([]string, len(cands)), make([]string, len(cands))
	for i, c := range cands {
		cRuns[i], cActs[i], cNeeds[i] = c.RunID, c.Activity, strings.Join(c.Needs, " ")
	}
	rows, err := q.Query(ctx, `WITH c AS (SELECT * FROM unnest($3::bigint[], $4::text[], $5::int[], $6::text[], $7::text[]) AS c(rid, act, att, res, lg)),
			t AS (UPDATE sluice_attempts x SET state = $1, finished_at = $2, error = NULL, log = c.lg FROM c
				WHERE x.run_id = c.rid AND x.activity = c.act AND x.attempt = c.att),
			a AS (UPDATE sluice_activities s SET state = $1, result = COALESCE(c.res, s.result), error = NULL, finished_at = $2 FROM c
				WHERE s.run_id = c.rid AND s.activity = c.act),
			g AS (SELECT rid, string_agg(act || ' ', '') AS acts, count(*) AS n FROM c GROUP BY rid),
			l AS (SELECT id FROM sluice_runs WHERE id IN (SELECT rid FROM g) ORDER BY id FOR UPDATE),
			r AS (UPDATE sluice_runs u SET succeeded = u.succeeded || g.acts, finals = u.finals + g.n FROM g
				WHERE u.id = g.rid AND u.id IN (SELECT id FROM l)
				RETURNING u.id, u.succeeded, u.finals),
			q AS (UPDATE sluice_activities s SET state = $8 FROM r, unnest($9::bigint[], $10::text[], $11::text[]) AS k(rid, act, needs)
				WHERE k.rid = r.id AND s.run_id = r.id AND s.activity = k.act AND s.state = $12
				AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(k.needs, ' ')) AS n(dep) WHERE position(' ' || n.dep || ' ' IN ' ' || r.succeeded) = 0)
				RETURNING s.run_id, s.activity)
			SELECT r.id, r.succeeded, r.finals, COALESCE((SELECT string_agg(q.activity, ' ' ORDER BY q.activity) FROM q WHERE q.run_id = r.id), '') FROM r`,
		status.ActivitySuccess, Micros(now), runs, acts, attempts, results, logs,
		status.ActivityQueued, cRuns, cActs, cNeeds, status.ActivityPending)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]*Progress{}
	for rows.Next() {
		var id int64
		var succeeded, queued string
		p := &Progress{Succeeded: map[string]bool{}}
		if err := rows.Scan(&id, &succeeded, &p.Finals, &queued); err != nil {
			return nil, err
		}
		for _, a := range strings.Fields(succeeded) {
			p.Succeeded[a] = true
		}
		p.Queued = strings.Fields(queued)
		out[id] = p
	}
	return out, rows.Err()
}

// succeedSQLite is SucceedActivities as three statements over a JSON array, and a fourth to
// mark the ready dependents queued when there are any (the transaction holds SQLite's write
// lock throughout).
func succeedSQLite(ctx context.Context, q Q, successes []Success, cands []candidate, now time.Time) (map[int64]*Progress, error) {
	items := make([][5]any, len(successes))
	for i, s := range successes {
		var res any
		if s.Result != "" {
			res = s.Result
		}
		items[i] = [5]any{s.RunID, s.Activity, s.Attempt, res, s.Log}
	}
	js, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("encoding %d successes: %w", len(items), err)
	}
	// c reads the items from the JSON array bound to placeholder ph.
	c := func(ph string) string {
		return `(SELECT value ->> 0 AS rid, value ->> 1 AS act, value ->> 2 AS att, value ->> 3 AS res, value ->> 4 AS lg FROM json_each(` + ph + `))`
	}
	if _, err := q.Exec(ctx, `UPDATE sluice_attempts AS x SET state = $1, finished_at = $2, error = NULL, log = c.lg FROM `+c("$3")+` AS c
		WHERE x.run_id = c.rid AND x.activity = c.act AND x.attempt = c.att`, status.ActivitySuccess, Micros(now), string(js)); err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `UPDATE sluice_activities AS s SET state = $1, result = COALESCE(c.res, s.result), error = NULL, finished_at = $2 FROM `+c("$3")+` AS c
		WHERE s.run_id = c.rid AND s.activity = c.act`, status.ActivitySuccess, Micros(now), string(js)); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `UPDATE sluice_runs AS u SET succeeded = u.succeeded || g.acts, finals = u.finals + g.n
		FROM (SELECT rid, group_concat(act || ' ', '') AS acts, count(*) AS n FROM `+c("$1")+` GROUP BY rid) AS g
		WHERE u.id = g.rid RETURNING id, succeeded, finals`, string(js))
	if err != nil {
		return nil, err
	}
	out := map[int64]*Progress{}
	for rows.Next() {
		var id int64
		var succeeded string
		p := &Progress{Succeeded: map[string]bool{}}
		if err := rows.Scan(&id, &succeeded, &p.Finals); err != nil {
			rows.Close()
			return nil, err
		}
		for _, a := range strings.Fields(succeeded) {
			p.Succeeded[a] = true
		}
		out[id] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var ready [][2]any
	for _, k := range cands {
		p := out[k.RunID]
		if p == nil {
			continue
		}
		ok := true
		for _, dep := range k.Needs {
			ok = ok && p.Succeeded[dep]
		}
		if ok {
			ready = append(ready, [2]any{k.RunID, k.Activity})
		}
	}
	if len(ready) == 0 {
		return out, nil
	}
	if js, err = json.Marshal(ready); err != nil {
		return nil, fmt.Errorf("encoding %d ready activities: %w", len(ready), err)
	}
	rows, err = q.Query(ctx, `UPDATE sluice_activities SET state = $1 WHERE +state = $2
		AND (run_id, activity) IN (SELECT value ->> 0, value ->> 1 FROM json_each($3)) RETURNING run_id, activity`,
		status.ActivityQueued, status.ActivityPending, string(js))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var act string
		if err := rows.Scan(&id, &act); err != nil {
			return nil, err
		}
		out[id].Queued = append(out[id].Queued, act)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, p := range out {
		sort.Strings(p.Queued)
	}
	return out, nil
}

// AddFinals counts n more final activities (a failure and the dependents it failed) on the
// run's row, so that the activity that finishes last, whichever path it takes, sees the run
// complete.
func AddFinals(ctx context.Context, q Q, runID int64, n int) error {
	if _, err := q.Exec(ctx, `UPDATE sluice_runs SET finals = finals + $1 WHERE id = $2`, n, runID); err != nil {
		return fmt.Errorf("run %d: %w", runID, err)
	}
	return nil
}
