// Package actions is what an operator can ask of the runner — trigger a run, backfill a range,
// clear and rerun an activity, mark a run failed, pause and unpause a pipeline — implemented
// once for the CLI, the JSON API and the web page. Every action is recorded in the state
// database's action log (who, when, what, and how it went), including those refused.
package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Action names, as the log records them; the CLI command and API route of each are in the
// README's runner guide.
const (
	Trigger    = "trigger"     // CLI run, POST /api/pipelines/{name}/runs
	Backfill   = "backfill"    // CLI backfill, POST /api/pipelines/{name}/backfill
	Clear      = "clear"       // CLI clear, POST /api/runs/{id}/activities/{activity}/clear
	MarkFailed = "mark_failed" // CLI mark-failed, POST /api/runs/{id}/fail
	Pause      = "pause"       // CLI pause, POST /api/pipelines/{name}/pause
	Unpause    = "unpause"     // CLI unpause, POST /api/pipelines/{name}/unpause
)

// Names lists the actions.
func Names() []string { return []string{Trigger, Backfill, Clear, MarkFailed, Pause, Unpause} }

// Outcomes of a recorded action.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// Errors the edges map to their own words (exit code 2, HTTP 400/404/409).
var (
	// ErrInvalid: the request itself is wrong (a bad time, an unknown reprocess mode).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: no such pipeline, run or activity.
	ErrNotFound = state.ErrNotFound
	// ErrConflict: the request is fine but the state does not allow it now (the interval has
	// a run, the activity is still running, the run already finished).
	ErrConflict = errors.New("conflict")
)

// Engine is what the actions need of the engine.
type Engine interface {
	EndedInterval(p *definition.Pipeline, start time.Time) (definition.Interval, error)
	RunInterval(ctx context.Context, p *definition.Pipeline, start time.Time, reprocess bool) (int64, definition.Interval, error)
	CountBackfill(ctx context.Context, p *definition.Pipeline, from, to time.Time, stopAt int) (engine.BackfillCount, error)
	Backfill(ctx context.Context, p *definition.Pipeline, from, to time.Time, reprocess string, maxActive int) (*engine.BackfillPlan, error)
	ClearActivity(ctx context.Context, runID int64, activity string) ([]string, error)
	MarkRunFailed(ctx context.Context, runID int64, reason string) ([]string, error)
}

