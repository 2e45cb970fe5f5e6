package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
)

func newStatusCommand(g *globals) *cobra.Command {
	var database string
	var runs int
	var replicasOnly bool
	cmd := &cobra.Command{
		Use:   "status [PIPELINE]",
		Short: "Show pipelines, their recent runs, activity states, freshness and owners",
		Long: `status reads the state database (--database, $` + config.EnvDatabase + `, or database in --config) — also while a runner serves it
— and shows each pipeline's owner, schedule, run counts, freshness, recent runs with their
activities, and recent failures, then the stream replicas: per replication, replica and shard,
the subscriber's state, the records the replica has applied, its lag behind the stream
(MillisBehindLatest), when it last applied a batch and its last error. --replicas shows the
replicas alone. --output json prints the same as JSON for scripts (the pipelines, or with
--replicas the replica shards).`,
		Args: func(_ *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				return nil
			case 1:
				return checkPipelineName(args[0])
			default:
				return usageErrorf("status takes at most one PIPELINE name, got %d", len(args))
			}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runs < 0 {
				return usageErrorf("--runs %d: use 0 or more", runs)
			}
			if !cmd.Flags().Changed("database") {
				database = g.io.Getenv(config.EnvDatabase)
				if database == "" && g.file != nil {
					database = g.file.Database
				}
			}
			g.addURISecrets(database)
			ctx := cmd.Context()
			db, err := state.OpenReadOnly(ctx, database)
			if err != nil {
				return ioError(err)
			}
			defer db.Close()
			now := time.Now()
			if replicasOnly {
				if len(args) > 0 {
					return usageErrorf("--replicas takes no PIPELINE name")
				}
				shards, err := replicaShards(ctx, db, now)
				if err != nil {
					return ioError(g.secrets.Error(err))
				}
				scrubShards(g.secrets, shards)
				if g.output == OutputJSON {
					return writeJSON(cmd.OutOrStdout(), shards)
				}
				if len(shards) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no replica shards yet: serve --replicas … first")
					return nil
				}
				writeReplicas(cmd.OutOrStdout(), shards, now)
				return nil
			}
			opts := engine.StatusOptions{Runs: runs, Failures: 5}
			if len(args) == 1 {
				opts.Pipeline = args[0]
			}
			ps, err := engine.Status(ctx, db, now, opts)
			if errors.Is(err, state.ErrNotFound) {
				return fmt.Errorf("pipeline %q has never been seen by a runner on %s", opts.Pipeline, db.Where)
			}
			if err != nil {
				return ioError(err)
			}
			if err := usage.Annotate(ctx, db, ps, now); err != nil {
				return ioError(err)
			}
			scrubStatus(g.secrets, ps)
			if g.output == OutputJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if ps == nil {
					ps = []status.Pipeline{}
				}
				if err := enc.Encode(ps); err != nil {
					return ioError(fmt.Errorf("writing status: %w", err))
				}
				return nil
			}
			writeStatus(cmd.OutOrStdout(), ps, now)
			if len(args) == 0 {
				shards, err := replicaShards(ctx, db, now)
				if err != nil {
					return ioError(g.secrets.Error(err))
				}
				scrubShards(g.secrets, shards)
				writeReplicas(cmd.OutOrStdout(), shards, now)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&replicasOnly, "replicas", false, "show the stream replicas' shards only")
	cmd.Flags().StringVar(&database, "database", "", "state database (default: $"+config.EnvDatabase+", else the config file's, else "+state.DefaultURL+")")
	cmd.Flags().IntVar(&runs, "runs", 10, "recent runs to show per pipeline")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return ioError(fmt.Errorf("writing status: %w", err))
	}
	return nil
}

// money shows a cost in US dollars; "unknown" when a price or an input was missing.
func money(usd *float64) string {
	if usd == nil {
		return "unknown"
	}
	return fmt.Sprintf("$%.4f", *usd)
}

func nodeHours(secs int64) string { return fmt.Sprintf("%.2f", float64(secs)/3600) }

