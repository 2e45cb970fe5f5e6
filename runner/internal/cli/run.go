package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/actions"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func newRunCommand(g *globals) *cobra.Command {
	f := &engineFlags{}
	var interval string
	var reprocess, allowFuture bool
	cmd := &cobra.Command{
		Use:   "run PIPELINE --interval START",
		Short: "Run one interval of a pipeline now and wait for it",
		Long: `run reads the pipeline from the registry, plans the run of the interval that starts at START
(RFC 3339, e.g. 2026-11-18T00:00:00Z), executes it in this process, and exits 0 when it
succeeded, 1 when it failed. An interval that already has a run is refused unless --reprocess.
An interval that has not ended yet is refused (the error says when it ends) unless
--allow-future: its data cannot all exist yet, and the scheduler would skip it when it comes due.

  sluice-runner run web_logs_daily --interval 2026-11-18T00:00:00Z`,
		Args: exactlyOnePipeline("run"),
		RunE: func(cmd *cobra.Command, args []string) error {
			start, err := time.Parse(time.RFC3339, interval)
			if err != nil {
				return usageErrorf("--interval %q is not an RFC 3339 time such as 2026-11-18T00:00:00Z", interval)
			}
			cfg, err := g.loadConfig(cmd, f)
			if err != nil {
				return err
			}
			if cfg.Registry == "" {
				return usageErrorf("no registry: set --registry or $%s", EnvRegistry)
			}
			ctx := cmd.Context()
			rt, err := g.newRuntime(ctx, cfg, false)
			if err != nil {
				return err
			}
			defer rt.close()
			p, err := readPipeline(ctx, rt.reg, args[0])
			if err != nil {
				return err
			}
			svc := &actions.Service{DB: rt.db, Engine: rt.eng}
			res, err := svc.Trigger(ctx, p, actions.TriggerRequest{Actor: g.actor(), Start: start, Reprocess: reprocess, AllowFuture: allowFuture})
			switch {
			case errors.Is(err, engine.ErrIntervalNotEnded):
				return usageErrorf("%v; wait until then, or pass --allow-future to run it now", actionDetail(err))
			case errors.Is(err, engine.ErrIntervalExists):
				return usageErrorf("%v", actionDetail(err))
			case errors.Is(err, actions.ErrInvalid):
				return actionDetail(err) // an interval off the schedule: the command failed (exit 1)
			case err != nil:
				return err
			}
			id, iv := res.RunID, res.Interval
			g.log.Info("run planned", "pipeline", p.Name, "run", id, "interval", iv.String(), "version", p.Version)
			return g.executeAndReport(ctx, cmd.OutOrStdout(), rt, []int64{id})
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&interval, "interval", "", "start of the interval to run, RFC 3339 (required)")
	cmd.Flags().BoolVar(&reprocess, "reprocess", false, "run the interval again even if it already has a finished run")
	cmd.Flags().BoolVar(&allowFuture, "allow-future", false, "run an interval that has not ended yet (its freshness then lies ahead, and the scheduler will not run the interval when it comes due)")
	_ = cmd.MarkFlagRequired("interval")
	return cmd
}

