package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

//go:embed templates/*.html
var templateFS embed.FS

// The pages: each is the shared layout plus its own "content".
var (
	indexPage    = parsePage("index.html")
	pipelinePage = parsePage("pipeline.html")
	messagePage  = parsePage("message.html") // 404 and 500
	homePage     = parsePage("home.html")
	detailPage   = parsePage("detail.html")
	runPage      = parsePage("run.html")
	runnersPage  = parsePage("runners.html")
	actionsPage  = parsePage("actions.html")
	loginPage    = parsePage("login.html")
	confirmPage  = parsePage("confirm.html")
)

func parsePage(name string) *template.Template {
	return template.Must(template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name))
}

// page is what a template gets. The views hold display strings only, so the templates stay free
// of logic and everything shown is computed (and tested) here.
type page struct {
	Title     string
	Now       timeView
	Pipelines []pipelineView
	Pipeline  *pipelineView
	Message   string
	Pages     pagesView
	Ticks     *ticksView
	Replicas  []replicaView

	// Board is true when the UI's views are served (the navigation links them).
	Board bool
	// ActionsOn is true when actions are configured; User is who is signed in ("" when
	// nobody); CSRF is the token every form carries; Here is the page's own path, where the
	// sign-in returns.
	ActionsOn bool
	User      string
	CSRF      string
	Here      string
	// Refresh reloads the page every Refresh seconds (0: never): a meta refresh, no script.
	Refresh int

	Home      *homeView
	Detail    *detailView
	RunPage   *runPageView
	Runners   *runnersView
	ActionLog []actionView
	Login     *loginView
	Confirm   *confirmView
}

// replicaView is one shard of a stream replication on one replica, as the index page shows it.
type replicaView struct {
	Replication, Replica, Shard string
	State                       string // reading, retrying, stopped, finished
	Applied                     int64
	Behind                      string // MillisBehindLatest as a duration; "" when unknown
	LastApplied                 timeView
	Owner                       string
	LeaseHeld                   bool
	Error                       string
}

func newReplicaViews(shards []status.ReplicaShard, now time.Time) []replicaView {
	out := make([]replicaView, 0, len(shards))
	for _, s := range shards {
		v := replicaView{
			Replication: s.Replication, Replica: s.Replica, Shard: s.Shard, State: s.State, Applied: s.Applied,
			Owner: s.Owner, LeaseHeld: s.LeaseHeld, Error: s.LastError,
		}
		if s.MillisBehind != nil {
			v.Behind = (time.Duration(*s.MillisBehind) * time.Millisecond).String()
		}
		if lag := s.RecordsLag(); lag != "" {
			v.Behind = strings.TrimPrefix(v.Behind+", "+lag, ", ")
		}
		if s.LastApplied != nil {
			v.LastApplied = newTimeView(*s.LastApplied, now)
		}
		out = append(out, v)
	}
	return out
}

// pagesView is where a page of pipelines is among them all.
type pagesView struct {
	Page, Pages, Total int
	First, Last        int    // the 1-based positions of the page's first and last pipelines
	Prev, Next         string // links; empty when there is none
}

func newPagesView(pg, perPage, total int) pagesView {
	v := pagesView{Page: pg, Pages: max((total+perPage-1)/perPage, 1), Total: total}
	if total > 0 {
		v.First = min((pg-1)*perPage+1, total+1)
		v.Last = min(pg*perPage, total)
	}
	link := func(n int) string {
		if perPage == PageSize {
			return fmt.Sprintf("/?page=%d", n)
		}
		return fmt.Sprintf("/?page=%d&per_page=%d", n, perPage)
	}
	if pg > 1 {
		v.Prev = link(min(pg-1, v.Pages))
	}
	if pg < v.Pages {
		v.Next = link(pg + 1)
	}
	return v
}

// ticksView is the scheduler's health as shown at the top of the status page.
type ticksView struct {
	Last, LastOK, LastErrorAt timeView
	Failures                  int64
	Consecutive               int
	UnhealthyAfter            int
	Unhealthy                 bool
	LastError                 string
	Unreadable                []status.DocumentError
}

