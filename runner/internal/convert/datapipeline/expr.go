package datapipeline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// Data Pipeline's expression language, #{...} inside string fields, translated to sluice's
// templates: {{ ... }} with .Start, .End, .Params and the template functions.
//
//	#{myParam}                                → {{ .Params.myParam }}
//	#{*mySecret}                              → ${SLUICE_SECRET_MYSECRET} in a shell command, else not translated
//	#{@scheduledStartTime}                    → {{ date "2006-01-02T15:04:05" .Start }}
//	#{format(@scheduledStartTime,'YYYY-MM-dd')} → {{ ds .Start }}
//	#{format(minusDays(@scheduledStartTime,1),'YYYY-MM-dd-HH')} → {{ .Start | add_days -1 | date "2006-01-02-15" }}
//	#{day(@scheduledStartTime)}               → {{ .Start.Day }}
//	#{input.directoryPath}                    → the input data node's directoryPath, translated
//	#{myField}, #{node.myField}               → the object's own field, translated

// mode says what the translated string may hold.
type mode int

const (
	// modeTemplate: a field the runner renders as a template.
	modeTemplate mode = iota
	// modeShell: a template that bash runs; secure parameters become environment variables.
	modeShell
	// modeStatic: a field Terraform passes through unrendered: only parameters (as variable
	// references) and literals.
	modeStatic
)

// errUntranslatable says why an expression has no sluice equivalent.
type errUntranslatable struct{ why string }

func (e *errUntranslatable) Error() string { return e.why }

func untranslatable(format string, args ...any) error {
	return &errUntranslatable{why: fmt.Sprintf(format, args...)}
}

// exprCtx is where an expression appears.
type exprCtx struct {
	c     *converter
	obj   *object
	field string
	mode  mode
	// depth guards against fields that refer to each other.
	depth int
}

// translate translates every #{...} in s. Each expression that cannot be translated is reported
// with the object and field, and left as it was in the output.
func (x exprCtx) translate(s string) string {
	out, errs := x.translateAll(s)
	for _, ue := range errs {
		x.c.res.Untranslated = append(x.c.res.Untranslated, convert.Untranslated{Object: x.obj.id, Field: x.field, Expression: ue.expr, Why: ue.why})
		x.c.entry(x.obj).Omit("field %s: expression %s not translated: %s", x.field, ue.expr, ue.why)
	}
	return out
}

type exprError struct{ expr, why string }

func (e *exprError) Error() string { return e.expr + ": " + e.why }

// translateErr translates s and returns the first problem, for fields that other fields refer to.
func (x exprCtx) translateErr(s string) (string, error) {
	out, errs := x.translateAll(s)
	if len(errs) > 0 {
		return s, errs[0]
	}
	return out, nil
}

// translateAll translates every expression of s; the ones it cannot translate stay as they
// were and are returned.
func (x exprCtx) translateAll(s string) (string, []*exprError) {
	if x.depth > 8 {
		return s, []*exprError{{expr: s, why: "fields refer to each other more than 8 levels deep"}}
	}
	var b strings.Builder
	var errs []*exprError
	rest := s
	for {
		i := strings.Index(rest, "#{")
		if i < 0 {
			b.WriteString(x.literal(rest))
			return b.String(), errs
		}
		b.WriteString(x.literal(rest[:i]))
		end := closing(rest[i+2:])
		if end < 0 {
			errs = append(errs, &exprError{expr: rest[i:], why: "no closing }"})
			b.WriteString(x.literal(rest[i:]))
			return b.String(), errs
		}
		expr := rest[i+2 : i+2+end]
		out, err := x.expression(expr)
		if err != nil {
			why := err.Error()
			var u *errUntranslatable
			var ee *exprError
			switch {
			case errors.As(err, &ee):
				why = ee.why
			case errors.As(err, &u):
				why = u.why
			}
			errs = append(errs, &exprError{expr: "#{" + expr + "}", why: why})
			out = x.literal("#{" + expr + "}")
		}
		b.WriteString(out)
		rest = rest[i+2+end+1:]
	}
}

// literal protects literal text: template delimiters in a literal would be read as actions.
func (x exprCtx) literal(s string) string {
	if x.mode == modeStatic || !strings.Contains(s, "{{") {
		return s
	}
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// closing finds the } that closes an expression, skipping quoted strings.
func closing(s string) int {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '}':
			return i
		}
	}
	return -1
}

