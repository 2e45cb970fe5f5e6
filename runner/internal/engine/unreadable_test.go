package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// TestTicks_APipelineWhoseDocumentBecomesUnreadableIsNotRemoved: a known pipeline whose
// document turns into something that cannot be read (here a FIFO, or a directory) is named as
// unreadable and keeps its place: it is not taken for removed (shown "disabled").
func TestTicks_APipelineWhoseDocumentBecomesUnreadableIsNotRemoved(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "registry")
	reg, err := registry.Open(ctx, "file://"+root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		put(t, reg, shellPipeline(name))
	}
	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	now := t0.Add(2 * time.Hour)
	e, err := engine.New(engine.Options{
		DB: db, Registry: reg, Schedule: true,
		Executors: map[string]activity.Executor{definition.KindShell: activity.Noop},
		Now:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	removed := func() []string {
		t.Helper()
		ps, err := state.Pipelines(ctx, db.Reader())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			if p.Removed {
				out = append(out, p.Name)
			}
		}
		return out
	}
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	pdir := filepath.Join(root, "pipelines")
	for _, step := range []func() error{
		func() error { return os.Remove(filepath.Join(pdir, "b.json")) },
		func() error { return syscall.Mkfifo(filepath.Join(pdir, "b.json"), 0o644) },
		func() error { return os.Remove(filepath.Join(pdir, "c.json")) },
		func() error { return os.Mkdir(filepath.Join(pdir, "c.json"), 0o755) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Tick(ctx); err != nil {
		t.Fatalf("tick with two unreadable documents: %v", err)
	}
	if got := removed(); len(got) != 0 {
		t.Fatalf("pipelines taken for removed = %q, want none (their documents are there, only unreadable)", got)
	}
	var keys []string
	for _, u := range e.Ticks().Unreadable {
		keys = append(keys, u.Key)
	}
	if want := []string{"pipelines/b.json", "pipelines/c.json"}; !slices.Equal(keys, want) {
		t.Fatalf("unreadable documents = %q, want %q", keys, want)
	}
	// Deleting a document still removes its pipeline.
	if err := os.Remove(filepath.Join(pdir, "a.json")); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := removed(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("removed = %q, want [a]", got)
	}
}