func newBackfillCommand(g *globals) *cobra.Command {
	f := &engineFlags{}
	var from, to, reprocess string
	var maxActive, maxRuns int
	var noWait, yes bool
	cmd := &cobra.Command{
		Use:   "backfill PIPELINE --from START --to END",
		Short: "Plan and run a pipeline's intervals in [from, to), oldest first",
		Long: `backfill plans a run for every interval of the pipeline's schedule that starts in [--from, --to)
and has ended, oldest first, at most --max-active at once (default: the schedule's
max_active_runs), executes them in this process and waits (unless --no-wait, which leaves them
to a serving runner on the same database).

--reprocess says what happens to intervals that already have a run: none (default: skip them),
failed (run again those whose newest run failed), all (run every interval again).

A backfill of more than ` + strconv.Itoa(engine.DefaultBackfillMaxRuns) + ` runs is refused before anything is planned: the runs are
counted first, and the error says how many there would be. Pass --max-runs N (at least that
many) or --yes to plan them; --max-runs is a cap that --yes does not lift.

  sluice-runner backfill web_logs_daily --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z`,
		Args: exactlyOnePipeline("backfill"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fromT, err := time.Parse(time.RFC3339, from)
			if err != nil {
				return usageErrorf("--from %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", from)
			}
			toT, err := time.Parse(time.RFC3339, to)
			if err != nil {
				return usageErrorf("--to %q is not an RFC 3339 time such as 2026-11-08T00:00:00Z", to)
			}
			if !fromT.Before(toT) {
				return usageErrorf("--from %s must be before --to %s", from, to)
			}
			switch reprocess {
			case engine.ReprocessNone, engine.ReprocessFailed, engine.ReprocessAll:
			default:
				return usageErrorf("--reprocess %q: use %s", reprocess, strings.Join(engine.ReprocessModes(), ", "))
			}
			if maxActive < 0 {
				return usageErrorf("--max-active %d: use a positive number (0 means the schedule's max_active_runs)", maxActive)
			}
			if maxRuns < 0 {
				return usageErrorf("--max-runs %d: use a positive number (0 means %d unless --yes)", maxRuns, engine.DefaultBackfillMaxRuns)
			}
			cfg, err := g.loadConfig(cmd, f)
			if err != nil {
				return err
			}
			if cfg.Registry == "" {
				return usageErrorf("no registry: set --registry or $%s", EnvRegistry)
			}
			ctx := cmd.Context()
			rt, err := g.newRuntime(ctx, cfg, false)
			if err != nil {
				return err
			}
			defer rt.close()
			p, err := readPipeline(ctx, rt.reg, args[0])
			if err != nil {
				return err
			}
			svc := &actions.Service{DB: rt.db, Engine: rt.eng}
			res, err := svc.Backfill(ctx, p, actions.BackfillRequest{
				Actor: g.actor(), From: fromT, To: toT, Reprocess: reprocess, MaxActive: maxActive, MaxRuns: maxRuns, Yes: yes,
			})
			var tooMany *actions.TooManyRunsError
			switch {
			case errors.As(err, &tooMany):
				return tooManyRuns(tooMany)
			case errors.Is(err, actions.ErrInvalid):
				return usageErrorf("%v", actionDetail(err))
			case err != nil:
				return err
			}
			g.log.Info("backfill planned", "pipeline", p.Name, "intervals", res.In, "created", len(res.Created), "existing", res.Existing, "future", res.Future)
			fmt.Fprintf(cmd.ErrOrStderr(), "backfill %s: %d interval(s) in range, %d run(s) planned, %d already had a run, %d not ended yet\n",
				p.Name, res.In, len(res.Created), res.Existing, res.Future)
			if noWait || len(res.Created) == 0 {
				return nil
			}
			return g.executeAndReport(ctx, cmd.OutOrStdout(), rt, res.Created)
		},
	}
	f.add(cmd, false)
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "first interval start to include, RFC 3339 (required)")
	fl.StringVar(&to, "to", "", "intervals starting at or after this are left out, RFC 3339 (required)")
	fl.StringVar(&reprocess, "reprocess", engine.ReprocessNone, "intervals that already have a run: "+strings.Join(engine.ReprocessModes(), ", "))
	fl.IntVar(&maxActive, "max-active", 0, "runs at once (default: the schedule's max_active_runs)")
	fl.BoolVar(&noWait, "no-wait", false, "only plan the runs; a serving runner on the same database executes them")
	fl.IntVar(&maxRuns, "max-runs", 0, fmt.Sprintf("most runs the backfill may plan; more is refused before anything is planned (default %d, unlimited with --yes)", engine.DefaultBackfillMaxRuns))
	fl.BoolVar(&yes, "yes", false, fmt.Sprintf("plan the backfill even if it is over %d runs (a --max-runs still applies)", engine.DefaultBackfillMaxRuns))
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// tooManyRuns words a backfill refused for its size for the command line: the flags that
// lift the limit.
func tooManyRuns(e *actions.TooManyRunsError) error {
	count := strconv.Itoa(e.Runs)
	if e.More {
		count = "more than " + count
	}
	how := fmt.Sprintf("pass --max-runs %d or --yes to plan them, or narrow --from/--to", e.Runs)
	if e.LimitGiven {
		how = fmt.Sprintf("raise --max-runs to %d, or narrow --from/--to", e.Runs)
	}
	return usageErrorf("backfill of %s from %s to %s would plan %s runs, over the limit of %d (--max-runs): nothing was planned; %s",
		e.Pipeline, e.From.Format(time.RFC3339), e.To.Format(time.RFC3339), count, e.Limit, how)
}

func exactlyOnePipeline(verb string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%s takes exactly one PIPELINE name, got %d", verb, len(args))
		}
		return checkPipelineName(args[0])
	}
}

// checkPipelineName refuses a name that is not a pipeline name before it becomes a registry
// key or a database lookup: ".." would read pipelines/...json, and a name with "/" a document
// of another kind. The rule is the provider's (definition.ValidateName).
func checkPipelineName(name string) error {
	if err := definition.ValidateName("pipeline", name); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// executeAndReport works the runs in this process until they finish, shows progress on
// stderr, and prints the outcome (text or JSON). It fails (exit 1) when a run failed.
func (g *globals) executeAndReport(ctx context.Context, stdout io.Writer, rt *runtime, ids []int64) error {
	var runs []state.RunRow
	err := runEngine(ctx, g.log, rt.eng, func(ctx context.Context) error {
		var err error
		runs, err = rt.eng.Wait(ctx, ids, 100*time.Millisecond, func(done, total int) {
			fmt.Fprintf(g.io.Stderr, "runs finished: %d/%d\n", done, total)
		})
		return err
	})
	if err != nil {
		return err
	}
	failed := 0
	type outRun struct {
		ID            int64     `json:"id"`
		Pipeline      string    `json:"pipeline"`
		IntervalStart time.Time `json:"interval_start"`
		State         string    `json:"state"`
		Failed        []string  `json:"failed_activities,omitempty"`
	}
	var out []outRun
	for _, r := range runs {
		o := outRun{ID: r.ID, Pipeline: r.Pipeline, IntervalStart: r.IntervalStart, State: r.State}
		if r.State == status.RunFailed {
			failed++
			acts, err := state.Activities(ctx, rt.db.Reader(), r.ID)
			if err != nil {
				return err
			}
			for _, a := range acts {
				if a.State == status.ActivityFailed {
					o.Failed = append(o.Failed, a.Activity+": "+a.Error)
				}
			}
		}
		out = append(out, o)
	}
	if g.output == OutputJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return ioError(fmt.Errorf("writing the result: %w", err))
		}
	} else {
		for _, o := range out {
			fmt.Fprintf(stdout, "%s %s run %d: %s\n", o.Pipeline, o.IntervalStart.Format(time.RFC3339), o.ID, o.State)
			for _, f := range o.Failed {
				fmt.Fprintf(stdout, "  failed %s\n", f)
			}
		}
	}
	if failed > 0 {
		return &exitError{code: ExitInvalid, err: fmt.Errorf("%d of %d run(s) failed", failed, len(out))}
	}
	return nil
}