// val is the value of an expression: a time (a template pipeline producing a time.Time), text
// (template text, already rendered form), or a number.
type val struct {
	kind int
	// pipe is a time's template pipeline, e.g. ".Start | add_days -1"; plain says it has no
	// function applied (so .Start.Day works).
	pipe  string
	plain bool
	text  string
	num   int
}

const (
	kindTime = iota
	kindText
	kindNum
)

// expression translates the inside of one #{...}.
func (x exprCtx) expression(expr string) (string, error) {
	p := &parser{src: expr}
	v, err := x.parse(p)
	if err != nil {
		return "", err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return "", untranslatable("operators and trailing text (%q) are not translated", p.src[p.pos:])
	}
	switch v.kind {
	case kindTime:
		if x.mode == modeStatic {
			return "", untranslatable("a time in a field that is not a template")
		}
		return "{{ " + formatPipe(v, "2006-01-02T15:04:05") + " }}", nil
	case kindNum:
		return strconv.Itoa(v.num), nil
	}
	return v.text, nil
}

// formatPipe formats a time with a Go layout, with the shortest function.
func formatPipe(v val, layout string) string {
	fn := `date "` + layout + `"`
	switch layout {
	case "2006-01-02":
		fn = "ds"
	case "20060102":
		fn = "ds_nodash"
	}
	if v.plain {
		return fn + " " + v.pipe
	}
	return v.pipe + " | " + fn
}

