// Package board reads the web UI's views from the state database: the home page's rows, a
// pipeline's grid, graph, schedule and versions, a run's attempts and logs, the runners and
// the action log (issue 16).
//
// Every view costs a fixed number of queries however many pipelines and runs there are (the
// render benchmark counts them): the home page reads every pipeline's newest runs in one
// statement, and the decoded definitions are cached by version, which is a content hash and so
// never changes meaning.
package board

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Bounds of the views.
const (
	// GridRuns is how many runs the pipeline page's grid shows.
	GridRuns = 25
	// NextRuns is how many upcoming intervals the pipeline page lists.
	NextRuns = 5
	// VersionsShown is how many published versions the pipeline page lists.
	VersionsShown = 20
	// ActionsShown is how many actions a page lists.
	ActionsShown = 25
	// FailuresShown is how many failed attempts the pipeline page lists.
	FailuresShown = 10
	// RunnersSince is how far back the runners page looks for runners that ran attempts.
	RunnersSince = 24 * time.Hour
)

// Reader reads the views. It is safe for concurrent use.
type Reader struct {
	db      *state.DB
	secrets redact.Scrubber
	now     func() time.Time
	queries atomic.Int64

	mu   sync.Mutex
	defs map[string]*compiled // by version
}

// compiled is what the views need of one pipeline version, worked out once.
type compiled struct {
	p        *definition.Pipeline
	sched    *definition.CompiledSchedule // nil when it does not compile, or there is none
	trigger  string                       // what else starts runs (definition.Trigger.Describe)
	schedule string
	order    []string // activities in topological order
}

// New returns a Reader of db. secrets scrubs what the views show of logs, errors and rendered
// activities (nil scrubs nothing); now is the clock (nil: time.Now).
func New(db *state.DB, secrets redact.Scrubber, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{db: db, secrets: secrets, now: now, defs: map[string]*compiled{}}
}

// Queries counts the statements the Reader has run: the render benchmark reports it per page.
func (r *Reader) Queries() int64 { return r.queries.Load() }

// q is the database's reader, counting statements.
func (r *Reader) q() state.Q { return countingQ{q: r.db.Reader(), n: &r.queries} }

type countingQ struct {
	q state.Q
	n *atomic.Int64
}

func (c countingQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.n.Add(1)
	return c.q.Exec(ctx, q, args...)
}

func (c countingQ) Query(ctx context.Context, q string, args ...any) (state.Rows, error) {
	c.n.Add(1)
	return c.q.Query(ctx, q, args...)
}

func (r *Reader) scrub(s string) string {
	if r.secrets == nil {
		return s
	}
	return r.secrets.Scrub(s)
}

// definitions returns the compiled newest version of every pipeline, by name, reading from the
// database only the versions not seen before (one statement, or none).
func (r *Reader) definitions(ctx context.Context, rows []state.BoardPipeline) (map[string]*compiled, error) {
	out := make(map[string]*compiled, len(rows))
	r.mu.Lock()
	missing := false
	for _, row := range rows {
		if c := r.defs[row.Version]; c != nil {
			out[row.Name] = c
		} else {
			missing = true
		}
	}
	known := make(map[string]bool, len(r.defs))
	for v := range r.defs {
		known[v] = true
	}
	r.mu.Unlock()
	if !missing {
		return out, nil
	}
	docs, err := state.CurrentDocuments(ctx, r.q(), known)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		doc, ok := docs[row.Name]
		if !ok || out[row.Name] != nil {
			continue
		}
		c := compile(doc)
		if c == nil {
			continue // undecodable: the row shows without schedule or graph
		}
		r.mu.Lock()
		r.defs[row.Version] = c
		r.mu.Unlock()
		out[row.Name] = c
	}
	return out, nil
}

// runEventSample is how many of a triggered run's objects its page names.
const runEventSample = 10

func compile(doc []byte) *compiled {
	p, err := definition.DecodePipeline(doc)
	if err != nil {
		return nil
	}
	c := &compiled{p: p, trigger: p.Trigger.Describe()}
	if p.HasSchedule() {
		c.schedule = p.Schedule.Describe()
		if s, err := p.Schedule.Compile(); err == nil {
			c.sched = s
		}
	}
	if order, err := definition.TopoOrder(p.Activities); err == nil {
		c.order = order
	} else {
		for id := range p.Activities {
			c.order = append(c.order, id)
		}
		sort.Strings(c.order)
	}
	return c
}

