package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/metrics"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// Failing ticks looked healthy (issue 11, items 3 and 5): one unreadable entry under pipelines/
// made every listing fail, a registry moved away read as empty (every pipeline "disabled"), and
// nothing counted the failed ticks. Now an unreadable entry fails alone and is named, the others
// are scheduled; a missing registry fails the tick, which is counted, and enough failed ticks in
// a row make the runner unhealthy, saying why.
func TestTicks_UnreadableDocumentsFailAloneAndFailedTicksMakeTheRunnerUnhealthy(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root := filepath.Join(base, "registry")
	reg, err := registry.Open(ctx, "file://"+root, nil, registry.WithMaxDocumentSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		p := pipeline(name, func(p *definition.Pipeline) {
			p.Activities = map[string]*definition.Activity{"only": {Shell: &definition.ShellActivity{Command: []string{"true"}}}}
		})
		doc, err := definition.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Put(ctx, registry.PipelineKey(name), doc); err != nil {
			t.Fatal(err)
		}
	}
	pdir := filepath.Join(root, "pipelines")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(pdir, "dir.json"), 0o755))
	must(syscall.Mkfifo(filepath.Join(pdir, "fifo.json"), 0o644))
	must(os.WriteFile(filepath.Join(pdir, "big.json"), []byte(strings.Repeat(" ", 64<<10+1)), 0o644))
	must(os.WriteFile(filepath.Join(pdir, "...json"), []byte(`{}`), 0o644))

	db, err := state.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	must(err)
	t.Cleanup(db.Close)
	m := metrics.New(nil, nil)
	now := t0.Add(24 * time.Hour)
	e, err := engine.New(engine.Options{
		DB: db, Registry: reg, Schedule: true, UnhealthyAfter: 2, Metrics: m,
		Executors: map[string]activity.Executor{definition.KindShell: activity.Noop},
		Now:       func() time.Time { return now },
	})
	must(err)

	// 1. The readable pipelines are scheduled; each unreadable entry is named.
	if err := e.Tick(ctx); err != nil {
		t.Fatalf("tick with unreadable entries: %v", err)
	}
	ticks := e.Ticks()
	var keys []string
	for _, u := range ticks.Unreadable {
		keys = append(keys, u.Key)
	}
	if want := []string{"pipelines/...json", "pipelines/big.json", "pipelines/dir.json", "pipelines/fifo.json"}; !slices.Equal(keys, want) {
		t.Errorf("unreadable documents = %q, want %q", keys, want)
	}
	wantErrs := map[string]string{
		"pipelines/...json":   `registry file://` + root + `: key "pipelines/...json": ` + definition.ValidateName("pipeline", "..").Error(),
		"pipelines/big.json":  `registry file://` + root + `: document "pipelines/big.json" is 65537 bytes, over the maximum document size of 64KiB (65536 bytes): document too large; split the pipeline, or raise max_document_size in the provider and the runner configuration`,
		"pipelines/dir.json":  "is a directory, where a document (a regular file) is expected",
		"pipelines/fifo.json": "is a named pipe (FIFO), not a regular file: documents are regular files",
	}
	for _, u := range ticks.Unreadable {
		if u.Error != wantErrs[u.Key] {
			t.Errorf("%s: error %q, want %q", u.Key, u.Error, wantErrs[u.Key])
		}
	}
	if ticks.Failures != 0 || ticks.Consecutive != 0 || e.Unhealthy() != nil {
		t.Errorf("ticks after a good tick = %+v, unhealthy %v", ticks, e.Unhealthy())
	}
	enabled := func() []string {
		t.Helper()
		ps, err := engine.Status(ctx, db, now, engine.StatusOptions{})
		must(err)
		var out []string
		for _, p := range ps {
			if p.Enabled && p.LastRun != nil {
				out = append(out, p.Name)
			}
		}
		return out
	}
	if got := enabled(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("enabled pipelines with a run = %q, want [a b]", got)
	}

	// 2. The registry is moved away: the tick fails, the pipelines stay enabled.
	must(os.Rename(root, root+".moved"))
	err = e.Tick(ctx)
	wantErr := fmt.Sprintf("listing pipelines in file://%s: registry file://%s: directory %s does not exist (the registry is missing): was it moved or deleted? "+
		"The first terraform apply that publishes to it creates it; check the registry URL", root, root, root)
	if err == nil || err.Error() != wantErr {
		t.Fatalf("tick with the registry moved away = %v\nwant %s", err, wantErr)
	}
	if got := enabled(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after the registry was moved away, enabled pipelines = %q, want [a b] (not every pipeline disabled)", got)
	}
	if got := e.Ticks(); got.Failures != 1 || got.Consecutive != 1 || got.LastError != wantErr || !got.LastErrorAt.Equal(now) || e.Unhealthy() != nil {
		t.Errorf("after one failed tick: %+v, unhealthy %v (want healthy below unhealthy_after 2)", got, e.Unhealthy())
	}

	// 3. A second failed tick in a row: unhealthy, saying why.
	now = now.Add(15 * time.Second)
	_ = e.Tick(ctx)
	wantUnhealthy := "the last 2 ticks failed (unhealthy after 2; no tick succeeded since 2026-11-02T00:00:00Z); the last, at 2026-11-02T00:00:15Z: " + wantErr
	if err := e.Unhealthy(); err == nil || err.Error() != wantUnhealthy {
		t.Errorf("Unhealthy = %v\nwant %s", err, wantUnhealthy)
	}

	// 4. Back in place: healthy again; the failures stay counted.
	must(os.Rename(root+".moved", root))
	now = now.Add(15 * time.Second)
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Ticks(); got.Failures != 2 || got.Consecutive != 0 || e.Unhealthy() != nil {
		t.Errorf("after recovering: %+v, unhealthy %v", got, e.Unhealthy())
	}
	err = testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP sluice_registry_unreadable_documents Documents under pipelines/ that the last tick could not read (each named on the status page); the other pipelines were scheduled.
# TYPE sluice_registry_unreadable_documents gauge
sluice_registry_unreadable_documents 4
# HELP sluice_tick_failures_total Scheduler ticks that failed (registry or state database unreadable, ...); the status page shows the last error. Alert on its rate: a runner whose ticks fail schedules nothing.
# TYPE sluice_tick_failures_total counter
sluice_tick_failures_total 2
# HELP sluice_ticks_total Scheduler ticks (read the registry, create due runs, start runs) that ended, failed or not.
# TYPE sluice_ticks_total counter
sluice_ticks_total 4
`), "sluice_tick_failures_total", "sluice_ticks_total", "sluice_registry_unreadable_documents")
	if err != nil {
		t.Error(err)
	}
}