// Service performs the actions on one state database.
type Service struct {
	DB     *state.DB
	Engine Engine
	// Now is the clock of the action log; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// record appends the action to the log with the outcome of err, and returns err (joined with
// a failure to record, which must not pass silently: an action that happened unrecorded is
// what an audit log exists to prevent).
func (s *Service) record(ctx context.Context, a state.ActionRecord, err error) error {
	a.At, a.Outcome = s.now(), OutcomeOK
	if err != nil {
		a.Outcome, a.Error = OutcomeError, err.Error()
	}
	if a.Actor == "" {
		a.Actor = "unknown"
	}
	if _, rerr := state.RecordAction(context.WithoutCancel(ctx), s.DB.Reader(), a); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// Pipeline returns the newest published version of a pipeline the runner knows, as stored in
// the state database (what the API and the page act on; the CLI reads the registry instead).
func (s *Service) Pipeline(ctx context.Context, name string) (*definition.Pipeline, error) {
	if err := definition.ValidateName("pipeline", name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rows, err := state.Pipelines(ctx, s.DB.Reader())
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.Name != name {
			continue
		}
		doc, err := state.Definition(ctx, s.DB.Reader(), r.Name, r.Version)
		if err != nil {
			return nil, err
		}
		p, err := definition.DecodePipeline(doc)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s version %s: %w", name, r.Version, err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("the runner knows no pipeline named %q: %w", name, ErrNotFound)
}

// TriggerRequest asks for a run of one interval.
type TriggerRequest struct {
	Actor string
	// Start is the start of the interval (one of the schedule's).
	Start time.Time
	// Reprocess runs an interval that already has a finished run again.
	Reprocess bool
	// AllowFuture runs an interval that has not ended yet.
	AllowFuture bool
}

// TriggerResult is the run planned.
type TriggerResult struct {
	RunID    int64               `json:"run_id"`
	Interval definition.Interval `json:"-"`
	Start    time.Time           `json:"interval_start"`
	End      time.Time           `json:"interval_end"`
}

// Trigger plans a run of p for the interval that starts at req.Start. A serving runner (or the
// CLI's own engine) executes it.
func (s *Service) Trigger(ctx context.Context, p *definition.Pipeline, req TriggerRequest) (TriggerResult, error) {
	var res TriggerResult
	err := func() error {
		if !req.AllowFuture {
			if _, err := s.Engine.EndedInterval(p, req.Start); err != nil {
				if errors.Is(err, engine.ErrIntervalNotEnded) {
					return fmt.Errorf("%w: %w", ErrConflict, err)
				}
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
		id, iv, err := s.Engine.RunInterval(ctx, p, req.Start, req.Reprocess)
		switch {
		case errors.Is(err, engine.ErrIntervalExists):
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case err != nil && strings.Contains(err.Error(), "has no interval starting at"):
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		case err != nil:
			return err
		}
		res = TriggerResult{RunID: id, Interval: iv, Start: iv.Start.UTC(), End: iv.End.UTC()}
		return nil
	}()
	detail := "interval " + req.Start.UTC().Format(time.RFC3339)
	if req.Reprocess {
		detail += ", reprocess"
	}
	if req.AllowFuture {
		detail += ", allow future"
	}
	return res, s.record(ctx, state.ActionRecord{Actor: req.Actor, Action: Trigger, Pipeline: p.Name, RunID: res.RunID, Detail: detail}, err)
}

// BackfillRequest asks for the runs of the intervals that start in [From, To).
type BackfillRequest struct {
	Actor    string
	From, To time.Time
	// Reprocess is engine.ReprocessNone (default), ReprocessFailed or ReprocessAll.
	Reprocess string
	// MaxActive caps how many of the runs run at once; 0 is the schedule's max_active_runs.
	MaxActive int
	// MaxRuns is the most runs the backfill may plan (0: engine.DefaultBackfillMaxRuns unless
	// Yes, which lifts that default but not a MaxRuns given).
	MaxRuns int
	Yes     bool
}

// TooManyRunsError refuses a backfill over its limit before anything is planned.
type TooManyRunsError struct {
	Pipeline string
	From, To time.Time
	// Runs is how many runs it would plan; More is true when counting stopped at Runs.
	Runs  int
	More  bool
	Limit int
	// LimitGiven is true when the limit was asked for (MaxRuns), false for the default.
	LimitGiven bool
}

func (e *TooManyRunsError) Error() string {
	n := fmt.Sprint(e.Runs)
	if e.More {
		n = "more than " + n
	}
	return fmt.Sprintf("backfill of %s from %s to %s would plan %s runs, over the limit of %d: nothing was planned",
		e.Pipeline, e.From.Format(time.RFC3339), e.To.Format(time.RFC3339), n, e.Limit)
}

// Unwrap makes a TooManyRunsError an ErrConflict.
func (e *TooManyRunsError) Unwrap() error { return ErrConflict }

// countCap is where counting a backfill's runs stops when no limit asks for more: counting 50
// million intervals takes seconds, and a backfill that size is refused anyway.
const countCap = 50_000_000

func (r *BackfillRequest) check() error {
	if r.Reprocess == "" {
		r.Reprocess = engine.ReprocessNone
	}
	switch r.Reprocess {
	case engine.ReprocessNone, engine.ReprocessFailed, engine.ReprocessAll:
	default:
		return fmt.Errorf("%w: reprocess %q: use %s", ErrInvalid, r.Reprocess, strings.Join(engine.ReprocessModes(), ", "))
	}
	if r.From.IsZero() || r.To.IsZero() {
		return fmt.Errorf("%w: a backfill needs both from and to", ErrInvalid)
	}
	if !r.From.Before(r.To) {
		return fmt.Errorf("%w: from %s must be before to %s", ErrInvalid, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	if r.MaxActive < 0 || r.MaxRuns < 0 {
		return fmt.Errorf("%w: max_active and max_runs must be 0 or more", ErrInvalid)
	}
	return nil
}

// CountBackfill says how many runs Backfill would plan at most (counting stops past
// countCap), and how many intervals in the range have not ended: what the page shows before
// the backfill is confirmed.
func (s *Service) CountBackfill(ctx context.Context, p *definition.Pipeline, req BackfillRequest) (engine.BackfillCount, error) {
	if err := req.check(); err != nil {
		return engine.BackfillCount{}, err
	}
	return s.Engine.CountBackfill(ctx, p, req.From, req.To, countCap)
}

// BackfillResult is what a backfill planned.
type BackfillResult struct {
	Created  []int64 `json:"created"`
	Existing int     `json:"existing"`
	Future   int     `json:"future"`
	In       int     `json:"intervals"`
}

// Backfill plans the runs of p's intervals in [req.From, req.To) that have ended, oldest
// first, after checking their count against the limit.
func (s *Service) Backfill(ctx context.Context, p *definition.Pipeline, req BackfillRequest) (BackfillResult, error) {
	var res BackfillResult
	err := func() error {
		if err := req.check(); err != nil {
			return err
		}
		limit := req.MaxRuns
		if limit == 0 && !req.Yes {
			limit = engine.DefaultBackfillMaxRuns
		}
		if limit > 0 {
			c, err := s.Engine.CountBackfill(ctx, p, req.From, req.To, max(limit, countCap))
			if err != nil {
				return err
			}
			if c.Runs > limit {
				return &TooManyRunsError{Pipeline: p.Name, From: req.From, To: req.To, Runs: c.Runs, More: c.Runs > max(limit, countCap),
					Limit: limit, LimitGiven: req.MaxRuns > 0}
			}
		}
		plan, err := s.Engine.Backfill(ctx, p, req.From, req.To, req.Reprocess, req.MaxActive)
		if err != nil {
			return err
		}
		res = BackfillResult{Created: plan.Created, Existing: plan.Existing, Future: plan.Future, In: len(plan.Intervals)}
		if res.Created == nil {
			res.Created = []int64{}
		}
		return nil
	}()
	detail := fmt.Sprintf("from %s to %s, reprocess %s", req.From.UTC().Format(time.RFC3339), req.To.UTC().Format(time.RFC3339), req.Reprocess)
	if err == nil {
		detail += fmt.Sprintf(": %d run(s) planned, %d already had one, %d not ended", len(res.Created), res.Existing, res.Future)
	}
	return res, s.record(ctx, state.ActionRecord{Actor: req.Actor, Action: Backfill, Pipeline: p.Name, Detail: detail}, err)
}

// runPipeline names the pipeline of a run for the log; "" when the run does not exist.
func (s *Service) runPipeline(ctx context.Context, runID int64) string {
	r, err := state.GetRun(ctx, s.DB.Reader(), runID)
	if err != nil {
		return ""
	}
	return r.Pipeline
}

func engineErr(err error) error {
	if errors.Is(err, engine.ErrRefused) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// ClearActivity runs a finished activity of a run again with everything downstream of it, and
// returns the activities cleared.
func (s *Service) ClearActivity(ctx context.Context, actor string, runID int64, activity string) ([]string, error) {
	cleared, err := s.Engine.ClearActivity(ctx, runID, activity)
	err = engineErr(err)
	detail := "cleared " + strings.Join(cleared, ", ")
	if err != nil {
		detail = "clear " + activity
	}
	return cleared, s.record(ctx, state.ActionRecord{Actor: actor, Action: Clear, Pipeline: s.runPipeline(ctx, runID), RunID: runID, Activity: activity, Detail: detail}, err)
}

// MarkRunFailed fails a scheduled or running run now; its unfinished activities fail with an
// error naming who did it.
func (s *Service) MarkRunFailed(ctx context.Context, actor string, runID int64) ([]string, error) {
	failed, err := s.Engine.MarkRunFailed(ctx, runID, "marked failed by "+actor)
	err = engineErr(err)
	detail := "run marked failed"
	if len(failed) > 0 {
		detail += "; failed " + strings.Join(failed, ", ")
	}
	return failed, s.record(ctx, state.ActionRecord{Actor: actor, Action: MarkFailed, Pipeline: s.runPipeline(ctx, runID), RunID: runID, Detail: detail}, err)
}

// SetPaused pauses or unpauses a pipeline the runner knows: a paused pipeline's schedule
// creates no runs (runs already planned go on; trigger and backfill still plan runs). It
// returns whether that changed anything (pausing a paused pipeline changes nothing, and says
// so in the log).
func (s *Service) SetPaused(ctx context.Context, actor, pipeline string, paused bool) (bool, error) {
	action := Pause
	if !paused {
		action = Unpause
	}
	var changed bool
	err := func() error {
		if _, err := s.Pipeline(ctx, pipeline); err != nil {
			return err
		}
		var err error
		changed, err = state.SetPaused(ctx, s.DB.Reader(), pipeline, paused, actor, s.now())
		return err
	}()
	detail := action
	switch {
	case err == nil && changed:
		detail = action + "d"
	case err == nil:
		detail = "already " + action + "d"
	}
	return changed, s.record(ctx, state.ActionRecord{Actor: actor, Action: action, Pipeline: pipeline, Detail: detail}, err)
}

// Log returns the newest actions (of one pipeline when pipeline is not empty), newest first.
func (s *Service) Log(ctx context.Context, pipeline string, limit int) ([]status.Action, error) {
	recs, err := state.Actions(ctx, s.DB.Reader(), pipeline, limit)
	if err != nil {
		return nil, err
	}
	return ToStatus(recs), nil
}

// ToStatus converts log records to the read model.
func ToStatus(recs []state.ActionRecord) []status.Action {
	out := make([]status.Action, 0, len(recs))
	for _, r := range recs {
		out = append(out, status.Action{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, Pipeline: r.Pipeline, RunID: r.RunID,
			Activity: r.Activity, Detail: r.Detail, Outcome: r.Outcome, Error: r.Error})
	}
	return out
}