// nextRun is when the next interval's run is due: the end of the first interval that has not
// ended at now. Nil when the pipeline does not schedule (disabled, removed, paused, ended).
func nextRun(h *status.HomePipeline, c *compiled, now time.Time) *time.Time {
	if c == nil || c.sched == nil || !h.Enabled || h.Removed || h.Paused != nil {
		return nil
	}
	next := c.sched.NextRuns(now, 1)
	if len(next) == 0 {
		return nil
	}
	iv, ok := c.sched.Next(next[0])
	if !ok {
		return nil
	}
	end := iv.End.UTC()
	return &end
}

func homeRow(b state.BoardPipeline, c *compiled, cells []status.RunCell, now time.Time) status.HomePipeline {
	h := status.HomePipeline{
		Name: b.Name, Owner: b.Owner, Version: b.Version, Enabled: b.Enabled, Removed: b.Removed, Paused: b.Paused,
	}
	if b.Freshness != nil {
		f := state.FromMicros(*b.Freshness)
		h.Freshness = &f
	}
	if c != nil {
		h.Schedule, h.Trigger = c.schedule, c.trigger
	}
	h.NextRun = nextRun(&h, c, now)
	h.SetCells(cells)
	return h
}

// Home returns every pipeline, with its newest status.HomeCells runs when withCells (one
// statement more): three statements at most (pipelines, runs, and definitions not seen
// before). Without the runs, Cells fills them in for the pipelines a page shows.
func (r *Reader) Home(ctx context.Context, withCells bool) ([]status.HomePipeline, error) {
	rows, err := state.BoardPipelines(ctx, r.q(), "")
	if err != nil {
		return nil, err
	}
	defs, err := r.definitions(ctx, rows)
	if err != nil {
		return nil, err
	}
	var cells map[string][]status.RunCell
	if withCells {
		if cells, err = state.NewestRunCells(ctx, r.q(), r.db.Dialect, nil, status.HomeCells); err != nil {
			return nil, err
		}
	}
	now := r.now()
	out := make([]status.HomePipeline, 0, len(rows))
	for _, b := range rows {
		out = append(out, homeRow(b, defs[b.Name], cells[b.Name], now))
	}
	return out, nil
}

// Cells returns the newest status.HomeCells runs of the named pipelines, newest first, in one
// statement.
func (r *Reader) Cells(ctx context.Context, names []string) (map[string][]status.RunCell, error) {
	if names == nil {
		names = []string{}
	}
	return state.NewestRunCells(ctx, r.q(), r.db.Dialect, names, status.HomeCells)
}

