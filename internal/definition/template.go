package definition

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// TemplateData is what a templated activity string sees. Strings are Go text/template
// (https://pkg.go.dev/text/template): "s3://logs/{{ ds .Start }}/".
//
//   - .Start, .End — the run's data interval [Start, End), in the schedule's time zone
//     (time.Time: methods such as {{ .Start.Year }} work too).
//   - .Params — the pipeline's parameters, by name: {{ .Params.bucket }}. Naming a parameter the
//     pipeline does not declare is an error at plan time.
//   - .Pipeline — the pipeline's name.
//   - .RunID — the run's id, unique per run (a reprocessed interval gets a new one).
//   - .Event — what started a triggered run (see Event); empty for scheduled runs.
type TemplateData struct {
	Start    time.Time
	End      time.Time
	Params   map[string]string
	Pipeline string
	RunID    string
	Event    Event
}

// Event is what started a triggered run: .Event.Objects are the S3 objects of its events
// ({{ range .Event.Objects }}s3://{{ .Bucket }}/{{ .Key }} {{ end }}), .Event.Upstream the
// upstream run of a run started by another pipeline's success.
type Event struct {
	// Source is "sqs" (S3 events or sluice notifications from a queue), "after" (trigger.after)
	// or empty (a scheduled, backfilled or manual run).
	Source string `json:"source,omitempty"`
	// Messages is how many queue messages the run was made from.
	Messages int           `json:"messages,omitempty"`
	Objects  []EventObject `json:"objects,omitempty"`
	Upstream *UpstreamRun  `json:"upstream,omitempty"`
}

// EventObject is one S3 object of an event.
type EventObject struct {
	Bucket string    `json:"bucket"`
	Key    string    `json:"key"`
	Size   int64     `json:"size"`
	ETag   string    `json:"etag,omitempty"`
	Time   time.Time `json:"time"`
	// Parts are the named parts of the trigger's key pattern in this key.
	Parts map[string]string `json:"parts,omitempty"`
}

// UpstreamRun is the run of another pipeline whose success started this one.
type UpstreamRun struct {
	Pipeline string `json:"pipeline"`
	RunID    string `json:"run_id"`
	Version  string `json:"version,omitempty"`
	// Outputs are the upstream's published outputs (from its notification), if any.
	Outputs map[string]string `json:"outputs,omitempty"`
}

// templateFields are TemplateData's fields, as templates name them.
var templateFields = []string{"Start", "End", "Params", "Pipeline", "RunID", "Event"}

// TemplateFuncs are the functions templates may call, besides text/template's built-ins (and,
// or, not, eq, ne, lt, le, gt, ge, len, index, print, printf, ...). The time argument comes
// last, so functions chain with pipes: {{ .Start | add_days -1 | ds }}.
//
//   - ds TIME — the date as 2006-01-02: {{ ds .Start }} → 2026-03-01
//   - ds_nodash TIME — the date as 20060102: {{ ds_nodash .Start }} → 20260301
//   - ts TIME — RFC 3339: {{ ts .Start }} → 2026-03-01T00:00:00Z
//   - date LAYOUT TIME — any Go time layout: {{ date "2006/01/02/15" .Start }} → 2026/03/01/00
//   - add_days N TIME — N calendar days later (N may be negative): {{ add_days -1 .Start | ds }} → 2026-02-28
//   - add_hours N TIME — N hours later: {{ add_hours 6 .Start | ts }} → 2026-03-01T06:00:00Z
//   - add_minutes N TIME — N minutes later: {{ add_minutes -30 .Start | ts }} → 2026-02-28T23:30:00Z
//   - add_months N TIME — N calendar months later, normalised as time.AddDate does (Jan 31 + 1
//     month is Mar 3 or 2): {{ add_months -1 .Start | ds }} → 2026-02-01
//   - utc TIME — the same instant in UTC: {{ utc .Start | ts }} → 2026-02-28T23:00:00Z for a
//     Europe/Berlin midnight
//   - unix TIME — seconds since 1970-01-01 UTC: {{ unix .Start }} → 1772323200
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"ds":          func(t time.Time) string { return t.Format("2006-01-02") },
		"ds_nodash":   func(t time.Time) string { return t.Format("20060102") },
		"ts":          func(t time.Time) string { return t.Format(time.RFC3339) },
		"date":        func(layout string, t time.Time) string { return t.Format(layout) },
		"add_days":    func(n int, t time.Time) time.Time { return t.AddDate(0, 0, n) },
		"add_hours":   func(n int, t time.Time) time.Time { return t.Add(time.Duration(n) * time.Hour) },
		"add_minutes": func(n int, t time.Time) time.Time { return t.Add(time.Duration(n) * time.Minute) },
		"add_months":  func(n int, t time.Time) time.Time { return t.AddDate(0, n, 0) },
		"utc":         func(t time.Time) time.Time { return t.UTC() },
		"unix":        func(t time.Time) int64 { return t.Unix() },
	}
}

