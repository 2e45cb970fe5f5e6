package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/streamput"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/verify"
)

func newReplicasCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replicas",
		Short: "Work with the replicas of a stream replication",
	}
	cmd.AddCommand(newReplicasVerifyCommand(g))
	return cmd
}

func newReplicasVerifyCommand(g *globals) *cobra.Command {
	f := &engineFlags{} // none of its flags: the configuration is the file's, the environment's and the globals'
	cmd := &cobra.Command{
		Use:   "verify REPLICATION",
		Short: "Prove the replicas of a replication hold the same data",
		Long: `verify reads replications/<REPLICATION>.json from the registry, connects to every replica
(each replica names a connection, resolved like any other: SLUICE_CONN_<NAME> or the config file)
and compares, table by table, the row count and an order-independent checksum of the rows: the
one table of a "rows" replication, or every base table outside the system schemas and the
subscribers' "sluice" schema for "statements". Every difference is printed: a table missing on a
replica, different row counts, or the same count with different rows.

Exit code: 0 when every replica holds the same data, 1 when they differ, 2 on usage or I/O
errors (a replica that cannot be read is one: "could not look" is not "equal").`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("replicas verify takes exactly one REPLICATION name, got %d", len(args))
			}
			if err := definition.ValidateName("replication", args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, rep, err := g.replication(cmd, f, args[0])
			if err != nil {
				return err
			}
			endpoints := map[awsclient.Service]string{}
			for k, v := range cfg.Endpoints {
				endpoints[awsclient.Service(k)] = v
			}
			conns, err := conn.NewResolver(cfg.Connections, conn.Options{
				AWS: func(ctx context.Context) (*awsclient.Client, error) {
					return awsclient.New(ctx, awsclient.Settings{Region: cfg.Region, Endpoints: endpoints, Getenv: g.io.Getenv})
				},
				Logger: g.log,
			})
			if err != nil {
				return usageErrorf("%v", err)
			}
			defer conns.Close()
			var replicas []verify.Replica
			for _, name := range rep.ReplicaNames() {
				ex, err := conns.Get(ctx, rep.Replicas[name].Connection)
				if err != nil {
					return ioError(fmt.Errorf("replication %s, replica %s: %w", rep.Name, name, err))
				}
				replicas = append(replicas, verify.Replica{Name: name, Exec: ex})
			}
			res, err := verify.Compare(ctx, replicas, rep.Records)
			if err != nil {
				return ioError(fmt.Errorf("replication %s: %w", rep.Name, err))
			}
			if err := writeVerify(cmd.OutOrStdout(), g.output, rep.Name, res); err != nil {
				return ioError(fmt.Errorf("writing the result: %w", err))
			}
			if !res.Equal() {
				return errInvalid
			}
			return nil
		},
	}
	return cmd
}

// replication loads the configuration and reads the named replication from its registry.
func (g *globals) replication(cmd *cobra.Command, f *engineFlags, name string) (config.Config, *definition.Replication, error) {
	cfg, err := g.loadConfig(cmd, f)
	if err != nil {
		return cfg, nil, err
	}
	if cfg.Registry == "" {
		return cfg, nil, usageErrorf("no registry: set --registry or $%s", EnvRegistry)
	}
	reg, err := g.openRegistry(cmd.Context(), cfg.Registry)
	if err != nil {
		return cfg, nil, err
	}
	rep, err := streamput.ReadReplication(cmd.Context(), reg, name)
	if err != nil {
		return cfg, nil, ioError(err)
	}
	return cfg, rep, nil
}

//nolint:wrapcheck // the caller says what was being written
func writeVerify(w io.Writer, output, name string, res verify.Result) error {
	if output == OutputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Replication string `json:"replication"`
			Equal       bool   `json:"equal"`
			verify.Result
		}{name, res.Equal(), res})
	}
	verdict := "identical"
	if !res.Equal() {
		verdict = "DIFFERENT"
	}
	if _, err := fmt.Fprintf(w, "replication %s: %d replicas (%s), %d tables: %s\n", name, len(res.Replicas), strings.Join(res.Replicas, ", "), len(res.Tables), verdict); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS\tRESULT")
	for _, t := range res.Tables {
		rows := make([]string, 0, len(res.Replicas))
		for _, r := range res.Replicas {
			if s, ok := t.Sums[r]; ok {
				rows = append(rows, fmt.Sprint(s.Rows))
			} else {
				rows = append(rows, "-")
			}
		}
		result := "equal"
		if len(t.Differences) > 0 {
			result = strings.Join(t.Differences, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Table, strings.Join(rows, "/"), result)
	}
	return tw.Flush()
}
