package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// The sluice_pipeline schema uses the published JSON's attribute names everywhere below the top
// level (one word per concept across HCL, JSON, Go and docs), so the model ↔ definition
// conversion is a plain walk over the Terraform value: object attributes become JSON members,
// null values are left out, and encoding/json does the typing (strictly: an attribute without a
// definition field is an error). TestAccPipeline_Lifecycle imports a pipeline that uses every
// activity kind with ImportStateVerify, which checks that HCL -> JSON -> HCL loses nothing.

// pipelineComputed are the top-level attributes that are not part of the published document.
var pipelineComputed = []string{"id", "version", "definition_json", "next_runs", "backfill_runs", "estimated_cost_per_run", "estimated_backfill_cost"}

// nameRuleMarkdown is the name rule of pipelines and EMR templates for attribute descriptions,
// from the constants the runner checks too, so the docs cannot disagree with either.
const nameRuleMarkdown = "1 to 128 letters, digits, `_`, `.` or `-`, beginning with a letter or digit (`" + definition.NamePattern + "`)"

// errPipelineUnknown is returned when a value needed for the conversion is not known yet.
var errPipelineUnknown = errors.New("the pipeline depends on values known only after apply")

// Defaults the schema declares, applied also to configurations (where they are still null) so
// that validation and the plan see the same document.
const (
	defaultTimezone      = "UTC"
	defaultMaxActiveRuns = 1
)

// pipelineFromValue converts a sluice_pipeline object (config, plan or state) into the published
// document, version unset. It returns errPipelineUnknown when any part of it is unknown.
func pipelineFromValue(v tftypes.Value) (*definition.Pipeline, error) {
	if !v.IsKnown() {
		return nil, errPipelineUnknown
	}
	if v.IsNull() {
		return nil, errors.New("the pipeline is null")
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		return nil, fmt.Errorf("reading the pipeline: %w", err)
	}
	computed := map[string]bool{}
	for _, k := range pipelineComputed {
		computed[k] = true // unknown in a plan, and not part of the document
	}
	m := make(map[string]any, len(attrs))
	for k, a := range attrs { // attrs is the value's own map: never modify it
		if computed[k] {
			continue
		}
		g, err := tfToGo(a)
		if err != nil {
			return nil, err
		}
		if g != nil {
			m[k] = g
		}
	}
	m["format"] = definition.FormatPipeline
	applyPipelineDefaults(m)
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the pipeline: %w", err)
	}
	var p definition.Pipeline
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		// A schema attribute without a definition field: a bug, not a user error.
		return nil, fmt.Errorf("converting the pipeline to %s: %w. This is a bug in the sluice provider; please report it", definition.FormatPipeline, err)
	}
	return &p, nil
}

// applyPipelineDefaults fills the schema's defaults into a configuration's values.
func applyPipelineDefaults(m map[string]any) {
	setDefault(m, "enabled", true)
	if s, ok := m["schedule"].(map[string]any); ok {
		setDefault(s, "timezone", defaultTimezone)
		setDefault(s, "catchup", false)
		setDefault(s, "max_active_runs", defaultMaxActiveRuns)
	}
	d, ok := m["defaults"].(map[string]any)
	if !ok {
		d = map[string]any{}
		m["defaults"] = d
	}
	setDefault(d, "retries", 0)
	if acts, ok := m["activities"].(map[string]any); ok {
		for _, a := range acts {
			if c, ok := a.(map[string]any)["check"].(map[string]any); ok {
				setDefault(c, "severity", definition.SeverityFail)
			}
		}
	}
}

func setDefault(m map[string]any, key string, v any) {
	if _, ok := m[key]; !ok {
		m[key] = v
	}
}

