package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/check"
)

func newValidateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH | URL]",
		Short: "Check every document of a registry, a local folder or one file",
		Long: `validate checks published definitions as the runner reads them: each document is decoded
strictly by its format (an unknown format is reported and the others are still checked), pipelines
are validated (names, schedule, durations, templates, DAG), and pipelines are checked against the
registry (an emr_step.template must name an EMR template of the registry).

What is checked:
  validate                     the registry of --registry (or $` + EnvRegistry + `)
  validate s3://bucket/prefix  that registry (also file://...)
  validate ./dir               a local folder laid out as a registry (pipelines/, emr-templates/)
  validate ./pipeline.json     one document; its EMR templates are looked up in --registry when
                               that is set, and not checked otherwise

Output: one line per document, "ok <key> <version>" or "error <key>:" followed by its problems,
one per line as "  <path>: <message>"; with --output json, a JSON array of
{key, format, name, version, valid, problems: [{path, message}]}.
Exit code: 0 when every document is valid, 1 when any is invalid, 2 on usage or I/O errors.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("validate takes at most one PATH or URL, got %d: %s", len(args), strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, related, source, err := g.validateInputs(cmd.Context(), args)
			if err != nil {
				return err
			}
			results := check.Documents(docs, related)
			invalid := 0
			for _, r := range results {
				if !r.Valid {
					invalid++
				}
			}
			g.log.Info("validated", "source", source, "documents", len(results), "invalid", invalid)
			if len(results) == 0 {
				g.log.Warn("no documents found: expected pipelines/<name>.json or emr-templates/<name>.json", "source", source)
			}
			if err := writeResults(cmd.OutOrStdout(), g.output, results); err != nil {
				return ioError(fmt.Errorf("writing the results: %w", err))
			}
			if invalid > 0 {
				return errInvalid
			}
			return nil
		},
	}
}

// validateInputs reads the documents to check, the related documents (EMR templates of the
// registry, for a single file) and a description of the source for logs.
func (g *globals) validateInputs(ctx context.Context, args []string) (docs, related []check.Document, source string, err error) {
	target := g.registry
	if len(args) == 1 {
		target = args[0]
	}
	if target == "" {
		return nil, nil, "", usageErrorf("nothing to validate: give a PATH or URL, or set --registry or $%s", EnvRegistry)
	}
	if strings.Contains(target, "://") {
		docs, err := g.registryDocuments(ctx, target, registry.PipelinesPrefix, registry.EMRTemplatesPrefix, registry.ReplicationsPrefix)
		return docs, nil, target, err
	}
	st, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, "", ioError(fmt.Errorf("%s does not exist: give a folder laid out as a registry, a .json document, or a registry URL", target))
	case err != nil:
		return nil, nil, "", ioError(err)
	case st.IsDir():
		abs, err := filepath.Abs(target)
		if err != nil {
			return nil, nil, "", ioError(err)
		}
		docs, err := g.registryDocuments(ctx, "file://"+filepath.ToSlash(abs), registry.PipelinesPrefix, registry.EMRTemplatesPrefix, registry.ReplicationsPrefix)
		return docs, nil, target, err
	}
	data, err := os.ReadFile(target)
	if err != nil {
		return nil, nil, "", ioError(err)
	}
	docs = []check.Document{{Key: filepath.ToSlash(filepath.Clean(target)), Data: data}}
	if g.registry != "" {
		related, err = g.registryDocuments(ctx, g.registry, registry.EMRTemplatesPrefix)
		if err != nil {
			return nil, nil, "", err
		}
	}
	return docs, related, target, nil
}

// registryDocuments reads every document under the prefixes of the registry at rawURL.
func (g *globals) registryDocuments(ctx context.Context, rawURL string, prefixes ...string) ([]check.Document, error) {
	reg, err := g.openRegistry(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	var docs []check.Document
	for _, prefix := range prefixes {
		// A registry that is not there (or cannot be listed) is an I/O error, exit 2: it must
		// never pass as a valid registry of 0 documents. An entry that cannot be read, or a
		// document over the size limit, is reported as that document's problem (exit 1), and
		// the others are still checked.
		first := len(docs)
		keys, err := reg.List(ctx, prefix)
		var le *registry.ListError
		if errors.As(err, &le) {
			for _, en := range le.Entries {
				docs = append(docs, check.Document{Key: en.Key, Err: en.Err})
			}
		} else if err != nil {
			return nil, ioError(err)
		}
		for _, key := range keys {
			data, err := reg.Get(ctx, key)
			if err != nil && !errors.Is(err, registry.ErrNotFound) {
				docs = append(docs, check.Document{Key: key, Err: err})
				continue
			}
			if err != nil {
				return nil, ioError(err) // deleted while being read
			}
			docs = append(docs, check.Document{Key: key, Data: data})
		}
		sort.SliceStable(docs[first:], func(i, j int) bool { return docs[first+i].Key < docs[first+j].Key })
	}
	g.log.Debug("read registry", "registry", rawURL, "documents", len(docs))
	return docs, nil
}

type jsonProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

type jsonResult struct {
	Key      string        `json:"key"`
	Format   string        `json:"format,omitempty"`
	Name     string        `json:"name,omitempty"`
	Version  string        `json:"version,omitempty"`
	Valid    bool          `json:"valid"`
	Problems []jsonProblem `json:"problems"`
}

func writeResults(w io.Writer, output string, results []check.Result) error {
	if output == OutputJSON {
		out := make([]jsonResult, 0, len(results))
		for _, r := range results {
			jr := jsonResult{Key: r.Key, Format: r.Format, Name: r.Name, Version: r.Version, Valid: r.Valid, Problems: []jsonProblem{}}
			for _, p := range r.Problems {
				jr.Problems = append(jr.Problems, jsonProblem{Path: p.Path, Message: p.Message})
			}
			out = append(out, jr)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out) //nolint:wrapcheck // wrapped by the caller
	}
	var b strings.Builder
	for _, r := range results {
		if r.Valid {
			fmt.Fprintf(&b, "ok %s %s\n", r.Key, r.Version)
			continue
		}
		fmt.Fprintf(&b, "error %s:\n", r.Key)
		for _, p := range r.Problems {
			if p.Path == "" {
				fmt.Fprintf(&b, "  %s\n", indentLines(p.Message))
			} else {
				fmt.Fprintf(&b, "  %s: %s\n", p.Path, indentLines(p.Message))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err //nolint:wrapcheck // wrapped by the caller
}

// indentLines keeps a multi-line message under its problem.
func indentLines(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }
