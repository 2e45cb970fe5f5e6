package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Board is the source of the web UI's views (issue 16): the runner's database through package
// board. Without one, the server shows the status pages of Source alone.
type Board interface {
	// Home returns every pipeline, with its newest runs (Cells) when withCells; Cells reads
	// those of a few pipelines, for a page that sorts and filters without them.
	Home(ctx context.Context, withCells bool) ([]status.HomePipeline, error)
	Cells(ctx context.Context, names []string) (map[string][]status.RunCell, error)
	// Pipeline returns nil when the runner knows no such pipeline; Run when there is no such
	// run.
	Pipeline(ctx context.Context, name string) (*status.PipelineDetail, error)
	Run(ctx context.Context, id int64) (*status.RunDetail, error)
	// AttemptLog returns the whole stored log of an attempt (an error wrapping a not-found
	// error when there is none).
	AttemptLog(ctx context.Context, runID int64, activity string, attempt int) (string, error)
	Runners(ctx context.Context) ([]status.Runner, error)
	// Postgres says whether runners share a PostgreSQL database (liveness is known).
	Postgres() bool
	Actions(ctx context.Context, limit int) ([]status.Action, error)
}

// Home page filters and sorts.
const (
	FilterEnabled  = "enabled"
	FilterPaused   = "paused"
	FilterDisabled = "disabled"
	FilterFailing  = "failing"

	SortName      = "name"
	SortOwner     = "owner"
	SortLastRun   = "last_run"
	SortNextRun   = "next_run"
	SortFreshness = "freshness"
	SortStreak    = "failure_streak"
)

// HomeFilters lists the state filters; HomeSorts the sort keys.
func HomeFilters() []string {
	return []string{FilterEnabled, FilterPaused, FilterDisabled, FilterFailing}
}

// HomeSorts lists the home page's sort keys.
func HomeSorts() []string {
	return []string{SortName, SortOwner, SortLastRun, SortNextRun, SortFreshness, SortStreak}
}

type homeFilter struct {
	Owner, State, Q, Sort string
}