// tfToGo turns a Terraform value into JSON-ready Go values; null object attributes and null
// map elements are left out.
func tfToGo(v tftypes.Value) (any, error) {
	if !v.IsKnown() {
		return nil, errPipelineUnknown
	}
	if v.IsNull() {
		return nil, nil
	}
	typ := v.Type()
	switch {
	case typ.Is(tftypes.String):
		var s string
		if err := v.As(&s); err != nil {
			return nil, fmt.Errorf("reading a string: %w", err)
		}
		return s, nil
	case typ.Is(tftypes.Bool):
		var b bool
		if err := v.As(&b); err != nil {
			return nil, fmt.Errorf("reading a bool: %w", err)
		}
		return b, nil
	case typ.Is(tftypes.Number):
		var f big.Float
		if err := v.As(&f); err != nil {
			return nil, fmt.Errorf("reading a number: %w", err)
		}
		return json.Number(f.Text('f', -1)), nil
	case typ.Is(tftypes.List{}), typ.Is(tftypes.Set{}), typ.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, fmt.Errorf("reading a list: %w", err)
		}
		out := make([]any, 0, len(elems))
		for _, e := range elems {
			g, err := tfToGo(e)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case typ.Is(tftypes.Map{}), typ.Is(tftypes.Object{}):
		var elems map[string]tftypes.Value
		if err := v.As(&elems); err != nil {
			return nil, fmt.Errorf("reading an object: %w", err)
		}
		out := make(map[string]any, len(elems))
		for k, e := range elems {
			g, err := tfToGo(e)
			if err != nil {
				return nil, err
			}
			if g != nil {
				out[k] = g
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected value type %s", typ)
}

// valueFromPipeline converts a published document into a sluice_pipeline object of type typ.
// computed holds the values of the computed attributes (missing ones are null).
func valueFromPipeline(p *definition.Pipeline, typ tftypes.Type, computed map[string]tftypes.Value) (tftypes.Value, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return tftypes.Value{}, fmt.Errorf("encoding the pipeline: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return tftypes.Value{}, fmt.Errorf("decoding the pipeline: %w", err)
	}
	delete(m, "format")
	delete(m, "version")
	obj, ok := typ.(tftypes.Object)
	if !ok {
		return tftypes.Value{}, fmt.Errorf("unexpected schema type %s", typ)
	}
	vals := make(map[string]tftypes.Value, len(obj.AttributeTypes))
	for name, at := range obj.AttributeTypes {
		if c, ok := computed[name]; ok {
			vals[name] = c
			continue
		}
		v, err := goToTF(m[name], at, name)
		if err != nil {
			return tftypes.Value{}, err
		}
		vals[name] = v
	}
	return tftypes.NewValue(obj, vals), nil
}

// goToTF turns a decoded JSON value (json.Number numbers) into a Terraform value of type typ;
// nil is null.
func goToTF(v any, typ tftypes.Type, where string) (tftypes.Value, error) {
	if v == nil {
		return tftypes.NewValue(typ, nil), nil
	}
	mismatch := func() (tftypes.Value, error) {
		return tftypes.Value{}, fmt.Errorf("%s: unexpected value %v for %s", where, v, typ)
	}
	switch t := typ.(type) {
	case tftypes.Object:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch()
		}
		vals := make(map[string]tftypes.Value, len(t.AttributeTypes))
		for name, at := range t.AttributeTypes {
			tv, err := goToTF(m[name], at, where+"."+name)
			if err != nil {
				return tftypes.Value{}, err
			}
			vals[name] = tv
		}
		return tftypes.NewValue(t, vals), nil
	case tftypes.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch()
		}
		vals := make(map[string]tftypes.Value, len(m))
		for k, e := range m {
			tv, err := goToTF(e, t.ElementType, where+"."+k)
			if err != nil {
				return tftypes.Value{}, err
			}
			vals[k] = tv
		}
		return tftypes.NewValue(t, vals), nil
	case tftypes.List:
		l, ok := v.([]any)
		if !ok {
			return mismatch()
		}
		vals := make([]tftypes.Value, len(l))
		for i, e := range l {
			tv, err := goToTF(e, t.ElementType, where+"."+strconv.Itoa(i))
			if err != nil {
				return tftypes.Value{}, err
			}
			vals[i] = tv
		}
		return tftypes.NewValue(t, vals), nil
	}
	switch {
	case typ.Is(tftypes.String):
		if s, ok := v.(string); ok {
			return tftypes.NewValue(typ, s), nil
		}
	case typ.Is(tftypes.Bool):
		if b, ok := v.(bool); ok {
			return tftypes.NewValue(typ, b), nil
		}
	case typ.Is(tftypes.Number):
		if n, ok := v.(json.Number); ok {
			f, _, err := big.ParseFloat(string(n), 10, 512, big.ToNearestEven)
			if err != nil {
				return mismatch()
			}
			return tftypes.NewValue(typ, f), nil
		}
	}
	return mismatch()
}

// pipelineProblemPath maps a definition.Problem path ("activities.load.redshift_copy.insert_mode",
// "activities.extract.shell.command.1") to an attribute path by walking the schema's type: a
// segment after a map is its key, after a list its index, otherwise an attribute name. Where the
// walk cannot follow, the path stops at the last attribute it found (the root attribute at
// worst); ok is false when not even the root attribute exists.
func pipelineProblemPath(typ tftypes.Type, p string) (out path.Path, ok bool) {
	if p == "" {
		return path.Empty(), false
	}
	segs := strings.Split(p, ".")
	cur := typ
	for i, seg := range segs {
		switch t := cur.(type) {
		case tftypes.Object:
			at, found := t.AttributeTypes[seg]
			if !found {
				return out, i > 0
			}
			if i == 0 {
				out = path.Root(seg)
			} else {
				out = out.AtName(seg)
			}
			cur = at
		case tftypes.Map:
			out = out.AtMapKey(seg)
			cur = t.ElementType
		case tftypes.List:
			n, err := strconv.Atoi(seg)
			if err != nil {
				return out, true
			}
			out = out.AtListIndex(n)
			cur = t.ElementType
		default:
			return out, true
		}
	}
	return out, true
}

// nextRunStrings formats interval starts as RFC 3339.
func nextRunStrings(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.RFC3339)
	}
	return out
}

// sortedMapKeys returns a map's keys, sorted.
func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
