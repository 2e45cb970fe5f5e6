package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/streamput"
)

func newPutCommand(g *globals) *cobra.Command {
	var (
		items []putItem
		key   string
	)
	f := &engineFlags{} // none of its flags: only the registry, region and endpoints matter here
	cmd := &cobra.Command{
		Use:   "put REPLICATION (--sql SQL | --file FILE)...",
		Short: "Put changes into a replication's stream, for every replica to apply",
		Long: `put reads replications/<REPLICATION>.json from the registry and puts each --sql and each
--file (its whole content, applied as one script) into the replication's stream as one change, in
the order given on the command line, with one partition key (--partition-key, default the
replication's name, which keeps every change of the replication in one order). Every replica's
subscriber applies the changes; a replica that is down applies them when it returns.

Each change carries an id (put/<time>/<random>/<n>): a change that reaches the stream twice is
applied once.

  sluice-runner put warehouse --sql "ALTER TABLE analytics.clicks ADD COLUMN referrer varchar(256)"
  sluice-runner put warehouse --file fix-2026-11-24.sql

Exit code: 0 when every change was put, 1 when a put failed (the changes before it are in the
stream: see the output), 2 on usage or I/O errors.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("put takes exactly one REPLICATION name, got %d", len(args))
			}
			if err := definition.ValidateName("replication", args[0]); err != nil {
				return usageErrorf("%v", err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := putChanges(items)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, rep, err := g.replication(cmd, f, args[0])
			if err != nil {
				return err
			}
			if err := streamput.CheckStatements(rep); err != nil {
				return usageErrorf("%v", err)
			}
			arn, err := definition.ParseStreamARN(rep.StreamARN)
			if err != nil {
				return ioError(err)
			}
			endpoints := map[awsclient.Service]string{}
			for k, v := range cfg.Endpoints {
				endpoints[awsclient.Service(k)] = v
			}
			client, err := awsclient.New(ctx, awsclient.Settings{Region: arn.Region, Endpoints: endpoints, Getenv: g.io.Getenv})
			if err != nil {
				return ioError(fmt.Errorf("a Kinesis client for %s: %w", arn.Region, err))
			}
			if key == "" {
				key = rep.Name
			}
			seqs, err := streamput.Put(ctx, client.Kinesis(), rep, key, changes)
			if werr := writePut(cmd, g.output, rep, key, changes, seqs); werr != nil {
				return ioError(werr)
			}
			if err != nil {
				return fmt.Errorf("replication %s: %w", rep.Name, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Var(putFlag{"sql", &items}, "sql", "SQL to put as one change (repeatable)")
	fl.Var(putFlag{"file", &items}, "file", "file whose content is put as one change (repeatable)")
	fl.StringVar(&key, "partition-key", "", "partition key: changes with one key are applied in the order they were put (default: the replication's name)")
	return cmd
}

// putItem is one --sql or --file, in command-line order.
type putItem struct{ kind, value string }

// putFlag is a repeatable flag whose values join one list shared by --sql and --file, so the
// changes keep the order they were given in across both flags.
type putFlag struct {
	kind  string
	items *[]putItem
}

func (f putFlag) String() string { return "" }
func (f putFlag) Type() string   { return "string" }
func (f putFlag) Set(v string) error {
	*f.items = append(*f.items, putItem{f.kind, v})
	return nil
}

// putChanges reads the items into changes, with ids unique to this invocation.
func putChanges(items []putItem) ([]definition.ChangeRecord, error) {
	if len(items) == 0 {
		return nil, usageErrorf("nothing to put: give at least one --sql or --file")
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, ioError(fmt.Errorf("making a change id: %w", err))
	}
	base := "put/" + time.Now().UTC().Format("20060102T150405Z") + "/" + hex.EncodeToString(raw[:]) + "/"
	changes := make([]definition.ChangeRecord, len(items))
	for i, it := range items {
		text := it.value
		if it.kind == "file" {
			data, err := os.ReadFile(it.value)
			if err != nil {
				return nil, ioError(fmt.Errorf("--file %s: %w", it.value, err))
			}
			text = string(data)
		}
		if strings.TrimSpace(text) == "" {
			return nil, usageErrorf("--%s %q is empty: nothing to put", it.kind, it.value)
		}
		changes[i] = definition.ChangeRecord{Format: definition.FormatChange, ID: base + strconv.Itoa(i), SQL: text}
	}
	return changes, nil
}

func writePut(cmd *cobra.Command, output string, rep *definition.Replication, key string, changes []definition.ChangeRecord, seqs []string) error {
	w := cmd.OutOrStdout()
	if output == OutputJSON {
		type put struct {
			ID             string `json:"id"`
			SequenceNumber string `json:"sequence_number,omitempty"`
		}
		out := struct {
			Replication  string `json:"replication"`
			StreamARN    string `json:"stream_arn"`
			PartitionKey string `json:"partition_key"`
			Changes      []put  `json:"changes"`
		}{Replication: rep.Name, StreamARN: rep.StreamARN, PartitionKey: key}
		for i, c := range changes {
			p := put{ID: c.ID}
			if i < len(seqs) {
				p.SequenceNumber = seqs[i]
			}
			out.Changes = append(out.Changes, p)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("writing the result: %w", err)
		}
		return nil
	}
	for i, c := range changes {
		state := "not put"
		if i < len(seqs) {
			state = "put, sequence number " + seqs[i]
		}
		if _, err := fmt.Fprintf(w, "%s %s\n", c.ID, state); err != nil {
			return fmt.Errorf("writing the result: %w", err)
		}
	}
	_, err := fmt.Fprintf(w, "%d of %d change(s) put into replication %s (stream %s, partition key %q)\n", len(seqs), len(changes), rep.Name, rep.StreamARN, key)
	if err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}
