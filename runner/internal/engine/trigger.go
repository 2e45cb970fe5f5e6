package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// The engine's side of triggered runs (package trigger records them): it tells the activity
// kinds of a pipeline, starts recorded runs at once, and gives a triggered run's templates its
// event and the parameters its key pattern named.

// ActivityKinds maps each activity id of p to its kind, refusing an activity this runner cannot
// run.
func (e *Engine) ActivityKinds(p *definition.Pipeline) (map[string]string, error) {
	return e.activityKinds(p)
}

// PromoteNow starts scheduled runs within their max_active now rather than at the next tick:
// a run made by an event starts as soon as it is recorded.
func (e *Engine) PromoteNow(ctx context.Context) error { return e.promote(ctx) }

// withEvent adds a triggered run's event (.Event) and key-pattern parameters to its template
// data. The pipeline's own parameters keep their values: validation refuses a pattern part
// named like one.
func withEvent(ctx context.Context, q state.Q, run state.RunRow, data *definition.TemplateData) error {
	ev, ok, err := state.EventOf(ctx, q, run.ID)
	if err != nil || !ok {
		return err
	}
	if err := json.Unmarshal(ev.Event, &data.Event); err != nil {
		return fmt.Errorf("run %d: decoding its event: %w", run.ID, err)
	}
	var params map[string]string
	if err := json.Unmarshal(ev.Params, &params); err != nil {
		return fmt.Errorf("run %d: decoding its parameters: %w", run.ID, err)
	}
	if len(params) > 0 {
		merged := make(map[string]string, len(data.Params)+len(params))
		for k, v := range params {
			merged[k] = v
		}
		for k, v := range data.Params {
			merged[k] = v
		}
		data.Params = merged
	}
	return nil
}

// statusSample is how many objects of a triggered run status shows.
const statusSample = 3

// runOutputs sets a success notification's outputs: the run's parameters, as its templates
// saw them.
func runOutputs(ctx context.Context, q state.Q, run state.RunRow, p *definition.Pipeline, n *Notification) error {
	data := definition.TemplateData{Params: p.Parameters}
	if state.IsEventTrigger(run.Trigger) {
		if err := withEvent(ctx, q, run, &data); err != nil {
			return err
		}
	}
	if len(data.Params) > 0 {
		n.Outputs = data.Params
	}
	return nil
}

// errNoSchedule refuses to plan intervals of a pipeline that has only a trigger.
func errNoSchedule(p *definition.Pipeline) error {
	return fmt.Errorf("pipeline %s has no schedule, only a trigger: its runs come from events while sluice-runner serve runs; add a schedule to run or backfill intervals by hand", p.Name)
}
