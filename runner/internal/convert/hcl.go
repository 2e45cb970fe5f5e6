package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// The HCL that main.tf and variables.tf are written in: a small writer of Terraform values
// (strings, numbers, booleans, lists, objects with ordered keys, and references), so every
// string is escaped in one place.

// varMark brackets a variable name inside a string: VarRef("x") in a field that Terraform
// passes through unrendered (a notification target, an IAM role) becomes "${var.x}" in main.tf.
const varMark = "\x00"

// VarRef is a reference to the Terraform variable name, to embed in a string value.
func VarRef(name string) string { return varMark + name + varMark }

// HasVarRef reports whether s embeds a variable reference.
func HasVarRef(s string) bool { return strings.Contains(s, varMark) }

// ExpandVarRefs replaces the variable references in s with value(name): tests use it to check
// a converted pipeline with the variables' values.
func ExpandVarRefs(s string, value func(string) string) string {
	parts := strings.Split(s, varMark)
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString(value(p))
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

// Expr is a Terraform expression written as is, e.g. var.start or sluice_emr_template.x.name.
type Expr string

// Object is an HCL object (or a block body) whose keys keep the order they were set in.
type Object struct {
	keys []string
	vals map[string]any
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{vals: map[string]any{}} }

// Set sets key to v; nil, "", empty lists and empty objects are left out, so callers set
// optional fields without checking them.
func (o *Object) Set(key string, v any) *Object {
	if isEmpty(v) {
		return o
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
	return o
}

// SetAlways sets key to v even when v is empty (false, 0).
func (o *Object) SetAlways(key string, v any) *Object {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
	return o
}

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case Expr:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case *Object:
		return x == nil || len(x.keys) == 0
	case map[string]string:
		return len(x) == 0
	}
	return false
}

// Quote returns s as an HCL quoted string: escapes for quotes, backslashes and control
// characters, and $${ and %%{ so Terraform interpolates nothing but the variable references
// (VarRef) embedded in s.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	parts := strings.Split(s, varMark)
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("${var." + p + "}")
			continue
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case (c == '$' || c == '%') && j+1 < len(p) && p[j+1] == '{':
				b.WriteByte(c)
				b.WriteByte(c)
			case c < 0x20 || c == 0x7f:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// key writes an object key: bare when it is an identifier, else quoted.
func key(k string) string {
	for i, c := range k {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && (c == '-' || (c >= '0' && c <= '9')))
		if !ok {
			return Quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// Value writes v as an HCL expression at the given indentation.
func Value(v any, indent string) string {
	switch x := v.(type) {
	case string:
		return Quote(x)
	case Expr:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []string:
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		return Value(items, indent)
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		short := true
		for _, it := range x {
			if _, obj := it.(*Object); obj {
				short = false
			}
		}
		if short {
			parts := make([]string, len(x))
			for i, it := range x {
				parts[i] = Value(it, indent)
			}
			line := "[" + strings.Join(parts, ", ") + "]"
			if len(line)+len(indent) <= 100 && !strings.Contains(line, "\n") {
				return line
			}
		}
		var b strings.Builder
		b.WriteString("[\n")
		for _, it := range x {
			b.WriteString(indent + "  " + Value(it, indent+"  ") + ",\n")
		}
		b.WriteString(indent + "]")
		return b.String()
	case map[string]string:
		o := NewObject()
		for _, k := range SortedKeys(x) {
			o.SetAlways(k, x[k])
		}
		return Value(o, indent)
	case *Object:
		var b strings.Builder
		b.WriteString("{\n")
		b.WriteString(x.Body(indent + "  "))
		b.WriteString(indent + "}")
		return b.String()
	}
	panic(fmt.Sprintf("convert: no HCL for %T", v))
}

// Body writes the object's attributes, one per line, aligned like terraform fmt does for a run of
// single-line attributes.
func (o *Object) Body(indent string) string {
	var b strings.Builder
	// terraform fmt aligns the = of consecutive single-line attributes.
	lines := make([][2]string, len(o.keys))
	for i, k := range o.keys {
		lines[i] = [2]string{key(k), Value(o.vals[k], indent)}
	}
	for i := 0; i < len(lines); {
		j := i
		width := 0
		for j < len(lines) && !strings.Contains(lines[j][1], "\n") {
			width = max(width, len(lines[j][0]))
			j++
		}
		if j == i {
			fmt.Fprintf(&b, "%s%s = %s\n", indent, lines[i][0], lines[i][1])
			i++
			continue
		}
		for ; i < j; i++ {
			fmt.Fprintf(&b, "%s%-*s = %s\n", indent, width, lines[i][0], lines[i][1])
		}
	}
	return b.String()
}

// Block writes a block: `resource "type" "name" { ... }`.
func Block(header string, body *Object) string {
	return header + " {\n" + body.Body("  ") + "}\n"
}
