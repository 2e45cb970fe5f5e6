package registry_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// TestListStamped: every registry lists with stamps; a stamp stays while the document does and
// changes when it is rewritten, even with content of the same size at once; the keys are List's.
func TestListStamped(t *testing.T) {
	forEachDriver(t, func(t *testing.T, reg registry.Registry, _ *atomic.Int64) {
		ctx := context.Background()
		sl, ok := reg.(registry.StampLister)
		if !ok {
			t.Fatalf("%T does not list with stamps", reg)
		}
		for _, k := range []string{"pipelines/a.json", "pipelines/b.json", "pipelines/c.json", "pipelines/d.json", "emr-templates/x.json"} {
			mustPut(t, reg, k, `{"v":1}`)
		}
		stamps := func() map[string]string {
			t.Helper()
			entries, err := sl.ListStamped(ctx, registry.PipelinesPrefix)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := reg.List(ctx, registry.PipelinesPrefix)
			if err != nil {
				t.Fatal(err)
			}
			if got := registry.Keys(entries); len(got) != len(keys) {
				t.Fatalf("ListStamped keys %v, List keys %v", got, keys)
			}
			out := map[string]string{}
			for i, en := range entries {
				if en.Key != keys[i] || en.Stamp == "" {
					t.Fatalf("entry %d = %+v; List says %q", i, en, keys[i])
				}
				out[en.Key] = en.Stamp
			}
			return out
		}
		before := stamps()
		if len(before) != 4 {
			t.Fatalf("listed %v, want the 4 pipelines", before)
		}
		if again := stamps(); again["pipelines/a.json"] != before["pipelines/a.json"] {
			t.Errorf("stamp of an unchanged document changed: %q then %q", before["pipelines/a.json"], again["pipelines/a.json"])
		}
		mustPut(t, reg, "pipelines/b.json", `{"v":2}`) // same size, at once
		after := stamps()
		if after["pipelines/b.json"] == before["pipelines/b.json"] {
			t.Errorf("stamp of a rewritten document stayed %q", after["pipelines/b.json"])
		}
		for _, k := range []string{"pipelines/a.json", "pipelines/c.json", "pipelines/d.json"} {
			if after[k] != before[k] {
				t.Errorf("stamp of %s changed (%q then %q) though only b was written", k, before[k], after[k])
			}
		}
	})
}