var (
	templateFuncs     = TemplateFuncs()
	templateFuncNames = sortedKeys(templateFuncs)
)

// MaxRenderedSize caps what one template may render to.
const MaxRenderedSize = 1 << 20

// templateName names templates in text/template's messages, which CheckTemplate rewrites.
const templateName = "tpl"

// SampleTemplateData is the data CheckTemplate executes templates against: the interval
// [2026-01-01, 2026-01-02) UTC, the given parameters, pipeline "sample", run id "sample-run"
// and an event with one object.
func SampleTemplateData(params map[string]string) TemplateData {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := make(map[string]string, len(params))
	for k, v := range params {
		p[k] = v
	}
	return TemplateData{Start: start, End: start.AddDate(0, 0, 1), Params: p, Pipeline: "sample", RunID: "sample-run",
		Event: Event{Source: "sqs", Messages: 1, Objects: []EventObject{{
			Bucket: "sample-bucket", Key: "sample/key.csv", Size: 1, ETag: "sample-etag", Time: start.AddDate(0, 0, 1),
		}}, Upstream: &UpstreamRun{Pipeline: "sample-upstream", RunID: "sample-run", Outputs: map[string]string{}}}}
}

// IsTemplated reports whether s contains a template action.
func IsTemplated(s string) bool { return strings.Contains(s, "{{") }

// CheckTemplate reports whether s is a valid template for a pipeline with the given parameters:
// it parses with TemplateFuncs, checks every field it names (also in branches that would not
// run) — unknown fields (.Foo) and undeclared parameters (.Params.nope) are errors — and
// executes it against SampleTemplateData, so wrong argument types fail too.
func CheckTemplate(s string, params map[string]string) error {
	_, err := renderChecked(s, SampleTemplateData(params))
	return err
}

// Render executes the template s with data, as the runner does before running an activity,
// after the same checks as CheckTemplate (with data.Params as the declared parameters). Strings
// without "{{" come back unchanged. Output is capped at MaxRenderedSize.
func Render(s string, data TemplateData) (string, error) {
	if !IsTemplated(s) {
		return s, nil
	}
	return renderChecked(s, data)
}

// renderChecked checks and executes a template; validation uses the sample rendering to check
// the form of templated values (an s3:// scheme, a schema.table name).
func renderChecked(s string, data TemplateData) (string, error) {
	if !IsTemplated(s) {
		return s, nil
	}
	t, err := parseTemplate(s)
	if err != nil {
		return "", err
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if err := checkNode(tt.Root, true, data.Params); err != nil {
			return "", err
		}
	}
	return execute(t, data)
}

// baseTemplate holds the functions and options; parseTemplate clones it, which is cheaper than
// installing the functions on every parse.
var baseTemplate = template.Must(template.New(templateName).Funcs(templateFuncs).Option("missingkey=error").Parse(""))

func parseTemplate(s string) (*template.Template, error) {
	t, err := baseTemplate.Clone()
	if err != nil {
		return nil, fmt.Errorf("preparing the template: %w", err)
	}
	t, err = t.Parse(s)
	if err != nil {
		return nil, templateError(err)
	}
	return t, nil
}

