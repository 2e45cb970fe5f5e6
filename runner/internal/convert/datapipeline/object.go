// Package datapipeline converts an AWS Data Pipeline definition (the JSON of
// `aws datapipeline get-pipeline-definition` or of the console's export) into a sluice pipeline:
// activities, data nodes, databases, resources, preconditions, schedules, alarms and the
// expression language, with a report of every object.
package datapipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// value is one value of a field: a string or a reference to another object.
type value struct {
	str string
	ref string
}

// object is one object of the definition. Fields are looked up on the object, then its parent
// chain, then the Default object, as Data Pipeline does.
type object struct {
	id, name, typ string
	fields        map[string][]value
	// order keeps the fields in the order of the file, for the report.
	order []string
	// used marks the fields the conversion read, so the rest can be reported.
	used map[string]bool
	def  *definitionFile
}

// parameter is one parameter of the definition.
type parameter struct {
	id, typ, description string
	def                  *string
	secure, isArray      bool
	allowed              []string
}

// definitionFile is a parsed definition.
type definitionFile struct {
	objects []*object
	byID    map[string]*object
	params  []*parameter
	values  map[string]string
}

// parseDefinition parses the JSON of a definition: {"objects": [...], "parameters": [...],
// "values": {...}}. Field values are strings, {"ref": "id"} or lists of those.
func parseDefinition(data []byte) (*definitionFile, error) {
	var raw struct {
		Objects    []map[string]json.RawMessage `json:"objects"`
		Parameters []map[string]json.RawMessage `json:"parameters"`
		Values     map[string]json.RawMessage   `json:"values"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a Data Pipeline definition (JSON with \"objects\"): %w", err)
	}
	if len(raw.Objects) == 0 {
		return nil, fmt.Errorf("not a Data Pipeline definition: no \"objects\"")
	}
	d := &definitionFile{byID: map[string]*object{}, values: map[string]string{}}
	for i, m := range raw.Objects {
		o := &object{fields: map[string][]value{}, used: map[string]bool{}, def: d}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			vals, err := parseValues(m[k])
			if err != nil {
				return nil, fmt.Errorf("objects[%d].%s: %w", i, k, err)
			}
			switch k {
			case "id":
				o.id = first(vals)
			case "name":
				o.name = first(vals)
			case "type":
				o.typ = first(vals)
			default:
				o.fields[k] = vals
				o.order = append(o.order, k)
			}
		}
		if o.id == "" {
			return nil, fmt.Errorf("objects[%d] has no id", i)
		}
		if _, dup := d.byID[o.id]; dup {
			return nil, fmt.Errorf("object id %q appears twice", o.id)
		}
		if o.typ == "" && o.id == "Default" {
			o.typ = "Default"
		}
		d.byID[o.id] = o
		d.objects = append(d.objects, o)
	}
	for _, o := range d.objects {
		for _, k := range o.order {
			for _, v := range o.fields[k] {
				if v.ref != "" && d.byID[v.ref] == nil {
					return nil, fmt.Errorf("object %q: field %s refers to %q, which is not in the definition", o.id, k, v.ref)
				}
			}
		}
	}
	for i, m := range raw.Parameters {
		p := &parameter{}
		for k, rv := range m {
			vals, err := parseValues(rv)
			if err != nil {
				return nil, fmt.Errorf("parameters[%d].%s: %w", i, k, err)
			}
			switch k {
			case "id":
				p.id = first(vals)
			case "type":
				p.typ = first(vals)
			case "description":
				p.description = first(vals)
			case "default":
				s := joinValues(vals)
				p.def = &s
			case "isArray":
				p.isArray = first(vals) == "true"
			case "allowedValues":
				for _, v := range vals {
					p.allowed = append(p.allowed, v.str)
				}
			}
		}
		if p.id == "" {
			return nil, fmt.Errorf("parameters[%d] has no id", i)
		}
		p.secure = strings.HasPrefix(p.id, "*")
		d.params = append(d.params, p)
	}
	for k, rv := range raw.Values {
		vals, err := parseValues(rv)
		if err != nil {
			return nil, fmt.Errorf("values.%s: %w", k, err)
		}
		d.values[k] = joinValues(vals)
	}
	return d, nil
}

// parseValues reads a field: a string (numbers and booleans are taken as their text), a
// reference, or a list of those.
func parseValues(raw json.RawMessage) ([]value, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		var out []value
		for _, item := range list {
			v, err := parseValue(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	v, err := parseValue(raw)
	if err != nil {
		return nil, err
	}
	return []value{v}, nil
}

func parseValue(raw json.RawMessage) (value, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return value{str: s}, nil
	}
	var ref struct {
		Ref string `json:"ref"`
	}
	if err := json.Unmarshal(raw, &ref); err == nil && ref.Ref != "" {
		return value{ref: ref.Ref}, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return value{str: n.String()}, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return value{str: fmt.Sprint(b)}, nil
	}
	return value{}, fmt.Errorf("a value must be a string or {\"ref\": \"id\"}, got %s", truncate(string(raw), 60))
}

func first(vals []value) string {
	if len(vals) == 0 {
		return ""
	}
	if vals[0].ref != "" {
		return vals[0].ref
	}
	return vals[0].str
}

func joinValues(vals []value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.str
	}
	return strings.Join(parts, ",")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// lookup finds a field on the object, its parents or Default, and marks it used where found.
func (o *object) lookup(field string) []value {
	seen := map[*object]bool{}
	for cur := o; cur != nil && !seen[cur]; {
		seen[cur] = true
		if vals, ok := cur.fields[field]; ok {
			cur.used[field] = true
			return vals
		}
		cur.used["parent"] = true
		if p := cur.fields["parent"]; len(p) > 0 && p[0].ref != "" {
			cur = o.def.byID[p[0].ref]
			continue
		}
		if cur.typ != "Default" {
			if d := o.def.byID["Default"]; d != nil && !seen[d] {
				cur = d
				continue
			}
		}
		break
	}
	return nil
}

// str returns a string field ("" when unset).
func (o *object) str(field string) string {
	vals := o.lookup(field)
	for _, v := range vals {
		if v.ref == "" {
			return v.str
		}
	}
	return ""
}

// own returns a string field set on the object itself (not inherited).
func (o *object) own(field string) string {
	vals, ok := o.fields[field]
	if !ok {
		return ""
	}
	o.used[field] = true
	return first(vals)
}

// strs returns every string value of a field.
func (o *object) strs(field string) []string {
	vals := o.lookup(field)
	var out []string
	for _, v := range vals {
		if v.ref == "" {
			out = append(out, v.str)
		}
	}
	return out
}

// ref returns the first object a field refers to.
func (o *object) ref(field string) *object {
	refs := o.refs(field)
	if len(refs) == 0 {
		return nil
	}
	return refs[0]
}

// refs returns every object a field refers to.
func (o *object) refs(field string) []*object {
	vals := o.lookup(field)
	var out []*object
	for _, v := range vals {
		if v.ref != "" {
			out = append(out, o.def.byID[v.ref])
		}
	}
	return out
}

// has reports whether the field is set (without marking it used).
func (o *object) has(field string) bool {
	seen := map[*object]bool{}
	for cur := o; cur != nil && !seen[cur]; {
		seen[cur] = true
		if _, ok := cur.fields[field]; ok {
			return true
		}
		if p := cur.fields["parent"]; len(p) > 0 && p[0].ref != "" {
			cur = o.def.byID[p[0].ref]
			continue
		}
		if cur.typ != "Default" {
			cur = o.def.byID["Default"]
			continue
		}
		break
	}
	return false
}

// unused lists the object's own fields the conversion did not read.
func (o *object) unused() []string {
	var out []string
	for _, k := range o.order {
		if !o.used[k] {
			out = append(out, k)
		}
	}
	return out
}