func writeStatus(w io.Writer, ps []status.Pipeline, now time.Time) {
	if len(ps) == 0 {
		fmt.Fprintln(w, "no pipelines yet: serve, run or backfill one first")
		return
	}
	for i, p := range ps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		en := "enabled"
		if !p.Enabled {
			en = "disabled"
		}
		fmt.Fprintf(w, "pipeline %s (%s)\n", p.Name, en)
		fmt.Fprintf(w, "  owner:     %s\n", orNone(p.Owner))
		if p.Trigger != "" {
			fmt.Fprintf(w, "  trigger:   %s\n", p.Trigger)
		}
		if p.Schedule != "" {
			fmt.Fprintf(w, "  schedule:  %s\n", p.Schedule)
		}
		if p.NextRun != nil {
			fmt.Fprintf(w, "  next run:  %s\n", p.NextRun.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "  runs:      %s\n", counts(p.Counts))
		for _, f := range p.Freshness {
			// Never a negative age: a run of an interval not ended yet (run --allow-future) or a
			// clock behind another runner's records a freshness ahead of now, and "-3h old"
			// would read as fresher than fresh; it is as fresh as it gets.
			age := max(now.Sub(f.Value), 0)
			fmt.Fprintf(w, "  freshness: %s = %s (%s old)\n", f.Subject, f.Value.Format(time.RFC3339), age.Round(time.Minute))
		}
		if c := p.Cost; c != nil {
			fmt.Fprintf(w, "  cost:      estimate %s per run (the plan's)\n", money(c.EstimatedPerRun))
			for _, d := range c.Days {
				fmt.Fprintf(w, "  cost/day:  %s  %s  %d run(s), %d cluster(s), %s node-hours\n", d.Day, money(d.USD), d.Runs, d.Clusters, nodeHours(d.NodeSeconds))
			}
		}
		for _, r := range p.Runs {
			fmt.Fprintf(w, "  run %d  %s  %-9s %s", r.ID, r.IntervalStart.Format(time.RFC3339), r.State, r.Trigger)
			if r.Seq > 0 && r.Event == nil {
				fmt.Fprintf(w, " (reprocess %d)", r.Seq)
			}
			if c := r.Cost; c != nil {
				fmt.Fprintf(w, "  cost %s (estimate %s; %d cluster(s), %s node-hours", money(c.USD), money(c.EstimatedUSD), c.Clusters, nodeHours(c.NodeSeconds))
				if c.NormalizedInstanceHours != nil {
					fmt.Fprintf(w, ", %d normalized instance hours", *c.NormalizedInstanceHours)
				}
				fmt.Fprint(w, ")")
			}
			fmt.Fprintln(w)
			if ev := r.Event; ev != nil {
				line := fmt.Sprintf("    event: %d messages, %d objects", ev.Messages, ev.Objects)
				if len(ev.Sample) > 0 {
					line += ": " + strings.Join(ev.Sample, ", ")
					if ev.Objects > len(ev.Sample) {
						line += ", …"
					}
				}
				if ev.Upstream != "" {
					line += "; after " + ev.Upstream
				}
				fmt.Fprintln(w, line)
			}
			if c := r.Cost; c != nil && c.Unestimated != "" {
				fmt.Fprintf(w, "    cost note: %s\n", firstLine(c.Unestimated))
			}
			for _, a := range r.Activities {
				line := fmt.Sprintf("    %-20s %-15s attempts %d", a.ID, a.State, a.Attempts)
				if a.Summary != "" {
					line += "  " + a.Summary
				}
				if a.Error != "" {
					line += "  error: " + firstLine(a.Error)
				}
				fmt.Fprintln(w, line)
				for _, warn := range a.Warnings {
					fmt.Fprintf(w, "      warning: %s\n", warn)
				}
			}
		}
		for _, f := range p.RecentFailures {
			fmt.Fprintf(w, "  failure: run %d %s %s attempt %d: %s\n", f.RunID, f.IntervalStart.Format(time.RFC3339), f.Activity, f.Attempt, firstLine(f.Error))
		}
	}
}

func counts(c map[string]int) string {
	if len(c) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", c[k], k))
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
