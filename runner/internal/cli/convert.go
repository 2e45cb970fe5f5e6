package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert/dataduct"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert/datapipeline"
)

// ExitPartial is convert's exit code when something was left out (the report says what).
const ExitPartial = 2

func newConvertCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "convert (datapipeline FILE.json | dataduct FILE.yaml) --out DIR",
		Short: "Convert an AWS Data Pipeline definition or a Dataduct pipeline into Terraform",
		Long: `convert writes main.tf (sluice_pipeline, and sluice_emr_template for each EMR cluster),
variables.tf and CONVERSION.md into DIR. CONVERSION.md lists every source object, what it became,
the connections the runner needs (SLUICE_CONN_…) and what a person must still decide. No
password is ever written.

Exit codes: 0 everything converted, 2 something was left out (CONVERSION.md says what) or bad
flags or an unreadable file, 1 the file is not a definition.`,
	}
	cmd.AddCommand(newConvertDataPipelineCommand(g), newConvertDataductCommand(g))
	return cmd
}

func newConvertDataPipelineCommand(g *globals) *cobra.Command {
	var out, values, name string
	cmd := &cobra.Command{
		Use:   "datapipeline FILE.json [--values VALUES.json] --out DIR",
		Short: "Convert an AWS Data Pipeline definition (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return ioError(fmt.Errorf("reading the definition: %w", err))
			}
			opts := datapipeline.Options{Name: name, Source: filepath.Base(args[0]), Now: time.Now().UTC()}
			if values != "" {
				vdata, err := os.ReadFile(values)
				if err != nil {
					return ioError(fmt.Errorf("reading --values: %w", err))
				}
				if opts.Values, err = datapipeline.ParseValues(vdata); err != nil {
					return &exitError{code: ExitInvalid, err: fmt.Errorf("%s: %w", values, err)}
				}
			}
			res, err := datapipeline.Convert(data, opts)
			if err != nil {
				return &exitError{code: ExitInvalid, err: fmt.Errorf("%s: %w", args[0], err)}
			}
			return g.writeConversion(cmd, res, out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write main.tf, variables.tf and CONVERSION.md into (required)")
	cmd.Flags().StringVar(&values, "values", "", "parameter values file ({\"values\": {...}}), as for put-pipeline-definition")
	cmd.Flags().StringVar(&name, "name", "", "the pipeline's name (default: the file's name)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newConvertDataductCommand(g *globals) *cobra.Command {
	var out, name string
	cmd := &cobra.Command{
		Use:   "dataduct FILE.yaml --out DIR",
		Short: "Convert a Dataduct pipeline (YAML)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return ioError(fmt.Errorf("reading the pipeline: %w", err))
			}
			res, err := dataduct.Convert(data, dataduct.Options{Name: name, Source: filepath.Base(args[0]), Dir: filepath.Dir(args[0]), Now: time.Now().UTC()})
			if err != nil {
				return &exitError{code: ExitInvalid, err: fmt.Errorf("%s: %w", args[0], err)}
			}
			return g.writeConversion(cmd, res, out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write main.tf, variables.tf and CONVERSION.md into (required)")
	cmd.Flags().StringVar(&name, "name", "", "the pipeline's name (default: the pipeline's name in the file)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// writeConversion writes the files and prints the summary; exit 2 when something was left out.
func (g *globals) writeConversion(cmd *cobra.Command, res *convert.Result, out string) error {
	if err := res.Write(out); err != nil {
		return ioError(err)
	}
	counts := res.Counts()
	w := cmd.OutOrStdout()
	if g.output == OutputJSON {
		fmt.Fprintf(w, `{"pipeline":%q,"objects":%d,"converted":%d,"partial":%d,"left_out":%d,"untranslated":%d,"complete":%t}`+"\n",
			res.Pipeline.Name, len(res.Entries), counts[convert.Converted], counts[convert.Partial], counts[convert.LeftOut], len(res.Untranslated), res.Complete())
	} else {
		fmt.Fprintf(w, "pipeline %s: %d objects, %d converted, %d partly, %d left out, %d expressions not translated\n",
			res.Pipeline.Name, len(res.Entries), counts[convert.Converted], counts[convert.Partial], counts[convert.LeftOut], len(res.Untranslated))
		for _, c := range res.Connections {
			fmt.Fprintf(w, "  connection %s: set %s\n", c.Name, c.Env())
		}
		fmt.Fprintf(w, "wrote %s\n", strings.Join([]string{filepath.Join(out, convert.MainFile), filepath.Join(out, convert.VariablesFile), filepath.Join(out, convert.ReportFile)}, ", "))
	}
	if !res.Complete() {
		return &exitError{code: ExitPartial, err: fmt.Errorf("not everything was converted: read %s", filepath.Join(out, convert.ReportFile))}
	}
	return nil
}
