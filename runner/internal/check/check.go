// Package check validates a set of published documents the way sluice-runner reads them: each
// document strictly decoded by its format, pipelines validated (DAG, schedule, templates), and
// the documents checked against each other (a pipeline's emr_step.template must name an EMR
// template of the same registry).
package check

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// Document is one document to check: its registry key (or, for a file outside a registry, its
// path) and its bytes.
type Document struct {
	Key  string
	Data []byte
	// Err is why the document could not be read (a directory or pipe where a document is
	// expected, a dangling symlink, over the size limit): it is the document's one problem, so
	// an unreadable document is reported by name rather than left out.
	Err error
}

// Result is the outcome for one document. Format, Name and Version are filled as far as the
// document could be read. No problems means the document is valid.
type Result struct {
	Key      string
	Format   string
	Name     string
	Version  string
	Valid    bool
	Problems []definition.Problem
}

// Kind of document, from its key.
type kind int

const (
	kindOther kind = iota
	kindPipeline
	kindTemplate
	kindReplication
)

func kindOf(key string) kind {
	switch {
	case strings.HasPrefix(key, registry.PipelinesPrefix):
		return kindPipeline
	case strings.HasPrefix(key, registry.EMRTemplatesPrefix):
		return kindTemplate
	case strings.HasPrefix(key, registry.ReplicationsPrefix):
		return kindReplication
	default:
		return kindOther
	}
}

// decoded is a document after decoding.
type decoded struct {
	result   Result
	pipeline *definition.Pipeline
	template *definition.EMRTemplate
}

// Documents checks docs and returns one result per document, in the order given. related holds
// further documents of the same registry that pipelines may refer to (EMR templates) but that are
// not reported, e.g. the registry's templates when a single pipeline file is checked; it may be
// nil. A document whose key is not under pipelines/ or emr-templates/ is read by its format.
func Documents(docs, related []Document) []Result {
	all := make([]*decoded, 0, len(docs))
	for _, d := range docs {
		all = append(all, decode(d))
	}
	// EMR templates by name: valid or not. A template in docs wins over one in related.
	templates := map[string]*decoded{}
	for _, d := range related {
		if dec := decode(d); dec.template != nil {
			templates[dec.template.Name] = dec
		}
	}
	for _, dec := range all {
		if dec.template != nil {
			templates[dec.template.Name] = dec
		}
	}
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Strings(names)

	out := make([]Result, 0, len(all))
	for _, dec := range all {
		if dec.pipeline != nil {
			dec.result.Problems = append(dec.result.Problems, templateRefs(dec.pipeline, templates, names)...)
		}
		sortProblems(dec.result.Problems)
		dec.result.Valid = len(dec.result.Problems) == 0
		out = append(out, dec.result)
	}
	return out
}