func execute(t *template.Template, data TemplateData) (string, error) {
	var w limitedBuilder
	if err := t.Execute(&w, data); err != nil {
		if errors.Is(err, errTooLarge) {
			return "", errTooLarge
		}
		return "", templateError(err)
	}
	return w.String(), nil
}

var errTooLarge = fmt.Errorf("template renders more than %d bytes", MaxRenderedSize)

type limitedBuilder struct{ strings.Builder }

func (w *limitedBuilder) Write(p []byte) (int, error) {
	if w.Len()+len(p) > MaxRenderedSize {
		return 0, errTooLarge
	}
	n, _ := w.Builder.Write(p) // a strings.Builder never fails
	return n, nil
}

var (
	undefinedFunc = regexp.MustCompile(`function "([^"]*)" not defined`)
	noMapEntry    = regexp.MustCompile(`map has no entry for key "([^"]*)"`)
)

// templateError turns text/template's messages into ones that say what is allowed.
func templateError(err error) error {
	msg := err.Error()
	if m := undefinedFunc.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown function %q; the functions are %s and text/template's built-ins", m[1], strings.Join(templateFuncNames, ", "))
	}
	if m := noMapEntry.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown parameter %q", m[1])
	}
	msg = strings.Replace(msg, "template: "+templateName+":", "template error at ", 1)
	msg = strings.Replace(msg, `executing "`+templateName+`" at `, "", 1)
	return errors.New(msg)
}

// checkNode checks the fields a template names. rootDot says whether dot is still the
// TemplateData (inside range and with it is not, and only $-rooted fields are checked there).
func checkNode(n parse.Node, rootDot bool, params map[string]string) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, rootDot, params); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkNode(n.Pipe, rootDot, params)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkNode(c, rootDot, params); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkNode(a, rootDot, params); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		if rootDot {
			return checkFieldChain(n.Ident, "", params)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			return checkFieldChain(n.Ident[1:], "$", params)
		}
	case *parse.ChainNode:
		return checkNode(n.Node, rootDot, params)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, rootDot, rootDot, params)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, rootDot, false, params)
	case *parse.RangeNode:
		if !rangesOverAField(n.Pipe) {
			return fmt.Errorf("{{ range %s }}: range is only allowed over a field such as .Params, so that a template always finishes quickly", n.Pipe)
		}
		return checkBranch(&n.BranchNode, rootDot, false, params)
	case *parse.TemplateNode:
		return checkNode(n.Pipe, rootDot, params)
	}
	return nil
}

// rangesOverAField reports whether a range pipeline is a single field (.Params, $.Params):
// ranging over an integer (range 1000000000, range unix .Start) could keep validation busy for
// minutes without writing anything.
func rangesOverAField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) > 1 && a.Ident[0] == "$"
	}
	return false
}

func checkBranch(b *parse.BranchNode, rootDot, bodyRootDot bool, params map[string]string) error {
	if err := checkNode(b.Pipe, rootDot, params); err != nil {
		return err
	}
	if err := checkNode(b.List, bodyRootDot, params); err != nil {
		return err
	}
	return checkNode(b.ElseList, rootDot, params)
}

func checkFieldChain(ident []string, prefix string, params map[string]string) error {
	if len(ident) == 0 {
		return nil
	}
	if !slices.Contains(templateFields, ident[0]) {
		return fmt.Errorf("unknown field %s.%s; the fields are .%s", prefix, ident[0], strings.Join(templateFields, ", ."))
	}
	if ident[0] == "Params" && len(ident) > 1 {
		if _, ok := params[ident[1]]; !ok {
			known := "this pipeline declares no parameters"
			if len(params) > 0 {
				known = "the parameters are " + strings.Join(sortedKeys(params), ", ")
			}
			return fmt.Errorf("unknown parameter %s.Params.%s; %s", prefix, ident[1], known)
		}
	}
	return nil
}
