package cli

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/actions"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/web"
)

// actor names who acts from the command line in the action log: cli:USER@HOST.
func (g *globals) actor() string {
	name := g.io.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, _ := os.Hostname()
	return "cli:" + name + "@" + host
}

// actionDetail is the reason of an action's error without the category it is wrapped in
// (actions.ErrInvalid, ErrConflict): the command line words the category as its exit code.
func actionDetail(err error) error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := u.Unwrap(); len(errs) > 0 {
			return errs[len(errs)-1]
		}
	}
	return err
}

// actionError maps an action's error to the command line's exit codes: refused or invalid
// requests and unknown things are usage errors (2), the rest failures.
func actionError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, actions.ErrInvalid), errors.Is(err, actions.ErrConflict):
		return usageErrorf("%v", actionDetail(err))
	case errors.Is(err, actions.ErrNotFound):
		return usageErrorf("%v", err)
	default:
		return err
	}
}

// runtimeForActions builds what an action command needs: the state database and an engine on
// it (whose River client queues jobs; a serving runner on the same database works them).
func (g *globals) runtimeForActions(cmd *cobra.Command, f *engineFlags) (*runtime, *actions.Service, error) {
	cfg, err := g.loadConfig(cmd, f)
	if err != nil {
		return nil, nil, err
	}
	rt, err := g.newRuntime(cmd.Context(), cfg, false)
	if err != nil {
		return nil, nil, err
	}
	return rt, &actions.Service{DB: rt.db, Engine: rt.eng}, nil
}

func newPauseCommand(g *globals, pause bool) *cobra.Command {
	f := &engineFlags{}
	verb, short := "unpause", "Let a paused pipeline's schedule create runs again"
	if pause {
		verb, short = "pause", "Stop a pipeline's schedule from creating runs until unpaused"
	}
	cmd := &cobra.Command{
		Use:   verb + " PIPELINE",
		Short: short,
		Long: short + `. Runs already planned go on; run and backfill still plan runs of a paused
pipeline. The change is recorded in the action log (who, when) and shown on the web UI; the
same action is POST /api/pipelines/{name}/` + verb + ` and a button on the pipeline's page.`,
		Args: exactlyOnePipeline(verb),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, svc, err := g.runtimeForActions(cmd, f)
			if err != nil {
				return err
			}
			defer rt.close()
			changed, err := svc.SetPaused(cmd.Context(), g.actor(), args[0], pause)
			if err != nil {
				return actionError(err)
			}
			state := verb + "d"
			if !changed {
				state = "was already " + state
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", args[0], state)
			return nil
		},
	}
	f.add(cmd, false)
	return cmd
}

func parseRunID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("%q is not a run id (a positive number, as status shows it)", s)
	}
	return id, nil
}

func newClearCommand(g *globals) *cobra.Command {
	f := &engineFlags{}
	cmd := &cobra.Command{
		Use:   "clear RUN_ID ACTIVITY",
		Short: "Run a finished activity of a run again, with everything downstream of it",
		Long: `clear makes a finished activity of a run (failed, succeeded, or upstream_failed once its
dependencies succeeded) and every activity downstream of it pending again, reopens the run and
queues the activity. A serving runner on the same database executes it. Attempts stay in the
history; retries count afresh. The same action is POST /api/runs/{id}/activities/{activity}/clear
and a button on the run's page.

  sluice-runner clear 42 load`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			rt, svc, err := g.runtimeForActions(cmd, f)
			if err != nil {
				return err
			}
			defer rt.close()
			cleared, err := svc.ClearActivity(cmd.Context(), g.actor(), id, args[1])
			if err != nil {
				return actionError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %d: cleared %v\n", id, cleared)
			return nil
		},
	}
	f.add(cmd, false)
	return cmd
}

func newMarkFailedCommand(g *globals) *cobra.Command {
	f := &engineFlags{}
	cmd := &cobra.Command{
		Use:   "mark-failed RUN_ID",
		Short: "Fail a scheduled or running run now",
		Long: `mark-failed fails a run that is scheduled or running: its unfinished activities fail with
an error naming who did it, and the run is failed. Queued jobs end without running; an attempt
already running finishes. The same action is POST /api/runs/{id}/fail and a button on the run's
page.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			rt, svc, err := g.runtimeForActions(cmd, f)
			if err != nil {
				return err
			}
			defer rt.close()
			failed, err := svc.MarkRunFailed(cmd.Context(), g.actor(), id)
			if err != nil {
				return actionError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %d: marked failed (activities failed: %v)\n", id, failed)
			return nil
		},
	}
	f.add(cmd, false)
	return cmd
}

func newActionsCommand(g *globals) *cobra.Command {
	var database, pipeline string
	var limit int
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "Show the action log: who triggered, backfilled, cleared, failed or paused what, and when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("database") {
				database = g.io.Getenv(config.EnvDatabase)
				if database == "" && g.file != nil {
					database = g.file.Database
				}
			}
			g.addURISecrets(database)
			db, err := state.OpenReadOnly(cmd.Context(), database)
			if err != nil {
				return ioError(err)
			}
			defer db.Close()
			recs, err := state.Actions(cmd.Context(), db.Reader(), pipeline, limit)
			if err != nil {
				return err
			}
			out := actions.ToStatus(recs)
			if g.output == OutputJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			for _, a := range out {
				what := a.Pipeline
				if a.RunID != 0 {
					what += fmt.Sprintf(" run %d", a.RunID)
				}
				if a.Activity != "" {
					what += " " + a.Activity
				}
				line := fmt.Sprintf("%s %s %s %s: %s", a.At.Format(time.RFC3339), a.Actor, a.Action, what, a.Detail)
				if a.Outcome != actions.OutcomeOK {
					line += " — failed: " + a.Error
				}
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&database, "database", "", "state database (default: $"+config.EnvDatabase+", else "+state.DefaultURL+")")
	cmd.Flags().StringVar(&pipeline, "pipeline", "", "only the actions on this pipeline")
	cmd.Flags().IntVar(&limit, "limit", 50, "most actions shown, newest first")
	return cmd
}

func newTokenCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "token NAME",
		Short: "Make a token for the web UI's actions and the API",
		Long: `token prints a new random token, and the config file entry that lets it act: the entry holds
the token's SHA-256, never the token, so the config file gives nothing away. NAME is who acts
with it in the action log. Give the token to its holder once: it cannot be shown again.

  web:
    actions: true
    tokens:
      - name: alice
        sha256: <printed>`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := web.ParseToken(args[0], "0000000000000000000000000000000000000000000000000000000000000000"); err != nil {
				return usageErrorf("%v", err)
			}
			secret, sum, err := web.NewToken()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token: %s\n\n# in the runner's config file, under web.tokens:\n  - name: %s\n    sha256: %s\n", secret, args[0], sum)
			return nil
		},
	}
}