// decode reads one document: strictly by its format, then validates it.
func decode(d Document) *decoded {
	dec := &decoded{result: Result{Key: d.Key}}
	r := &dec.result
	add := func(p, format string, args ...any) {
		r.Problems = append(r.Problems, definition.Problem{Path: p, Message: fmt.Sprintf(format, args...)})
	}
	if d.Err != nil {
		add("", "cannot be read: %v", d.Err)
		return dec
	}
	if !strings.HasSuffix(d.Key, ".json") {
		add("", "not a .json document: the registry holds only pipelines/<name>.json, emr-templates/<name>.json and replications/<name>.json")
		return dec
	}
	format, err := definition.PeekFormat(d.Data)
	if err != nil {
		add("", "%v", err)
		return dec
	}
	r.Format = format
	want := map[kind]string{kindPipeline: definition.FormatPipeline, kindTemplate: definition.FormatEMRTemplate, kindReplication: definition.FormatReplication}[kindOf(d.Key)]
	if want == "" {
		want = format // a file outside a registry layout: read it as what it says it is
	}
	switch want {
	case definition.FormatPipeline:
		p, err := definition.DecodePipeline(d.Data)
		if !decodeErr(r, err) {
			return dec
		}
		dec.pipeline = p
		r.Name = p.Name
		r.Version = p.Version
		r.Problems = append(r.Problems, definition.ValidatePipeline(p)...)
		r.Problems = append(r.Problems, keyName(d.Key, p.Name, registry.PipelineKey)...)
	case definition.FormatEMRTemplate:
		t, err := definition.DecodeEMRTemplate(d.Data)
		if !decodeErr(r, err) {
			return dec
		}
		dec.template = t
		r.Name = t.Name
		r.Version = t.Version
		r.Problems = append(r.Problems, keyName(d.Key, t.Name, registry.EMRTemplateKey)...)
	case definition.FormatReplication:
		rep, err := definition.DecodeReplication(d.Data)
		if !decodeErr(r, err) {
			return dec
		}
		r.Name = rep.Name
		r.Version = rep.Version
		r.Problems = append(r.Problems, definition.ValidateReplication(rep)...)
		r.Problems = append(r.Problems, keyName(d.Key, rep.Name, registry.ReplicationKey)...)
	default:
		// Unknown format: DecodePipeline words the error with the formats this build reads.
		_, err := definition.DecodePipeline(d.Data)
		decodeErr(r, err)
	}
	return dec
}

// decodeErr records a decoding error and says whether the decoded value can still be used: a
// version mismatch is reported, the content is still checked.
func decodeErr(r *Result, err error) (usable bool) {
	switch {
	case err == nil:
		return true
	case errors.Is(err, definition.ErrVersionMismatch):
		r.Problems = append(r.Problems, definition.Problem{Path: "version", Message: err.Error() + " (the document was edited after publishing: publish it again with terraform apply)"})
		return true
	case errors.Is(err, definition.ErrUnknownFormat):
		r.Problems = append(r.Problems, definition.Problem{Path: "format", Message: err.Error()})
		return false
	default:
		r.Problems = append(r.Problems, definition.Problem{Path: "", Message: err.Error()})
		return false
	}
}

// keyName checks that a document inside a registry layout is at the key its name gives.
func keyName(key, name string, keyFor func(string) string) []definition.Problem {
	if kindOf(key) == kindOther || name == "" {
		return nil
	}
	if want := keyFor(name); key != want {
		return []definition.Problem{{Path: "name", Message: fmt.Sprintf("%q is published at %s, but a document of that name belongs at %s: rename the file or fix the name", name, key, want)}}
	}
	return nil
}

// templateRefs checks that every emr_step.template names an EMR template that is present and
// valid.
func templateRefs(p *definition.Pipeline, templates map[string]*decoded, names []string) []definition.Problem {
	ids := make([]string, 0, len(p.Activities))
	for id := range p.Activities {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var probs []definition.Problem
	for _, id := range ids {
		a := p.Activities[id]
		if a == nil || a.EMRStep == nil || a.EMRStep.Template == "" || definition.IsTemplated(a.EMRStep.Template) {
			continue
		}
		name := a.EMRStep.Template
		at := "activities." + id + ".emr_step.template"
		t, ok := templates[name]
		switch {
		case !ok:
			known := "none"
			if len(names) > 0 {
				known = strings.Join(names, ", ")
			}
			probs = append(probs, definition.Problem{Path: at, Message: fmt.Sprintf(
				"EMR template %q is not in the registry (expected key %s; templates present: %s): publish it with a sluice_emr_template resource",
				name, registry.EMRTemplateKey(name), known)})
		case len(t.result.Problems) > 0:
			probs = append(probs, definition.Problem{Path: at, Message: fmt.Sprintf(
				"EMR template %q is invalid: see %s", name, path.Clean(t.result.Key))})
		}
	}
	return probs
}

func sortProblems(ps []definition.Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Path != ps[j].Path {
			return ps[i].Path < ps[j].Path
		}
		return ps[i].Message < ps[j].Message
	})
}
