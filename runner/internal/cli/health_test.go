package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// The runner accepted "." and ".." as pipeline names (issue 11, item 7): `run ..` read the key
// pipelines/...json. Every command that takes a PIPELINE refuses them with the shared rule.
func TestCommandsRefuseUnsafePipelineNames(t *testing.T) {
	reg := publish(t, salesPipeline(t.TempDir(), 1))
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	sdb, err := state.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": db}
	for _, name := range []string{".", "..", "...", "../sales_daily", ".hidden", "a/b"} {
		for _, args := range [][]string{
			{"run", name, "--interval", "2026-11-01T00:00:00Z"},
			{"backfill", name, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z"},
			{"status", name},
			{"graph", name},
		} {
			code, _, errOut := run(t, env, args...)
			want := "sluice-runner: " + definition.ValidateName("pipeline", name).Error() + "\n"
			if code != 2 || errOut != want {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, errOut, want)
			}
		}
	}
}
