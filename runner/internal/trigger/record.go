package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// Recorder records runs made by events in the state database: the engine starts them like any
// scheduled run.
type Recorder struct {
	DB *state.DB
	// Kinds maps a pipeline's activity ids to their kinds, refusing activities the runner
	// cannot run (engine.ActivityKinds).
	Kinds func(p *definition.Pipeline) (map[string]string, error)
	Now   func() time.Time
}

// Recorded is what Record did.
type Recorded struct {
	RunID int64 // 0 when every event was already in a run
	// Fresh is how many items went into the run; Duplicates how many were already in a run
	// (or twice in the batch).
	Fresh, Duplicates int
	Interval          definition.Interval
}

// Record creates one run of p for the items whose dedupe keys are not recorded yet, with those
// keys and the run's event, in one transaction; it makes no run when every key is recorded.
// messages is how many queue messages the items came from.
func (r *Recorder) Record(ctx context.Context, p *definition.Pipeline, trigger string, items []Item, messages int, loc *time.Location) (Recorded, error) {
	var out Recorded
	kinds, err := r.Kinds(p)
	if err != nil {
		return out, err
	}
	doc, err := definition.Encode(p)
	if err != nil {
		return out, fmt.Errorf("pipeline %s: %w", p.Name, err)
	}
	now := r.Now().UTC()
	keys := make([]string, 0, len(items))
	byKey := make(map[string]bool, len(items))
	unique := make([]Item, 0, len(items))
	for _, it := range items {
		k := it.Event.DedupeKey()
		if byKey[k] {
			continue
		}
		byKey[k] = true
		keys = append(keys, k)
		unique = append(unique, it)
	}
	err = r.DB.InTx(ctx, func(q state.Q) error {
		out = Recorded{}
		if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
			return err
		}
		// Serialises the runners that record events of this pipeline (PostgreSQL), so that the
		// known keys read here cannot be recorded by another runner before this commits.
		if err := state.LockPipeline(ctx, q, r.DB.Dialect, p.Name); err != nil {
			return err
		}
		known, err := state.KnownKeys(ctx, q, r.DB.Dialect, p.Name, keys)
		if err != nil {
			return err
		}
		fresh := make([]Item, 0, len(unique))
		freshKeys := make([]string, 0, len(unique))
		for i, it := range unique {
			if !known[keys[i]] {
				fresh = append(fresh, it)
				freshKeys = append(freshKeys, keys[i])
			}
		}
		out.Fresh, out.Duplicates = len(fresh), len(items)-len(fresh)
		if len(fresh) == 0 {
			return nil
		}
		iv, ev, params, err := shapeRun(fresh, messages, loc)
		if err != nil {
			return fmt.Errorf("pipeline %s: %w", p.Name, err)
		}
		ev.Source = trigger
		evJSON, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("pipeline %s: encoding the event: %w", p.Name, err)
		}
		paramsJSON, err := json.Marshal(params)
		if err != nil {
			return fmt.Errorf("pipeline %s: encoding the parameters: %w", p.Name, err)
		}
		out.Interval = iv
		out.RunID, err = state.InsertEventRun(ctx, q, r.DB.Dialect, state.EventRun{
			Run: state.NewRun{Pipeline: p.Name, IntervalStart: iv.Start, IntervalEnd: iv.End, Version: p.Version,
				Trigger: trigger, MaxActive: p.TriggerMaxActive(), Activities: kinds},
			Keys: freshKeys, Source: trigger, Messages: messages, Objects: len(ev.Objects), Event: evJSON, Params: paramsJSON,
		}, now)
		return err
	})
	if err != nil {
		return Recorded{}, fmt.Errorf("recording a run of %s for %d events: %w", p.Name, len(items), err)
	}
	return out, nil
}
