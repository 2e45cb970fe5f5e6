// Package convert holds what the converters from AWS Data Pipeline and Dataduct share: the
// result of a conversion (pipelines, EMR templates, Terraform variables, the connections the
// runner needs), the report of every source object, and the writing of main.tf, variables.tf and
// CONVERSION.md. The converters themselves are in the datapipeline and dataduct packages.
package convert

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Status says how much of a source object the conversion carried over.
type Status string

const (
	// Converted means everything the object does is in the output (notes may still ask for a
	// decision, such as the value of a connection).
	Converted Status = "converted"
	// Partial means the object is in the output but something of it is not (a field, an
	// expression); the notes say what.
	Partial Status = "partial"
	// LeftOut means the object is not in the output; the notes say why.
	LeftOut Status = "left out"
)

// Entry is one source object in the report.
type Entry struct {
	// ID and Type name the object as the source does (a Data Pipeline object id and type, a
	// Dataduct step's name and step_type).
	ID, Type string
	// Became says what the object became, e.g. "activity load (redshift_copy)".
	Became []string
	Status Status
	// Notes are what a person must know or decide.
	Notes []string
}

// Note adds a note that changes nothing in the status.
func (e *Entry) Note(format string, args ...any) {
	e.Notes = append(e.Notes, fmt.Sprintf(format, args...))
}

// Omit adds a note about something left out: the object becomes Partial (unless LeftOut).
func (e *Entry) Omit(format string, args ...any) {
	e.Notes = append(e.Notes, fmt.Sprintf(format, args...))
	if e.Status != LeftOut {
		e.Status = Partial
	}
}

// Leave marks the object as left out, with why.
func (e *Entry) Leave(format string, args ...any) {
	e.Notes = append(e.Notes, fmt.Sprintf(format, args...))
	e.Status = LeftOut
}

// Become records what the object became.
func (e *Entry) Become(format string, args ...any) {
	e.Became = append(e.Became, fmt.Sprintf(format, args...))
}

// Connection is a named connection the converted pipeline uses; the runner resolves it from
// the environment variable Env. Example is a URL with the password left for a person to fill in.
type Connection struct {
	Name, Kind, Source, Example string
}

// Env is the runner's environment variable for the connection.
func (c Connection) Env() string { return "SLUICE_CONN_" + strings.ToUpper(c.Name) }

// Variable is a Terraform variable of variables.tf.
type Variable struct {
	Name, Description string
	// Default is the variable's default; nil means none (terraform asks for it).
	Default *string
	// Sensitive variables hold secrets: they never get a default from the source.
	Sensitive bool
}

// Untranslated is an expression the conversion could not carry over.
type Untranslated struct {
	Object, Field, Expression, Why string
}

// Result is one conversion: what it produced and the report.
type Result struct {
	// Source names the converted file, for the report's title.
	Source string
	// Kind is "AWS Data Pipeline" or "Dataduct".
	Kind      string
	Pipeline  *definition.Pipeline
	Templates []*definition.EMRTemplate
	// ParamVars maps each pipeline parameter to the variable that gives its value.
	ParamVars    map[string]string
	Variables    []Variable
	Connections  []Connection
	Entries      []*Entry
	Untranslated []Untranslated
	// Decisions are pipeline-wide notes for a person (the schedule, notifications).
	Decisions []string
	// SecretEnvs are environment variables the runner must set for shell commands: secrets that
	// the source held as secure parameters, by variable, with the parameter they stand for.
	SecretEnvs map[string]string
}

// AddSecretEnv records an environment variable that stands for a secret of the source.
func (r *Result) AddSecretEnv(env, source string) {
	if r.SecretEnvs == nil {
		r.SecretEnvs = map[string]string{}
	}
	r.SecretEnvs[env] = source
}

// Entry returns the report entry of a source object, creating it.
func (r *Result) Entry(id, typ string) *Entry {
	for _, e := range r.Entries {
		if e.ID == id && e.Type == typ {
			return e
		}
	}
	e := &Entry{ID: id, Type: typ, Status: Converted}
	r.Entries = append(r.Entries, e)
	return e
}

// Decide adds a pipeline-wide note for a person.
func (r *Result) Decide(format string, args ...any) {
	r.Decisions = append(r.Decisions, fmt.Sprintf(format, args...))
}

// AddVariable adds a variable unless one of that name exists.
func (r *Result) AddVariable(v Variable) {
	for _, have := range r.Variables {
		if have.Name == v.Name {
			return
		}
	}
	r.Variables = append(r.Variables, v)
}

// AddConnection adds a connection unless one of that name exists.
func (r *Result) AddConnection(c Connection) {
	for _, have := range r.Connections {
		if have.Name == c.Name {
			return
		}
	}
	r.Connections = append(r.Connections, c)
}

// Complete reports whether everything was converted: nothing left out, no part omitted, no
// expression untranslated. The command exits 0 then, 2 otherwise.
func (r *Result) Complete() bool {
	if len(r.Untranslated) > 0 {
		return false
	}
	for _, e := range r.Entries {
		if e.Status != Converted {
			return false
		}
	}
	return true
}

// Counts returns how many entries have each status.
func (r *Result) Counts() map[Status]int {
	out := map[Status]int{}
	for _, e := range r.Entries {
		out[e.Status]++
	}
	return out
}

// SortEntries orders the report by source id, then type.
func (r *Result) SortEntries() {
	sort.SliceStable(r.Entries, func(i, j int) bool {
		if r.Entries[i].ID != r.Entries[j].ID {
			return r.Entries[i].ID < r.Entries[j].ID
		}
		return r.Entries[i].Type < r.Entries[j].Type
	})
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// camelBoundary finds a lower-case letter or digit followed by an upper-case letter.
var camelBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// ActivityID turns a source name into an activity id (a lower-case letter, then lower-case
// letters, digits or _): "LoadToRedshift" → "load_to_redshift", "2nd-step" → "a_2nd_step".
func ActivityID(name string) string {
	s := camelBoundary.ReplaceAllString(name, "${1}_${2}")
	s = strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(s), "_"), "_")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "a_" + s
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.TrimRight(s, "_")
}

// ConnectionName turns a source name into a connection name (a letter, then letters, digits or
// _, at most 63).
func ConnectionName(name string) string {
	s := ActivityID(name)
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// VariableName turns a source name into a Terraform variable name.
func VariableName(name string) string {
	s := regexp.MustCompile(`[^A-Za-z0-9_]+`).ReplaceAllString(name, "_")
	if s == "" || (s[0] != '_' && (s[0] < 'a' || s[0] > 'z') && (s[0] < 'A' || s[0] > 'Z')) {
		s = "v_" + s
	}
	return s
}

// UniqueID returns id, or id_2, id_3, … when taken is true for it.
func UniqueID(id string, taken func(string) bool) string {
	if !taken(id) {
		return id
	}
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s_%d", id, i)
		if !taken(c) {
			return c
		}
	}
}

// SortedKeys returns m's keys, sorted.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