func newTicksView(t status.Ticks, now time.Time) ticksView {
	return ticksView{
		Last: newTimeView(t.Last, now), LastOK: newTimeView(t.LastOK, now), LastErrorAt: newTimeView(t.LastErrorAt, now),
		Failures: t.Failures, Consecutive: t.Consecutive, UnhealthyAfter: t.UnhealthyAfter,
		Unhealthy: t.UnhealthyAfter > 0 && t.Consecutive >= t.UnhealthyAfter,
		LastError: t.LastError, Unreadable: t.Unreadable,
	}
}

type pipelineView struct {
	Name        string
	URL         string
	Owner       string
	Description string
	Enabled     bool
	Version     string
	Schedule    string
	Trigger     string
	LastRun     *runView
	NextRun     timeView
	Freshness   []freshnessView
	// Stale is true when any freshness subject is stale.
	Stale    bool
	Counts   []countView
	Failures []failureView
	Runs     []runView
	// Cost is the EMR cost per day; nil when the pipeline launched no cluster lately.
	Cost *costView
}

// costView is a pipeline's EMR cost per day, next to the plan's estimate per run.
type costView struct {
	EstimatedPerRun string
	Days            []dayCostView
}

type dayCostView struct {
	Day       string
	USD       string
	Runs      int
	Clusters  int
	NodeHours string
}

// runCostView is what a run's EMR clusters used and cost.
type runCostView struct {
	USD, Estimated, NodeHours, Note string
	Clusters                        int
	NormalizedInstanceHours         string
}

// money shows US dollars, or "unknown" when a price or an input was missing.
func money(usd *float64) string {
	if usd == nil {
		return "unknown"
	}
	return fmt.Sprintf("$%.4f", *usd)
}

func nodeHours(secs int64) string { return fmt.Sprintf("%.2f", float64(secs)/3600) }

type runView struct {
	ID         int64
	Interval   string
	Seq        int
	Version    string
	Trigger    string
	Event      *status.RunEvent
	State      string
	StateClass string
	Created    timeView
	Started    timeView
	Finished   timeView
	Duration   string
	Activities []activityView
	Cost       *runCostView
}

type activityView struct {
	ID         string
	Kind       string
	State      string
	StateClass string
	Attempts   int
	Summary    string
	Warnings   []string
	Error      string
	// Details is the kind-specific details as indented JSON; empty when there are none.
	Details string
}

type freshnessView struct {
	Subject string
	Value   timeView
	Stale   bool
}

type countView struct {
	State      string
	StateClass string
	N          int
}

type failureView struct {
	RunID    int64
	Interval string
	Activity string
	Attempt  int
	At       timeView
	Error    string
}

// timeView is a time as shown: UTC RFC 3339 and an age relative to now.
type timeView struct {
	Set bool
	UTC string // 2026-11-18T09:00:00Z
	Rel string // "3h ago", "in 20m"
}

func newTimeView(t, now time.Time) timeView {
	if t.IsZero() {
		return timeView{}
	}
	return timeView{Set: true, UTC: t.UTC().Format(time.RFC3339), Rel: relative(t, now)}
}

func newTimePtrView(t *time.Time, now time.Time) timeView {
	if t == nil {
		return timeView{}
	}
	return newTimeView(*t, now)
}

// relative says how far t is from now in its largest whole unit: "45s ago", "3h ago", "2d ago",
// "in 20m". Up to 48 hours stays in hours, because "36h ago" says more than "1d ago".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var amount string
	switch {
	case d < time.Minute:
		amount = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		amount = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		amount = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		amount = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + amount
	}
	return amount + " ago"
}

// stateClass maps a state to its CSS class; states the page does not know get a neutral one.
func stateClass(state string) string {
	switch state {
	case status.RunSuccess, status.RunFailed, status.RunRunning, status.RunScheduled,
		status.ActivityPending, status.ActivityQueued, status.ActivityWaiting, status.ActivityRetrying,
		status.ActivityUpstreamFailed:
		return "state-" + state
	default:
		return "state-other"
	}
}

func intervalText(start, end time.Time) string {
	return start.UTC().Format(time.RFC3339) + " – " + end.UTC().Format(time.RFC3339)
}

// pipelineURL is the path of a pipeline's page; the name is escaped as one path segment, so a
// name with "/" or "?" still links to its own page.
func pipelineURL(name string) string { return "/pipelines/" + url.PathEscape(name) }

