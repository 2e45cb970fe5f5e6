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

// Batch is the items of one run to make.
type Batch struct {
	Items []Item
	// Messages is how many queue messages the items came from.
	Messages int
}

// Record creates one run of p for the items whose dedupe keys are not recorded yet, with those
// keys and the run's event, in one transaction; it makes no run when every key is recorded.
func (r *Recorder) Record(ctx context.Context, p *definition.Pipeline, trigger string, items []Item, messages int, loc *time.Location) (Recorded, error) {
	out, err := r.RecordAll(ctx, p, trigger, []Batch{{Items: items, Messages: messages}}, loc)
	if err != nil {
		return Recorded{}, err
	}
	return out[0], nil
}

// RecordAll records a run per batch as Record does, all in one transaction: the batches of one
// receive cost one commit.
func (r *Recorder) RecordAll(ctx context.Context, p *definition.Pipeline, trigger string, batches []Batch, loc *time.Location) ([]Recorded, error) {
	kinds, err := r.Kinds(p)
	if err != nil {
		return nil, err
	}
	doc, err := definition.Encode(p)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", p.Name, err)
	}
	now := r.Now().UTC()
	// The keys of every batch, each once: an event in two batches (delivered twice) goes into
	// the first.
	var keys []string
	seen := map[string]bool{}
	batchKeys := make([][]string, len(batches))
	batchItems := make([][]Item, len(batches))
	for i, b := range batches {
		for _, it := range b.Items {
			k := it.Event.DedupeKey()
			if seen[k] {
				continue
			}
			seen[k] = true
			keys = append(keys, k)
			batchKeys[i] = append(batchKeys[i], k)
			batchItems[i] = append(batchItems[i], it)
		}
	}
	out := make([]Recorded, len(batches))
	err = r.DB.InTx(ctx, func(q state.Q) error {
		clear(out)
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
		for i, b := range batches {
			fresh := make([]Item, 0, len(batchItems[i]))
			freshKeys := make([]string, 0, len(batchItems[i]))
			for j, it := range batchItems[i] {
				if !known[batchKeys[i][j]] {
					fresh = append(fresh, it)
					freshKeys = append(freshKeys, batchKeys[i][j])
				}
			}
			out[i].Fresh, out[i].Duplicates = len(fresh), len(b.Items)-len(fresh)
			if len(fresh) == 0 {
				continue
			}
			iv, ev, params, err := shapeRun(fresh, b.Messages, loc)
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
			out[i].Interval = iv
			out[i].RunID, err = state.InsertEventRun(ctx, q, r.DB.Dialect, state.EventRun{
				Run: state.NewRun{Pipeline: p.Name, IntervalStart: iv.Start, IntervalEnd: iv.End, Version: p.Version,
					Trigger: trigger, MaxActive: p.TriggerMaxActive(), Activities: kinds},
				Keys: freshKeys, Source: trigger, Messages: b.Messages, Objects: len(ev.Objects), Event: evJSON, Params: paramsJSON,
			}, now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		n := 0
		for _, b := range batches {
			n += len(b.Items)
		}
		return nil, fmt.Errorf("recording %d runs of %s for %d events: %w", len(batches), p.Name, n, err)
	}
	return out, nil
}