func (f homeFilter) query(page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"owner": f.Owner, "state": f.State, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Sort != "" && f.Sort != SortName {
		v.Set("sort", f.Sort)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

func readHomeFilter(r *http.Request) (homeFilter, error) {
	q := r.URL.Query()
	f := homeFilter{Owner: q.Get("owner"), State: q.Get("state"), Q: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort")}
	if f.State != "" && !contains(HomeFilters(), f.State) {
		return f, fmt.Errorf("state %q: use one of %s", f.State, strings.Join(HomeFilters(), ", "))
	}
	if f.Sort == "" {
		f.Sort = SortName
	}
	if !contains(HomeSorts(), f.Sort) {
		return f, fmt.Errorf("sort %q: use one of %s", f.Sort, strings.Join(HomeSorts(), ", "))
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func pipelineState(h *status.HomePipeline) string {
	switch {
	case h.Removed, !h.Enabled:
		return FilterDisabled
	case h.Paused != nil:
		return FilterPaused
	default:
		return FilterEnabled
	}
}

func (f homeFilter) keep(h *status.HomePipeline) bool {
	if f.Owner != "" && h.Owner != f.Owner {
		return false
	}
	switch f.State {
	case "":
	case FilterFailing:
		if h.FailureStreak == 0 {
			return false
		}
	default:
		if pipelineState(h) != f.State {
			return false
		}
	}
	if f.Q != "" {
		q := strings.ToLower(f.Q)
		if !strings.Contains(strings.ToLower(h.Name), q) && !strings.Contains(strings.ToLower(h.Owner), q) {
			return false
		}
	}
	return true
}

// sortHome sorts pipelines by key; ties (and pipelines without the value, last) by name.
func sortHome(ps []status.HomePipeline, key string) {
	timeOf := func(t *time.Time) (time.Time, bool) {
		if t == nil {
			return time.Time{}, false
		}
		return *t, true
	}
	less := func(a, b *status.HomePipeline) (bool, bool) { // (less, decided)
		switch key {
		case SortOwner:
			if a.Owner != b.Owner {
				return a.Owner < b.Owner, true
			}
		case SortLastRun: // newest first
			var at, bt *time.Time
			if len(a.Cells) > 0 {
				at = &a.Cells[0].IntervalStart
			}
			if len(b.Cells) > 0 {
				bt = &b.Cells[0].IntervalStart
			}
			x, xok := timeOf(at)
			y, yok := timeOf(bt)
			if xok != yok {
				return xok, true
			}
			if !x.Equal(y) {
				return x.After(y), true
			}
		case SortNextRun: // soonest first
			x, xok := timeOf(a.NextRun)
			y, yok := timeOf(b.NextRun)
			if xok != yok {
				return xok, true
			}
			if !x.Equal(y) {
				return x.Before(y), true
			}
		case SortFreshness: // stalest first: what needs looking at
			x, xok := timeOf(a.Freshness)
			y, yok := timeOf(b.Freshness)
			if xok != yok {
				return xok, true
			}
			if !x.Equal(y) {
				return x.Before(y), true
			}
		case SortStreak: // longest failure streak first
			if a.FailureStreak != b.FailureStreak {
				return a.FailureStreak > b.FailureStreak, true
			}
		}
		return false, false
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if l, ok := less(&ps[i], &ps[j]); ok {
			return l
		}
		return ps[i].Name < ps[j].Name
	})
}

// cellView is a run as a coloured cell.
type cellView struct {
	URL, Class, State, Title string
}

func runCell(c status.RunCell) cellView {
	return cellView{
		URL: runURL(c.ID), Class: stateClass(c.State), State: c.State,
		Title: fmt.Sprintf("run %d · %s · %s", c.ID, intervalText(c.IntervalStart, c.IntervalEnd), c.State),
	}
}

func runURL(id int64) string { return "/runs/" + strconv.FormatInt(id, 10) }

func activityURL(runID int64, act string) string {
	return runURL(runID) + "/activities/" + url.PathEscape(act)
}

type homeRowView struct {
	Name, URL, Owner         string
	State, StateClass        string
	PausedBy                 string
	LastRun                  *cellView
	LastRunAt                timeView
	NextRun, Freshness       timeView
	Stale                    bool
	Streak                   int
	StreakMore               bool
	Cells                    []cellView // oldest first, left to right
	Schedule                 string
	Trigger                  string
	HasFreshness, HasNextRun bool
}

type homeView struct {
	Rows    []homeRowView
	Filter  homeFilter
	Owners  []string
	States  []string
	Sorts   []string
	Total   int // before filtering
	Shown   int // after filtering
	Pages   pagesView
	Actions []actionView
}

func newHomeRow(h *status.HomePipeline, now time.Time) homeRowView {
	v := homeRowView{
		Name: h.Name, URL: pipelineURL(h.Name), Owner: h.Owner, State: pipelineState(h), Schedule: h.Schedule, Trigger: h.Trigger,
		NextRun: newTimePtrView(h.NextRun, now), Freshness: newTimePtrView(h.Freshness, now),
		Streak: h.FailureStreak, StreakMore: h.FailureStreak >= status.HomeCells,
	}
	v.StateClass = map[string]string{FilterEnabled: "state-success", FilterPaused: "state-retrying", FilterDisabled: "disabled"}[v.State]
	if h.Removed {
		v.State = "removed"
	}
	if h.Paused != nil {
		v.PausedBy = h.Paused.By
	}
	if len(h.Cells) > 0 {
		c := runCell(h.Cells[0])
		v.LastRun = &c
		v.LastRunAt = newTimeView(h.Cells[0].IntervalStart, now)
		if h.Freshness != nil && h.NextRun != nil {
			// Stale: the newest good data is more than two intervals old (the newest interval
			// plus one of grace), as the status page judges it.
			iv := h.Cells[0].IntervalEnd.Sub(h.Cells[0].IntervalStart)
			v.Stale = iv > 0 && now.Sub(*h.Freshness) > 2*iv
		}
	}
	for i := len(h.Cells) - 1; i >= 0; i-- {
		v.Cells = append(v.Cells, runCell(h.Cells[i]))
	}
	return v
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	f, err := readHomeFilter(r)
	if err != nil {
		s.message(w, r, http.StatusBadRequest, "bad request", err.Error())
		return
	}
	pg, perPage, err := pageParams(r)
	if err != nil {
		s.message(w, r, http.StatusBadRequest, "bad request", err.Error())
		return
	}
	// Only the failing filter and the sorts by last run and failure streak need every
	// pipeline's runs; otherwise the runs are read for the page's pipelines alone.
	needAll := f.State == FilterFailing || f.Sort == SortLastRun || f.Sort == SortStreak
	all, err := s.board.Home(r.Context(), needAll)
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	owners := map[string]bool{}
	var kept []status.HomePipeline
	for i := range all {
		if all[i].Owner != "" {
			owners[all[i].Owner] = true
		}
		if f.keep(&all[i]) {
			kept = append(kept, all[i])
		}
	}
	sortHome(kept, f.Sort)
	hv := &homeView{Filter: f, States: HomeFilters(), Sorts: HomeSorts(), Total: len(all), Shown: len(kept)}
	for o := range owners {
		hv.Owners = append(hv.Owners, o)
	}
	sort.Strings(hv.Owners)
	hv.Pages = newPagesView(pg, perPage, len(kept))
	hv.Pages.Prev, hv.Pages.Next = "", ""
	if pg > 1 {
		hv.Pages.Prev = f.query(min(pg-1, hv.Pages.Pages))
	}
	if pg < hv.Pages.Pages {
		hv.Pages.Next = f.query(pg + 1)
	}
	shown := kept[min((pg-1)*perPage, len(kept)):min(pg*perPage, len(kept))]
	if !needAll {
		if err := s.fillCells(r.Context(), shown); err != nil {
			s.sourceFailed(w, r, err)
			return
		}
	}
	for i := range shown {
		hv.Rows = append(hv.Rows, newHomeRow(&shown[i], now))
	}
	p := s.newPage(w, r, "sluice-runner")
	p.Home, p.Refresh = hv, 30
	if !s.addHealth(w, r, p, now) {
		return
	}
	s.render(w, r, http.StatusOK, homePage, p)
}

// fillCells reads the newest runs of the pipelines ps (one statement) and sets them.
func (s *server) fillCells(ctx context.Context, ps []status.HomePipeline) error {
	names := make([]string, len(ps))
	for i := range ps {
		names[i] = ps[i].Name
	}
	cells, err := s.board.Cells(ctx, names)
	if err != nil {
		return err
	}
	for i := range ps {
		ps[i].SetCells(cells[ps[i].Name])
	}
	return nil
}

// gridView is the pipeline page's grid: a row per activity (topological order), a column per
// run (oldest left).
type gridView struct {
	Columns []gridColumn
	Rows    []gridRow
}

type gridColumn struct {
	cellView
	Label string
}

type gridRow struct {
	Activity, Kind string
	Gone           bool
	Cells          []gridCellView
}

type gridCellView struct {
	URL, Class, State, Title string
	Attempts                 int
}

type actionView struct {
	At                               timeView
	Actor, Action, Pipeline, Detail  string
	PipelineURL, RunURL, ActivityURL string
	RunID                            int64
	Activity                         string
	OK                               bool
	Error                            string
}

func newActionViews(as []status.Action, now time.Time) []actionView {
	out := make([]actionView, 0, len(as))
	for _, a := range as {
		v := actionView{
			At: newTimeView(a.At, now), Actor: a.Actor, Action: a.Action, Pipeline: a.Pipeline, Detail: a.Detail,
			RunID: a.RunID, Activity: a.Activity, OK: a.Outcome == "ok", Error: a.Error,
		}
		if a.Pipeline != "" {
			v.PipelineURL = pipelineURL(a.Pipeline)
		}
		if a.RunID != 0 {
			v.RunURL = runURL(a.RunID)
			if a.Activity != "" {
				v.ActivityURL = activityURL(a.RunID, a.Activity)
			}
		}
		out = append(out, v)
	}
	return out
}

type versionView struct {
	Version string
	Seen    timeView
	Current bool
}

type detailView struct {
	Row         homeRowView
	Description string
	Version     string
	NextRuns    []string
	Grid        gridView
	DAG         *dagView
	Counts      []countView
	Versions    []versionView
	Failures    []failureView
	Actions     []actionView
	Paused      bool
	// Defaults of the forms: the newest ended interval's start, and a week before it.
	TriggerStart, BackfillFrom, BackfillTo string
	Reprocess                              []string
}

func (s *server) pipelineDetail(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d, err := s.board.Pipeline(r.Context(), name)
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	if d == nil {
		s.message(w, r, http.StatusNotFound, "pipeline not found", fmt.Sprintf("The runner knows no pipeline named %q.", name))
		return
	}
	now := s.now()
	v := &detailView{
		Row: newHomeRow(&d.HomePipeline, now), Description: d.Description, Version: d.Version,
		Counts: counts(d.Counts), Actions: newActionViews(d.Actions, now), Paused: d.Paused != nil,
		Reprocess: []string{"none", "failed", "all"},
	}
	for _, n := range d.NextRuns {
		v.NextRuns = append(v.NextRuns, intervalText(n.Start, n.End))
	}
	for i, ver := range d.Versions {
		v.Versions = append(v.Versions, versionView{Version: ver.Version, Seen: newTimeView(ver.SeenAt, now), Current: ver.Version == d.Version || (i == 0 && d.Version == "")})
	}
	for _, f := range d.RecentFailures {
		v.Failures = append(v.Failures, failureView{
			RunID: f.RunID, Interval: f.IntervalStart.UTC().Format(time.RFC3339), Activity: f.Activity,
			Attempt: f.Attempt, At: newTimeView(f.At, now), Error: f.Error,
		})
	}
	// The grid: oldest run left, newest right, as time reads.
	for i := len(d.Grid) - 1; i >= 0; i-- {
		g := d.Grid[i]
		v.Grid.Columns = append(v.Grid.Columns, gridColumn{cellView: runCell(g.RunCell), Label: g.IntervalStart.UTC().Format("01-02 15:04")})
	}
	newest := map[string]string{}
	newestURL := map[string]string{}
	if len(d.Grid) > 0 {
		for id, c := range d.Grid[0].Activities {
			newest[id] = c.State
			newestURL[id] = activityURL(d.Grid[0].ID, id)
		}
	}
	for _, a := range d.Activities {
		row := gridRow{Activity: a.ID, Kind: a.Kind, Gone: a.Gone}
		for i := len(d.Grid) - 1; i >= 0; i-- {
			g := d.Grid[i]
			c, ok := g.Activities[a.ID]
			if !ok {
				row.Cells = append(row.Cells, gridCellView{Class: "state-none", Title: "not in this run"})
				continue
			}
			row.Cells = append(row.Cells, gridCellView{
				URL: activityURL(g.ID, a.ID), Class: stateClass(c.State), State: c.State, Attempts: c.Attempts,
				Title: fmt.Sprintf("%s · run %d · %s · %s, %d attempt(s)", a.ID, g.ID, g.IntervalStart.UTC().Format(time.RFC3339), c.State, c.Attempts),
			})
		}
		v.Grid.Rows = append(v.Grid.Rows, row)
	}
	var graph []status.GridActivity
	for _, a := range d.Activities {
		if !a.Gone {
			graph = append(graph, a)
		}
	}
	v.DAG = newDAGView(graph, newest, newestURL)
	if len(d.Cells) > 0 {
		last := d.Cells[0]
		v.TriggerStart = last.IntervalStart.UTC().Format(time.RFC3339)
		v.BackfillTo = last.IntervalStart.UTC().Format(time.RFC3339)
		v.BackfillFrom = last.IntervalStart.Add(-7 * last.IntervalEnd.Sub(last.IntervalStart)).UTC().Format(time.RFC3339)
	}
	p := s.newPage(w, r, d.Name+" — sluice-runner")
	p.Detail = v
	s.render(w, r, http.StatusOK, detailPage, p)
}

type attemptView struct {
	Attempt                   int
	Runner, State, StateClass string
	Started, Finished         timeView
	Duration                  string
	Error, Log                string
	LogBytes                  int
	LogCut                    bool
	LogURL                    string
}

type runActivityView struct {
	ID, Kind, State, StateClass string
	URL                         string
	Attempts                    int
	DependsOn                   []string
	Summary, Error, Rendered    string
	Details                     string
	Warnings                    []string
	Started, Finished           timeView
	History                     []attemptView
	CanClear                    bool
}

type runPageView struct {
	Run         runView
	Pipeline    string
	PipelineURL string
	Owner       string
	Activities  []runActivityView
	// Focus is the one activity the page is about (its attempt page); empty for the run page.
	Focus    string
	CanFail  bool
	Actions  []actionView
	Interval string
	Event    *status.RunEvent // what started a triggered run; nil for others
}

func (s *server) runPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.message(w, r, http.StatusNotFound, "run not found", fmt.Sprintf("%q is not a run id.", r.PathValue("id")))
		return
	}
	focus := r.PathValue("activity")
	d, err := s.board.Run(r.Context(), id)
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	if d == nil {
		s.message(w, r, http.StatusNotFound, "run not found", fmt.Sprintf("There is no run %d.", id))
		return
	}
	now := s.now()
	v := &runPageView{
		Run: newRunView(&d.Run, now), Pipeline: d.Pipeline, PipelineURL: pipelineURL(d.Pipeline), Owner: d.Owner, Focus: focus,
		CanFail:  d.State == status.RunScheduled || d.State == status.RunRunning,
		Actions:  newActionViews(d.Actions, now),
		Interval: intervalText(d.IntervalStart, d.IntervalEnd),
		Event:    d.Event,
	}
	states := map[string]string{}
	for _, a := range d.Activities {
		states[a.ID] = a.State
	}
	found := focus == ""
	for _, a := range d.Activities {
		if focus != "" && a.ID != focus {
			continue
		}
		found = true
		av := runActivityView{
			ID: a.ID, Kind: a.Kind, State: a.State, StateClass: stateClass(a.State), URL: activityURL(d.ID, a.ID),
			Attempts: a.Attempts, DependsOn: a.DependsOn, Summary: a.Summary, Error: a.Error, Rendered: a.Rendered,
			Details: detailsText(a.Details), Warnings: a.Warnings,
			Started: newTimePtrView(a.StartedAt, now), Finished: newTimePtrView(a.FinishedAt, now),
			CanClear: d.State != status.RunScheduled && isFinalActivity(a.State) && depsSucceeded(a.DependsOn, states),
		}
		for i := len(a.History) - 1; i >= 0; i-- { // newest attempt first
			h := a.History[i]
			hv := attemptView{
				Attempt: h.Attempt, Runner: h.Runner, State: h.State, StateClass: stateClass(h.State),
				Started: newTimeView(h.StartedAt, now), Finished: newTimePtrView(h.FinishedAt, now),
				Error: h.Error, Log: h.Log, LogBytes: h.LogBytes, LogCut: len(h.Log) < h.LogBytes,
				LogURL: fmt.Sprintf("%s/attempts/%d/log", activityURL(d.ID, a.ID), h.Attempt),
			}
			if h.FinishedAt != nil {
				hv.Duration = h.FinishedAt.Sub(h.StartedAt).Round(time.Millisecond).String()
			}
			av.History = append(av.History, hv)
		}
		v.Activities = append(v.Activities, av)
	}
	if !found {
		s.message(w, r, http.StatusNotFound, "activity not found", fmt.Sprintf("Run %d has no activity %q.", id, focus))
		return
	}
	title := fmt.Sprintf("run %d of %s", d.ID, d.Pipeline)
	if focus != "" {
		title = focus + " · " + title
	}
	p := s.newPage(w, r, title+" — sluice-runner")
	p.RunPage = v
	s.render(w, r, http.StatusOK, runPage, p)
}

func isFinalActivity(s string) bool {
	return s == status.ActivitySuccess || s == status.ActivityFailed || s == status.ActivityUpstreamFailed
}

func depsSucceeded(deps []string, states map[string]string) bool {
	for _, d := range deps {
		if states[d] != status.ActivitySuccess {
			return false
		}
	}
	return true
}

func (s *server) attemptLog(w http.ResponseWriter, r *http.Request) {
	id, err1 := strconv.ParseInt(r.PathValue("id"), 10, 64)
	n, err2 := strconv.Atoi(r.PathValue("attempt"))
	act := r.PathValue("activity")
	if err1 != nil || err2 != nil {
		http.Error(w, "no such attempt", http.StatusNotFound)
		return
	}
	log, err := s.board.AttemptLog(r.Context(), id, act, n)
	if err != nil {
		if errors.Is(err, state.ErrNotFound) {
			http.Error(w, fmt.Sprintf("run %d has no attempt %d of %q", id, n, act), http.StatusNotFound)
			return
		}
		s.log.ErrorContext(r.Context(), "web: reading a log failed", "path", r.URL.Path, "error", err)
		http.Error(w, "reading the log failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// text/plain with nosniff and attachment: a log full of markup is never rendered.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="run-%d-%s-attempt-%d.log"`, id, safeFileName(act), n))
	w.Header().Set("Content-Length", strconv.Itoa(len(log)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(log))
}

// safeFileName keeps letters, digits, '-', '_' and '.' of s for a download's file name.
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

type runnerView struct {
	ID        string
	Live      bool
	LiveKnown bool
	Last      timeView
	Working   []workingView
}

type workingView struct {
	RunURL, ActivityURL, Pipeline, Activity string
	RunID                                   int64
	Attempt                                 int
	Since                                   timeView
}

type runnersView struct {
	Postgres bool
	Runners  []runnerView
}

func (s *server) runners(w http.ResponseWriter, r *http.Request) {
	rs, err := s.board.Runners(r.Context())
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	now := s.now()
	v := &runnersView{Postgres: s.board.Postgres()}
	for _, ru := range rs {
		rv := runnerView{ID: ru.ID, Live: ru.Live, LiveKnown: ru.LiveKnown, Last: newTimeView(ru.LastStart, now)}
		for _, wk := range ru.Working {
			rv.Working = append(rv.Working, workingView{
				RunURL: runURL(wk.RunID), ActivityURL: activityURL(wk.RunID, wk.Activity), Pipeline: wk.Pipeline, Activity: wk.Activity,
				RunID: wk.RunID, Attempt: wk.Attempt, Since: newTimeView(wk.Since, now),
			})
		}
		v.Runners = append(v.Runners, rv)
	}
	p := s.newPage(w, r, "runners — sluice-runner")
	p.Runners, p.Refresh = v, 15
	s.render(w, r, http.StatusOK, runnersPage, p)
}

func (s *server) actionLog(w http.ResponseWriter, r *http.Request) {
	as, err := s.board.Actions(r.Context(), 200)
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	p := s.newPage(w, r, "actions — sluice-runner")
	p.ActionLog = newActionViews(as, s.now())
	s.render(w, r, http.StatusOK, actionsPage, p)
}

func (s *server) apiActionLog(w http.ResponseWriter, r *http.Request) {
	as, err := s.board.Actions(r.Context(), 200)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading the action log: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, as)
}

// apiHome is the home page as JSON, a page of pipelines at a time (?page=, ?per_page= as
// /api/pipelines), with the total in X-Total-Count: bounded however many pipelines there are.
func (s *server) apiHome(w http.ResponseWriter, r *http.Request) {
	pg, perPage, err := pageParams(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	ps, err := s.board.Home(r.Context(), false)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading pipelines: " + err.Error()})
		return
	}
	total := len(ps)
	ps = ps[min((pg-1)*perPage, total):min(pg*perPage, total)]
	if err := s.fillCells(r.Context(), ps); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading runs: " + err.Error()})
		return
	}
	if len(ps) == 0 {
		ps = []status.HomePipeline{}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if pg*perPage < total {
		w.Header().Set("Link", fmt.Sprintf(`</api/home?page=%d&per_page=%d>; rel="next"`, pg+1, perPage))
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *server) apiRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("%q is not a run id", r.PathValue("id"))})
		return
	}
	d, err := s.board.Run(r.Context(), id)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading run: " + err.Error()})
		return
	}
	if d == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no run %d", id)})
		return
	}
	writeJSON(w, http.StatusOK, d)
}