// Pipeline returns the pipeline page of name, or nil when the runner knows no such pipeline.
func (r *Reader) Pipeline(ctx context.Context, name string) (*status.PipelineDetail, error) {
	rows, err := state.BoardPipelines(ctx, r.q(), name)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	defs, err := r.definitions(ctx, rows)
	if err != nil {
		return nil, err
	}
	c := defs[name]
	q := r.q()
	cells, err := state.NewestRunCells(ctx, q, r.db.Dialect, []string{name}, GridRuns)
	if err != nil {
		return nil, err
	}
	grid, err := state.GridActivities(ctx, q, name, GridRuns)
	if err != nil {
		return nil, err
	}
	now := r.now()
	d := &status.PipelineDetail{HomePipeline: homeRow(rows[0], c, cells[name], now)}
	if d.Counts, err = state.RunCounts(ctx, q, name); err != nil {
		return nil, err
	}
	if d.Versions, err = state.Versions(ctx, q, name, VersionsShown); err != nil {
		return nil, err
	}
	if d.RecentFailures, err = state.RecentFailures(ctx, q, name, FailuresShown); err != nil {
		return nil, err
	}
	for i := range d.RecentFailures {
		d.RecentFailures[i].Error = r.scrub(d.RecentFailures[i].Error)
	}
	acts, err := state.Actions(ctx, q, name, ActionsShown)
	if err != nil {
		return nil, err
	}
	d.Actions = actionsView(acts)
	known := map[string]bool{}
	if c != nil {
		d.Description = c.p.Description
		for _, id := range c.order {
			a := c.p.Activities[id]
			d.Activities = append(d.Activities, status.GridActivity{ID: id, Kind: kindOf(a), DependsOn: a.DependsOn})
			known[id] = true
		}
		if c.sched != nil {
			for _, s := range c.sched.NextRuns(now, NextRuns) {
				if iv, ok := c.sched.Next(s); ok {
					d.NextRuns = append(d.NextRuns, status.Interval{Start: iv.Start, End: iv.End})
				}
			}
		}
	}
	// Activities of older versions that shown runs have, after the newest version's.
	var gone []string
	for _, run := range cells[name] {
		for id := range grid[run.ID] {
			if !known[id] {
				known[id] = true
				gone = append(gone, id)
			}
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		d.Activities = append(d.Activities, status.GridActivity{ID: id, Gone: true})
	}
	for _, run := range cells[name] {
		g := status.GridRun{RunCell: run, Activities: grid[run.ID]}
		if g.Activities == nil {
			g.Activities = map[string]status.GridCell{}
		}
		d.Grid = append(d.Grid, g)
	}
	return d, nil
}

func kindOf(a *definition.Activity) string {
	if k := a.Kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

func actionsView(recs []state.ActionRecord) []status.Action {
	out := make([]status.Action, 0, len(recs))
	for _, a := range recs {
		out = append(out, status.Action{ID: a.ID, At: a.At, Actor: a.Actor, Action: a.Action, Pipeline: a.Pipeline, RunID: a.RunID,
			Activity: a.Activity, Detail: a.Detail, Outcome: a.Outcome, Error: a.Error})
	}
	return out
}

// Run returns the run page of id, or nil when there is no such run.
func (r *Reader) Run(ctx context.Context, id int64) (*status.RunDetail, error) {
	q := r.q()
	run, err := state.GetRun(ctx, q, id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := &status.RunDetail{Run: status.Run{
		ID: run.ID, Pipeline: run.Pipeline, IntervalStart: run.IntervalStart, IntervalEnd: run.IntervalEnd, Seq: run.Seq,
		Version: run.Version, Trigger: run.Trigger, State: run.State, CreatedAt: run.CreatedAt, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt,
	}}
	if d.Owner, err = state.RunOwner(ctx, q, run.Pipeline); err != nil {
		return nil, err
	}
	if state.IsEventTrigger(run.Trigger) {
		if d.Event, err = state.RunEventSummary(ctx, q, id, runEventSample); err != nil {
			return nil, err
		}
	}
	acts, err := state.Activities(ctx, q, id)
	if err != nil {
		return nil, err
	}
	attempts, err := state.Attempts(ctx, q, id, "")
	if err != nil {
		return nil, err
	}
	byAct := map[string][]state.Attempt{}
	for _, a := range attempts {
		byAct[a.Activity] = append(byAct[a.Activity], a)
	}
	var p *definition.Pipeline
	r.mu.Lock()
	c := r.defs[run.Version]
	r.mu.Unlock()
	if c == nil {
		if doc, err := state.Definition(ctx, q, run.Pipeline, run.Version); err == nil {
			if c = compile(doc); c != nil {
				r.mu.Lock()
				r.defs[run.Version] = c
				r.mu.Unlock()
			}
		}
	}
	order := map[string]int{}
	if c != nil {
		p = c.p
		for i, id := range c.order {
			order[id] = i
		}
	}
	for _, a := range acts {
		ad := status.ActivityDetail{
			Activity:  status.Activity{ID: a.Activity, Kind: a.Kind, State: a.State, Attempts: a.Attempts, Error: r.scrub(a.Error)},
			StartedAt: a.StartedAt, FinishedAt: a.FinishedAt,
		}
		if a.Result != "" {
			var res activity.Result
			if json.Unmarshal([]byte(a.Result), &res) == nil {
				ad.Summary, ad.Warnings, ad.Details = r.scrub(res.Summary), res.Warnings, res.Details
				for i := range ad.Warnings {
					ad.Warnings[i] = r.scrub(ad.Warnings[i])
				}
			}
		}
		if p != nil && p.Activities[a.Activity] != nil {
			def := p.Activities[a.Activity]
			ad.DependsOn = def.DependsOn
			ad.Rendered = r.rendered(def, run, p)
		}
		for _, at := range byAct[a.Activity] {
			log := r.scrub(at.Log)
			ad.History = append(ad.History, status.AttemptDetail{
				Attempt: at.Attempt, Runner: at.Runner, State: at.State, StartedAt: at.StartedAt, FinishedAt: at.FinishedAt,
				Error: r.scrub(at.Error), Log: tail(log, status.LogTail), LogBytes: len(log),
			})
		}
		d.Activities = append(d.Activities, ad)
	}
	sort.SliceStable(d.Activities, func(i, j int) bool {
		oi, iok := order[d.Activities[i].ID]
		oj, jok := order[d.Activities[j].ID]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return d.Activities[i].ID < d.Activities[j].ID
	})
	recs, err := state.RunActions(ctx, q, id, ActionsShown)
	if err != nil {
		return nil, err
	}
	d.Actions = actionsView(recs)
	return d, nil
}

// rendered is the activity as its run executes it: templates filled in with the run's
// interval, parameters and id, as indented JSON, scrubbed of the runner's secrets. Documents
// hold no secrets by design (connections are named, never spelled out), but a parameter may
// still carry one a user put there: the scrubber removes every secret the runner knows.
func (r *Reader) rendered(def *definition.Activity, run state.RunRow, p *definition.Pipeline) string {
	data := definition.TemplateData{Start: run.IntervalStart, End: run.IntervalEnd, Params: p.Parameters, Pipeline: p.Name, RunID: activity.RunIDString(run.ID)}
	if p.Schedule.Timezone != "" {
		if loc, err := definition.LoadTimezone(p.Schedule.Timezone); err == nil {
			data.Start, data.End = data.Start.In(loc), data.End.In(loc)
		}
	}
	out, err := activity.Render(def, data)
	if err != nil {
		return r.scrub("(cannot be rendered: " + err.Error() + ")")
	}
	// Not HTML-escaped here: the page escapes it, and "<" reads better than "\u003c".
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Sprintf("(cannot be shown: %v)", err)
	}
	return r.scrub(strings.TrimSuffix(b.String(), "\n"))
}

// tail is the last n bytes of s, cut at a line start when one is near.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	t := s[len(s)-n:]
	for i := 0; i < len(t) && i < 512; i++ {
		if t[i] == '\n' {
			return t[i+1:]
		}
	}
	return t
}

// AttemptLog returns the whole stored log of one attempt, scrubbed.
func (r *Reader) AttemptLog(ctx context.Context, runID int64, activity string, attempt int) (string, error) {
	log, err := state.AttemptLog(ctx, r.q(), runID, activity, attempt)
	if err != nil {
		return "", err
	}
	return r.scrub(log), nil
}

// Runners returns the runners that ran attempts in the last RunnersSince or run one now, with
// what each runs now and (PostgreSQL) whether it is alive, newest first.
func (r *Reader) Runners(ctx context.Context) ([]status.Runner, error) {
	q := r.q()
	working, err := state.RunningAttempts(ctx, q)
	if err != nil {
		return nil, err
	}
	recent, err := state.RecentRunners(ctx, q, state.Micros(r.now().Add(-RunnersSince)))
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for id := range working {
		ids[id] = true
	}
	for id := range recent {
		ids[id] = true
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	var live map[string]bool
	if r.db.Dialect == state.Postgres {
		if live, err = state.RunnersAlive(ctx, q, list); err != nil {
			return nil, err
		}
	}
	out := make([]status.Runner, 0, len(list))
	for _, id := range list {
		ru := status.Runner{ID: id, Working: working[id], LiveKnown: live != nil, Live: live[id]}
		if at, ok := recent[id]; ok {
			ru.LastStart = state.FromMicros(at)
		}
		for _, w := range working[id] {
			if w.Since.After(ru.LastStart) {
				ru.LastStart = w.Since
			}
		}
		out = append(out, ru)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastStart.Equal(out[j].LastStart) {
			return out[i].LastStart.After(out[j].LastStart)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Postgres says whether the state database is PostgreSQL (the runners page says what it can
// know on SQLite).
func (r *Reader) Postgres() bool { return r.db.Dialect == state.Postgres }

// Actions returns the newest actions of every pipeline.
func (r *Reader) Actions(ctx context.Context, limit int) ([]status.Action, error) {
	recs, err := state.Actions(ctx, r.q(), "", limit)
	if err != nil {
		return nil, err
	}
	return actionsView(recs), nil
}
