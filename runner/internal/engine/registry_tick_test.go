package engine_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// countingRegistry counts the documents read, by key; it lists with the stamps of the registry
// it wraps.
type countingRegistry struct {
	registry.Registry
	mu   sync.Mutex
	gets map[string]int
}

func (c *countingRegistry) Get(ctx context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	return c.Registry.Get(ctx, key)
}

func (c *countingRegistry) ListStamped(ctx context.Context, prefix string) ([]registry.Entry, error) {
	return c.Registry.(registry.StampLister).ListStamped(ctx, prefix)
}

// reads returns and forgets the reads counted so far.
func (c *countingRegistry) reads() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.gets
	c.gets = map[string]int{}
	return out
}

// TestTickReadsOnlyChangedDocuments: the first tick reads every pipeline document, the next
// none; a rewritten document is read again (and its new version recorded), a deleted one is
// marked removed and, published again, read again; a pipeline another runner marked removed
// while its document stayed is put back without reading it.
func TestTickReadsOnlyChangedDocuments(t *testing.T) {
	ctx := context.Background()
	reg := &countingRegistry{Registry: fileRegistry(t), gets: map[string]int{}}
	names := []string{"p1", "p2", "p3", "p4", "p5"}
	for _, n := range names {
		put(t, reg, shellPipeline(n))
	}
	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e, err := engine.New(engine.Options{DB: db, Registry: reg, Schedule: true,
		Executors: map[string]activity.Executor{definition.KindShell: activity.Noop},
		Now:       func() time.Time { return t0.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	tick := func(want map[string]int) {
		t.Helper()
		if err := e.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		got := reg.reads()
		if len(got) != len(want) {
			t.Fatalf("tick read %v, want %v", got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("tick read %v, want %v", got, want)
			}
		}
	}
	pipelines := func() map[string]state.PipelineRow {
		t.Helper()
		rows, err := state.Pipelines(ctx, db.Reader())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]state.PipelineRow{}
		for _, r := range rows {
			out[r.Name] = r
		}
		return out
	}
	all := map[string]int{}
	for _, n := range names {
		all[registry.PipelineKey(n)] = 1
	}
	tick(all)
	tick(nil)

	changed := shellPipeline("p2", func(p *definition.Pipeline) { p.Parameters["tag"] = "v2" })
	put(t, reg, changed)
	tick(map[string]int{registry.PipelineKey("p2"): 1})
	v2, err := definition.Encode(changed)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := definition.DecodePipeline(v2)
	if err != nil {
		t.Fatal(err)
	}
	if got := pipelines()["p2"].Version; got != decoded.Version {
		t.Errorf("p2 recorded at version %s, want the new %s", got, decoded.Version)
	}

	if err := reg.Delete(ctx, registry.PipelineKey("p3")); err != nil {
		t.Fatal(err)
	}
	tick(nil)
	if !pipelines()["p3"].Removed {
		t.Error("p3 deleted from the registry but not marked removed")
	}
	put(t, reg, shellPipeline("p3"))
	tick(map[string]int{registry.PipelineKey("p3"): 1})
	if pipelines()["p3"].Removed {
		t.Error("p3 published again but still marked removed")
	}

	if _, err := db.Reader().Exec(ctx, `UPDATE sluice_pipelines SET removed = 1 WHERE name = 'p4'`); err != nil {
		t.Fatal(err)
	}
	tick(nil)
	if pipelines()["p4"].Removed {
		t.Error("p4 still marked removed though its document is there")
	}
}