type parser struct {
	src string
	pos int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *parser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) ident() string {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || c == '.' || c == '@' || c == '*' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

// parse reads one term: a function call, a string or number literal, or a name.
func (x exprCtx) parse(p *parser) (val, error) {
	c := p.peek()
	switch {
	case c == '\'' || c == '"':
		p.pos++
		end := strings.IndexByte(p.src[p.pos:], c)
		if end < 0 {
			return val{}, untranslatable("unterminated string")
		}
		s := p.src[p.pos : p.pos+end]
		p.pos += end + 1
		return val{kind: kindText, text: x.literal(s)}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		n, err := strconv.Atoi(p.src[start:p.pos])
		if err != nil {
			return val{}, untranslatable("%q is not a whole number", p.src[start:p.pos])
		}
		return val{kind: kindNum, num: n}, nil
	case c == 0:
		return val{}, untranslatable("empty expression")
	}
	name := p.ident()
	if name == "" {
		return val{}, untranslatable("unexpected %q", string(c))
	}
	if p.peek() == '(' {
		p.pos++
		var args []val
		for {
			if p.peek() == ')' {
				p.pos++
				break
			}
			a, err := x.parse(p)
			if err != nil {
				return val{}, err
			}
			args = append(args, a)
			switch p.peek() {
			case ',':
				p.pos++
			case ')':
			default:
				return val{}, untranslatable("expected , or ) in the arguments of %s", name)
			}
		}
		return x.call(name, args)
	}
	return x.name(name)
}

// timeFuncs are Data Pipeline's date arithmetic: the template function and the factor on N.
var timeFuncs = map[string]struct {
	fn     string
	factor int
}{
	"plusMinutes": {"add_minutes", 1}, "minusMinutes": {"add_minutes", -1},
	"plusHours": {"add_hours", 1}, "minusHours": {"add_hours", -1},
	"plusDays": {"add_days", 1}, "minusDays": {"add_days", -1},
	"plusWeeks": {"add_days", 7}, "minusWeeks": {"add_days", -7},
	"plusMonths": {"add_months", 1}, "minusMonths": {"add_months", -1},
	"plusYears": {"add_months", 12}, "minusYears": {"add_months", -12},
}

// timeParts are Data Pipeline's functions that take a part of a time, as time.Time methods.
var timeParts = map[string]string{
	"day": "Day", "hour": "Hour", "minute": "Minute", "month": "Month", "year": "Year", "dayOfYear": "YearDay",
}

func (x exprCtx) call(name string, args []val) (val, error) {
	if x.mode == modeStatic {
		return val{}, untranslatable("function %s in a field that is not a template", name)
	}
	if tf, ok := timeFuncs[name]; ok {
		if len(args) != 2 || args[0].kind != kindTime || args[1].kind != kindNum {
			return val{}, untranslatable("%s takes a time and a whole number", name)
		}
		n := args[1].num * tf.factor
		return val{kind: kindTime, pipe: fmt.Sprintf("%s | %s %d", args[0].pipe, tf.fn, n)}, nil
	}
	if part, ok := timeParts[name]; ok {
		if len(args) != 1 || args[0].kind != kindTime {
			return val{}, untranslatable("%s takes a time", name)
		}
		if part == "Month" {
			// time.Month prints as a name; Data Pipeline's month() is a number.
			return val{kind: kindText, text: "{{ " + formatPipe(args[0], "1") + " }}"}, nil
		}
		if args[0].plain {
			return val{kind: kindText, text: "{{ " + args[0].pipe + "." + part + " }}"}, nil
		}
		return val{kind: kindText, text: "{{ (" + args[0].pipe + ")." + part + " }}"}, nil
	}
	switch name {
	case "format":
		if len(args) != 2 || args[0].kind != kindTime || args[1].kind != kindText {
			return val{}, untranslatable("format takes a time and a pattern")
		}
		layout, err := goLayout(args[1].text)
		if err != nil {
			return val{}, err
		}
		return val{kind: kindText, text: "{{ " + formatPipe(args[0], layout) + " }}"}, nil
	case "concat":
		var b strings.Builder
		for _, a := range args {
			switch a.kind {
			case kindTime:
				b.WriteString("{{ " + formatPipe(a, "2006-01-02T15:04:05") + " }}")
			case kindNum:
				b.WriteString(strconv.Itoa(a.num))
			default:
				b.WriteString(a.text)
			}
		}
		return val{kind: kindText, text: b.String()}, nil
	}
	return val{}, untranslatable("function %s has no sluice template equivalent", name)
}

// name resolves a name: a runtime field, a parameter, or a field of this or a related object.
func (x exprCtx) name(name string) (val, error) {
	switch strings.TrimPrefix(name, "node.") {
	case "@scheduledStartTime":
		return val{kind: kindTime, pipe: ".Start", plain: true}, nil
	case "@scheduledEndTime":
		return val{kind: kindTime, pipe: ".End", plain: true}, nil
	case "@actualStartTime":
		x.c.entry(x.obj).Note("field %s: @actualStartTime became the end of the run's interval (.End), when a run starts in sluice; "+
			"a late or retried run starts later", x.field)
		return val{kind: kindTime, pipe: ".End", plain: true}, nil
	case "@pipelineId":
		if x.mode == modeStatic {
			return val{}, untranslatable("@pipelineId in a field that is not a template")
		}
		return val{kind: kindText, text: "{{ .Pipeline }}"}, nil
	}
	if strings.HasPrefix(name, "@") || strings.HasPrefix(name, "node.@") {
		return val{}, untranslatable("runtime field %s has no sluice equivalent", name)
	}
	if strings.HasPrefix(name, "*") {
		return x.secure(name)
	}
	if p := x.c.param(name); p != nil {
		if x.mode == modeStatic {
			return val{kind: kindText, text: convert.VarRef(x.c.paramVar(p))}, nil
		}
		x.c.useParam(p)
		return val{kind: kindText, text: "{{ .Params." + p.id + " }}"}, nil
	}
	// A field of this object or of one it refers to: input.directoryPath, node.table, myField.
	target, field := x.obj, strings.TrimPrefix(name, "node.")
	if i := strings.IndexByte(field, '.'); i > 0 {
		refField := field[:i]
		field = field[i+1:]
		target = x.obj.ref(refField)
		if target == nil {
			return val{}, untranslatable("%s: the object has no %s reference", name, refField)
		}
	}
	if strings.Contains(field, ".") {
		return val{}, untranslatable("%s: references more than one level deep are not translated", name)
	}
	if !target.has(field) {
		return val{}, untranslatable("%s is neither a parameter nor a field of %s", name, target.id)
	}
	raw := target.str(field)
	sub := exprCtx{c: x.c, obj: target, field: field, mode: x.mode, depth: x.depth + 1}
	out, err := sub.translateErr(raw)
	if err != nil {
		return val{}, err
	}
	return val{kind: kindText, text: out}, nil
}

// secure translates a secure parameter: only a shell command can take it, from the runner's
// environment; the value itself never goes into the output.
func (x exprCtx) secure(name string) (val, error) {
	if x.mode != modeShell {
		return val{}, untranslatable("secure parameter %s: sluice puts no secret in a definition; use a connection (SQL) or the runner's environment (shell)", name)
	}
	env := "SLUICE_SECRET_" + strings.ToUpper(convert.ConnectionName(strings.TrimPrefix(name, "*")))
	x.c.entry(x.obj).Note("field %s: secure parameter %s is read from the runner's environment variable %s; set it there", x.field, name, env)
	x.c.res.AddSecretEnv(env, name)
	return val{kind: kindText, text: "${" + env + "}"}, nil
}

// goLayout translates a Joda-Time pattern (Data Pipeline's format()) to a Go time layout, and
// checks the translation by formatting sample times both ways: a literal that Go would read as
// a layout element, or an element Go cannot write, makes the pattern untranslatable.
func goLayout(pattern string) (string, error) {
	toks, err := jodaTokens(pattern)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, t := range toks {
		if t.literal {
			b.WriteString(t.text)
			continue
		}
		g, ok := jodaToGo[t.text]
		if !ok {
			return "", untranslatable("date pattern %q: %q has no Go layout equivalent", pattern, t.text)
		}
		b.WriteString(g)
	}
	layout := b.String()
	for _, sample := range sampleTimes {
		if got, want := sample.Format(layout), jodaFormat(toks, sample); got != want {
			return "", untranslatable("date pattern %q: its literal text clashes with Go's layout (%q formats as %q, not %q)", pattern, layout, got, want)
		}
	}
	return layout, nil
}

var sampleTimes = []time.Time{
	time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC),
	time.Date(2031, 11, 23, 17, 48, 59, 12_000_000, time.UTC),
}

