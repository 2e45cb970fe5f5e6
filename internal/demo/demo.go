// Package demo runs the worked case end to end on one machine, without AWS: a throwaway
// PostgreSQL stands in for Redshift, a file:// directory for S3, and sluice-runner's local EMR
// mode for the cluster. `make demo` runs it; a test in runner/internal/itest runs it too.
//
// The steps: generate a week of web logs; `terraform apply` examples/worked-case with the
// provider built from this tree (dev_overrides), publishing to a file:// registry; then
// `sluice-runner backfill` runs the seven days — wait for the logs, parse them with a local
// streaming step (mapper | sort | reducer), COPY the CSV into PostgreSQL, run the QA checks —
// and `sluice-runner status` shows the result.
//
// RunReplicas is the second scenario, examples/multi-region (`make demo-replicas`): see
// replicas.go.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// Days is how many daily intervals the demo backfills.
const Days = 7

// Options say where the demo works and with which binaries.
type Options struct {
	// Root is the repository root (examples/worked-case is read from it).
	Root string
	// Dir is the demo's working directory (created; its contents are replaced).
	Dir string
	// Terraform, Provider and Runner are the binaries to use.
	Terraform, Provider, Runner string
	// Out receives the narration and the commands' output.
	Out io.Writer
	// Today is the day whose midnight ends the backfill; zero means today (UTC).
	Today time.Time
}

// Pipeline is the part of `sluice-runner status --output json` the demo checks.
type Pipeline struct {
	Name      string         `json:"name"`
	Owner     string         `json:"owner"`
	Counts    map[string]int `json:"counts"`
	Freshness []struct {
		Subject string    `json:"subject"`
		Value   time.Time `json:"value"`
	} `json:"freshness"`
	Runs []struct {
		Trigger    string `json:"trigger"`
		State      string `json:"state"`
		Activities []struct {
			ID       string   `json:"id"`
			State    string   `json:"state"`
			Warnings []string `json:"warnings"`
		} `json:"activities"`
	} `json:"runs"`
}

// Result is what the demo found at the end.
type Result struct {
	Pipeline Pipeline
	// Rows is the row count of web.page_views.
	Rows int
	// Lines is how many distinct requests the generated logs hold.
	Lines int
}

// Run runs the demo.
func Run(ctx context.Context, o Options) (*Result, error) {
	today := o.Today
	if today.IsZero() {
		today = time.Now().UTC()
	}
	end := today.UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -Days)

	if err := os.RemoveAll(o.Dir); err != nil {
		return nil, fmt.Errorf("cleaning %s: %w", o.Dir, err)
	}
	data := filepath.Join(o.Dir, "data")
	say(o.Out, "Generating %d days of web logs under %s", Days, data)
	lines, err := writeLogs(data, start, Days)
	if err != nil {
		return nil, err
	}

	say(o.Out, "Starting a throwaway PostgreSQL (stands in for Redshift)")
	pg, err := acctest.StartPostgres(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w (run `make tools`)", err)
	}
	defer pg.Stop()
	if err := pg.CreateDatabase(ctx, "warehouse"); err != nil {
		return nil, err
	}
	if err := pg.Exec(ctx, "warehouse", `CREATE SCHEMA web; CREATE TABLE web.page_views (request_id text NOT NULL, viewed_at timestamptz NOT NULL, path text NOT NULL)`); err != nil {
		return nil, err
	}
	warehouse := pg.URL("warehouse")

	say(o.Out, "terraform apply examples/worked-case (publishes to file://%s/registry)", o.Dir)
	tf, err := newTerraform(o, filepath.Join(o.Dir, "terraform"))
	if err != nil {
		return nil, err
	}
	if err := copyFiles(filepath.Join(o.Root, "examples", "worked-case"), tf.dir); err != nil {
		return nil, fmt.Errorf("copying the worked case: %w", err)
	}
	registry := "file://" + filepath.Join(o.Dir, "registry")
	if err := tf.run(ctx, "apply", "-auto-approve",
		"-var", "registry="+registry, "-var", "data_root=file://"+data, "-var", "start="+start.Format(time.RFC3339)); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(filepath.Join(o.Dir, "work"), 0o755); err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	database := "sqlite://" + filepath.Join(o.Dir, "state.db")
	runEnv := []string{"SLUICE_REGISTRY=" + registry, "SLUICE_DATABASE=" + database, "SLUICE_CONN_WAREHOUSE=" + warehouse,
		"SLUICE_EMR_MODE=local", "SLUICE_WORK_DIR=" + filepath.Join(o.Dir, "work"), "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=eu-west-1"}
	say(o.Out, "sluice-runner backfill web_logs_daily --from %s --to %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	if err := command(ctx, o, o.Dir, runEnv, o.Runner, "backfill", "web_logs_daily", "--from", start.Format(time.RFC3339), "--to", end.Format(time.RFC3339),
		"--tick", "200ms", "--log-level", "warn"); err != nil {
		return nil, err
	}
	say(o.Out, "sluice-runner status web_logs_daily")
	if err := command(ctx, o, o.Dir, runEnv, o.Runner, "status", "web_logs_daily", "--runs", "3"); err != nil {
		return nil, err
	}
	var out strings.Builder
	cmd := exec.CommandContext(ctx, o.Runner, "status", "web_logs_daily", "--output", "json")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = append(os.Environ(), runEnv...), o.Dir, &out, o.Out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("sluice-runner status --output json: %w", err)
	}
	var ps []Pipeline
	if err := json.Unmarshal([]byte(out.String()), &ps); err != nil || len(ps) != 1 {
		return nil, fmt.Errorf("reading status JSON (%w): %s", err, out.String())
	}
	rows, err := countRows(ctx, pg)
	if err != nil {
		return nil, err
	}
	say(o.Out, "web.page_views holds %d rows (%d distinct requests in the logs)", rows, lines)
	return &Result{Pipeline: ps[0], Rows: rows, Lines: lines}, nil
}
