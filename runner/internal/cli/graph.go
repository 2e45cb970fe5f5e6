package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/graph"
)

func newGraphCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph PIPELINE",
		Short: "Print a pipeline's activity graph as Graphviz DOT or Mermaid",
		Long: `graph reads pipelines/<PIPELINE>.json from the registry (--registry or $` + EnvRegistry + `) and
prints its activities as a graph: one node per activity, labelled with its id and kind, and an
edge from each dependency to its dependent, in a deterministic order.

  sluice-runner graph daily_clicks | dot -Tsvg > daily_clicks.svg
  sluice-runner graph daily_clicks --format mermaid`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("graph takes exactly one PIPELINE name, got %d", len(args))
			}
			return checkPipelineName(args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != graph.FormatDOT && format != graph.FormatMermaid {
				return usageErrorf("--format %q is not supported: use %s", format, strings.Join(graph.Formats(), " or "))
			}
			if g.output != OutputText {
				return usageErrorf("graph prints DOT or Mermaid, not --output %s: choose with --format", g.output)
			}
			if g.registry == "" {
				return usageErrorf("no registry: set --registry or $%s", EnvRegistry)
			}
			ctx := cmd.Context()
			reg, err := g.openRegistry(ctx, g.registry)
			if err != nil {
				return err
			}
			name := args[0]
			key := registry.PipelineKey(name)
			data, err := reg.Get(ctx, key)
			switch {
			case errors.Is(err, registry.ErrNoRegistry):
				return ioError(err)
			case errors.Is(err, registry.ErrNotFound):
				return fmt.Errorf("pipeline %q is not in registry %s (no document at key %s): check the name and --registry", name, reg.URL(), key)
			case err != nil:
				return ioError(err)
			}
			p, err := definition.DecodePipeline(data)
			switch {
			case errors.Is(err, definition.ErrVersionMismatch):
				g.log.Warn("the pipeline was edited after publishing; drawing it as it is", "registry", reg.URL(), "key", key, "error", err.Error())
			case err != nil:
				return fmt.Errorf("registry %s, key %s: %w", reg.URL(), key, err)
			}
			out, err := graph.Render(p, format)
			if err != nil {
				return fmt.Errorf("registry %s, key %s: %w", reg.URL(), key, err)
			}
			g.log.Debug("graph", "registry", reg.URL(), "pipeline", name, "activities", len(p.Activities))
			if _, err := io.WriteString(cmd.OutOrStdout(), out); err != nil {
				return ioError(fmt.Errorf("writing the graph: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", graph.FormatDOT, "graph format: "+strings.Join(graph.Formats(), " or "))
	return cmd
}