type jodaToken struct {
	text    string
	literal bool
}

// jodaToGo maps the Joda-Time elements that Go can write to Go layout elements.
var jodaToGo = map[string]string{
	"yyyy": "2006", "YYYY": "2006", "yy": "06", "YY": "06",
	"MMMM": "January", "MMM": "Jan", "MM": "01", "M": "1",
	"dd": "02", "d": "2", "DDD": "002",
	"HH": "15", "hh": "03", "h": "3",
	"mm": "04", "m": "4", "ss": "05", "s": "5",
	"SSS": "000", "SS": "00", "S": "0",
	"a": "PM", "EEEE": "Monday", "EEE": "Mon", "E": "Mon",
	"Z": "-0700", "ZZ": "-07:00", "z": "MST",
}

// jodaTokens splits a Joda-Time pattern into elements (runs of one letter) and literals ('…').
func jodaTokens(pattern string) ([]jodaToken, error) {
	var out []jodaToken
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			end := strings.IndexByte(pattern[i+1:], '\'')
			if end < 0 {
				return nil, untranslatable("date pattern %q: unterminated quote", pattern)
			}
			lit := pattern[i+1 : i+1+end]
			if lit == "" {
				lit = "'"
			}
			out = append(out, jodaToken{text: lit, literal: true})
			i += end + 2
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			out = append(out, jodaToken{text: pattern[i:j]})
			i = j
		default:
			out = append(out, jodaToken{text: string(c), literal: true})
			i++
		}
	}
	return out, nil
}

// jodaFormat formats t with Joda-Time's meaning of the elements, to check goLayout.
func jodaFormat(toks []jodaToken, t time.Time) string {
	var b strings.Builder
	for _, tok := range toks {
		if tok.literal {
			b.WriteString(tok.text)
			continue
		}
		switch tok.text {
		case "yyyy", "YYYY":
			fmt.Fprintf(&b, "%04d", t.Year())
		case "yy", "YY":
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case "MMMM":
			b.WriteString(t.Month().String())
		case "MMM":
			b.WriteString(t.Month().String()[:3])
		case "MM":
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case "M":
			fmt.Fprintf(&b, "%d", int(t.Month()))
		case "dd":
			fmt.Fprintf(&b, "%02d", t.Day())
		case "d":
			fmt.Fprintf(&b, "%d", t.Day())
		case "DDD":
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case "HH":
			fmt.Fprintf(&b, "%02d", t.Hour())
		case "hh":
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case "h":
			fmt.Fprintf(&b, "%d", (t.Hour()+11)%12+1)
		case "mm":
			fmt.Fprintf(&b, "%02d", t.Minute())
		case "m":
			fmt.Fprintf(&b, "%d", t.Minute())
		case "ss":
			fmt.Fprintf(&b, "%02d", t.Second())
		case "s":
			fmt.Fprintf(&b, "%d", t.Second())
		case "SSS":
			fmt.Fprintf(&b, "%03d", t.Nanosecond()/1_000_000)
		case "SS":
			fmt.Fprintf(&b, "%02d", t.Nanosecond()/10_000_000)
		case "S":
			fmt.Fprintf(&b, "%d", t.Nanosecond()/100_000_000)
		case "a":
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case "EEEE":
			b.WriteString(t.Weekday().String())
		case "EEE", "E":
			b.WriteString(t.Weekday().String()[:3])
		case "Z":
			b.WriteString("+0000")
		case "ZZ":
			b.WriteString("+00:00")
		case "z":
			b.WriteString("UTC")
		}
	}
	return b.String()
}