// staleAfter is how old data may be before the page highlights it: two intervals of the
// pipeline's schedule (taken from its last run), i.e. the newest interval plus one more of
// grace for a run still in progress. Zero when it cannot be judged: no run yet, or the schedule
// ended (NextRun nil), after which data ages by design. The read model carries no per-check
// max_age, so table subjects are judged by the same rule.
func staleAfter(p *status.Pipeline) time.Duration {
	if p.LastRun == nil || p.NextRun == nil {
		return 0
	}
	interval := p.LastRun.IntervalEnd.Sub(p.LastRun.IntervalStart)
	if interval <= 0 {
		return 0
	}
	return 2 * interval
}

func newPipelineView(p *status.Pipeline, now time.Time) pipelineView {
	v := pipelineView{
		Name: p.Name, URL: pipelineURL(p.Name), Owner: p.Owner, Description: p.Description,
		Enabled: p.Enabled, Version: p.Version, Schedule: p.Schedule, Trigger: p.Trigger,
		NextRun: newTimePtrView(p.NextRun, now),
	}
	if p.LastRun != nil {
		r := newRunView(p.LastRun, now)
		v.LastRun = &r
	}
	limit := staleAfter(p)
	for _, f := range p.Freshness {
		fv := freshnessView{
			Subject: f.Subject, Value: newTimeView(f.Value, now),
			Stale: limit > 0 && now.Sub(f.Value) > limit,
		}
		v.Stale = v.Stale || fv.Stale
		v.Freshness = append(v.Freshness, fv)
	}
	v.Counts = counts(p.Counts)
	for _, f := range p.RecentFailures {
		v.Failures = append(v.Failures, failureView{
			RunID: f.RunID, Interval: f.IntervalStart.UTC().Format(time.RFC3339), Activity: f.Activity,
			Attempt: f.Attempt, At: newTimeView(f.At, now), Error: f.Error,
		})
	}
	for i := range p.Runs {
		v.Runs = append(v.Runs, newRunView(&p.Runs[i], now))
	}
	if c := p.Cost; c != nil {
		cv := &costView{EstimatedPerRun: money(c.EstimatedPerRun)}
		for _, d := range c.Days {
			cv.Days = append(cv.Days, dayCostView{Day: d.Day, USD: money(d.USD), Runs: d.Runs, Clusters: d.Clusters, NodeHours: nodeHours(d.NodeSeconds)})
		}
		v.Cost = cv
	}
	return v
}

// counts lists every run state in its lifecycle order, zeros included so the columns line up,
// then any state the page does not know, by name.
func counts(m map[string]int) []countView {
	var out []countView
	known := map[string]bool{}
	for _, s := range status.RunStates() {
		known[s] = true
		out = append(out, countView{State: s, StateClass: stateClass(s), N: m[s]})
	}
	var extra []string
	for s := range m {
		if !known[s] {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	for _, s := range extra {
		out = append(out, countView{State: s, StateClass: stateClass(s), N: m[s]})
	}
	return out
}

func newRunView(r *status.Run, now time.Time) runView {
	v := runView{
		ID: r.ID, Interval: intervalText(r.IntervalStart, r.IntervalEnd), Seq: r.Seq,
		Version: r.Version, Trigger: r.Trigger, Event: r.Event, State: r.State, StateClass: stateClass(r.State),
		Created: newTimeView(r.CreatedAt, now), Started: newTimePtrView(r.StartedAt, now),
		Finished: newTimePtrView(r.FinishedAt, now),
	}
	if r.StartedAt != nil && r.FinishedAt != nil {
		v.Duration = r.FinishedAt.Sub(*r.StartedAt).Round(time.Second).String()
	}
	if c := r.Cost; c != nil {
		v.Cost = &runCostView{USD: money(c.USD), Estimated: money(c.EstimatedUSD), NodeHours: nodeHours(c.NodeSeconds), Note: c.Unestimated, Clusters: c.Clusters}
		if c.NormalizedInstanceHours != nil {
			v.Cost.NormalizedInstanceHours = fmt.Sprint(*c.NormalizedInstanceHours)
		}
	}
	for _, a := range r.Activities {
		v.Activities = append(v.Activities, activityView{
			ID: a.ID, Kind: a.Kind, State: a.State, StateClass: stateClass(a.State), Attempts: a.Attempts,
			Summary: a.Summary, Warnings: a.Warnings, Error: a.Error, Details: detailsText(a.Details),
		})
	}
	return v
}

func detailsText(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Sprintf("(details cannot be shown: %v)", err)
	}
	return string(b)
}
