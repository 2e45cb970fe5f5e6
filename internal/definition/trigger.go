package definition

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Trigger starts runs on events instead of, or besides, a schedule: S3 event notifications and
// sluice notifications read from an SQS queue, and the success of other pipelines of the same
// state database. At least one of SQS and After is set.
type Trigger struct {
	SQS *SQSTrigger `json:"sqs,omitempty"`
	// After names pipelines of the same state database: each successful run of one of them
	// creates a run of this pipeline for the same interval.
	After []string `json:"after,omitempty"`
	// MaxActiveRuns caps how many triggered runs of the pipeline run at once; 0 means 1.
	MaxActiveRuns int `json:"max_active_runs,omitempty"`
}

// SQSTrigger long-polls a queue. It understands S3 event notifications (direct, inside an SNS
// envelope, and EventBridge's "Object Created" events) filtered by Bucket, Prefix, Suffix and
// Pattern, and sluice/notification.v1 success messages of the pipelines named in After.
type SQSTrigger struct {
	QueueURL string `json:"queue_url"`
	// Bucket, Prefix and Suffix filter S3 objects; empty matches any.
	Bucket string `json:"bucket,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Suffix string `json:"suffix,omitempty"`
	// Pattern is a key pattern such as "raw/{date}/{hour}/": its named parts become
	// parameters of the run, and date parts give the run its interval (see KeyPattern).
	Pattern string `json:"pattern,omitempty"`
	// After names the pipelines whose sluice/notification.v1 success messages start a run.
	After []string `json:"after,omitempty"`
	// MaxEvents and MaxWait coalesce events into one run: a run is created when MaxEvents
	// events are waiting or MaxWait has passed since the first. Unset, one run per event.
	MaxEvents int    `json:"max_events,omitempty"`
	MaxWait   string `json:"max_wait,omitempty"`
	// VisibilityTimeout is how long a received message stays hidden from other consumers;
	// the runner extends it while the message waits in a batch. Empty means DefaultVisibility.
	VisibilityTimeout string `json:"visibility_timeout,omitempty"`
}

// Trigger defaults and limits.
const (
	// DefaultMaxWait is the batching window when max_events is set without max_wait.
	DefaultMaxWait = time.Minute
	// DefaultVisibility is the visibility timeout the runner asks for when receiving.
	DefaultVisibility = time.Minute
	// MaxBatchEvents caps max_events: one run's objects are stored with the run.
	MaxBatchEvents = 10000
	// MaxBatchWait caps max_wait and the visibility timeout: SQS's own limit is 12 hours.
	MaxBatchWait = 12 * time.Hour
)

// HasSchedule reports whether the pipeline has a schedule (a pipeline with only a trigger has
// none).
func (p *Pipeline) HasSchedule() bool { return p.Schedule != (Schedule{}) }

// TriggerMaxActive is how many triggered runs may be active at once.
func (p *Pipeline) TriggerMaxActive() int {
	if p.Trigger == nil || p.Trigger.MaxActiveRuns <= 0 {
		return 1
	}
	return p.Trigger.MaxActiveRuns
}

// Batching returns how many events a run coalesces and how long the first waits: (1, 0) when
// the trigger does not batch.
func (s *SQSTrigger) Batching() (maxEvents int, maxWait time.Duration) {
	if s.MaxEvents <= 1 && s.MaxWait == "" {
		return 1, 0
	}
	maxEvents = s.MaxEvents
	if maxEvents <= 0 {
		maxEvents = MaxBatchEvents
	}
	maxWait = DefaultMaxWait
	if s.MaxWait != "" {
		if d, err := ParseDuration(s.MaxWait); err == nil {
			maxWait = d
		}
	}
	return maxEvents, maxWait
}

// Visibility is the visibility timeout to receive with.
func (s *SQSTrigger) Visibility() time.Duration {
	if s.VisibilityTimeout != "" {
		if d, err := ParseDuration(s.VisibilityTimeout); err == nil && d >= time.Second {
			return d
		}
	}
	return DefaultVisibility
}

// Key pattern parts with a fixed form: they must be digits of the given width, and they give
// the run its interval.
var datePartForms = map[string]string{
	"date":  `[0-9]{4}-[0-9]{2}-[0-9]{2}`,
	"year":  `[0-9]{4}`,
	"month": `[0-9]{2}`,
	"day":   `[0-9]{2}`,
	"hour":  `[0-9]{2}`,
}

// DateParts lists the pattern parts with a fixed form.
func DateParts() []string { return []string{"date", "year", "month", "day", "hour"} }

// KeyPattern matches S3 keys against a pattern such as "raw/{date}/{hour}/". Text outside
// braces is literal; {name} matches one or more characters other than "/" (date is
// YYYY-MM-DD, year YYYY, month, day and hour two digits); a pattern ending in "/" matches every
// key under it, any other pattern the whole key.
type KeyPattern struct {
	src   string
	re    *regexp.Regexp
	names []string
}

var patternPart = regexp.MustCompile(`\{([^{}]*)\}`)

// CompileKeyPattern compiles a key pattern.
func CompileKeyPattern(s string) (*KeyPattern, error) {
	if s == "" {
		return nil, fmt.Errorf("pattern is empty")
	}
	var b strings.Builder
	b.WriteString("^")
	kp := &KeyPattern{src: s}
	seen := map[string]bool{}
	last := 0
	for _, m := range patternPart.FindAllStringSubmatchIndex(s, -1) {
		lit := s[last:m[0]]
		if strings.ContainsAny(lit, "{}") {
			return nil, fmt.Errorf("pattern %q: unbalanced brace in %q; a part is written {name}", s, lit)
		}
		b.WriteString(regexp.QuoteMeta(lit))
		name := s[m[2]:m[3]]
		if !parameterPattern.MatchString(name) {
			return nil, fmt.Errorf("pattern %q: part {%s}: a name is a letter or underscore followed by letters, digits or underscores", s, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("pattern %q: part {%s} appears twice", s, name)
		}
		if m[0] > 0 && s[m[0]-1] == '}' {
			return nil, fmt.Errorf("pattern %q: parts {..}{%s} must be separated by text, or the key could be split several ways", s, name)
		}
		seen[name] = true
		kp.names = append(kp.names, name)
		form := `[^/]+`
		if f, ok := datePartForms[name]; ok {
			form = f
		}
		b.WriteString("(" + form + ")")
		last = m[1]
	}
	rest := s[last:]
	if strings.ContainsAny(rest, "{}") {
		return nil, fmt.Errorf("pattern %q: unbalanced brace in %q; a part is written {name}", s, rest)
	}
	b.WriteString(regexp.QuoteMeta(rest))
	if !strings.HasSuffix(s, "/") {
		b.WriteString("$")
	}
	if ymd := seen["year"] || seen["month"] || seen["day"]; ymd && (!seen["year"] || !seen["month"] || !seen["day"]) {
		return nil, fmt.Errorf("pattern %q: {year}, {month} and {day} go together (or use {date})", s)
	}
	if seen["date"] && seen["year"] {
		return nil, fmt.Errorf("pattern %q: use either {date} or {year}/{month}/{day}", s)
	}
	if seen["hour"] && !seen["date"] && !seen["year"] {
		return nil, fmt.Errorf("pattern %q: {hour} needs a {date} (or {year}/{month}/{day}) to place it", s)
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", s, err)
	}
	kp.re = re
	return kp, nil
}

// Names are the pattern's named parts, in order.
func (k *KeyPattern) Names() []string { return k.names }

// String is the pattern as written.
func (k *KeyPattern) String() string { return k.src }

// Match returns the named parts of key, or ok = false when the key does not match (a date
// part that is not a real date does not match either).
func (k *KeyPattern) Match(key string) (parts map[string]string, ok bool) {
	m := k.re.FindStringSubmatch(key)
	if m == nil {
		return nil, false
	}
	parts = make(map[string]string, len(k.names))
	for i, n := range k.names {
		parts[n] = m[i+1]
	}
	if _, has, err := PartsInterval(parts, time.UTC); has && err != nil {
		return nil, false
	}
	return parts, true
}

// PartsInterval is the interval the date parts of a matched key name: the hour when there is
// an {hour}, else the day, in loc. has is false when the parts hold no date.
func PartsInterval(parts map[string]string, loc *time.Location) (iv Interval, has bool, err error) {
	date := parts["date"]
	if date == "" && parts["year"] != "" {
		date = parts["year"] + "-" + parts["month"] + "-" + parts["day"]
	}
	if date == "" {
		return Interval{}, false, nil
	}
	d, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		return Interval{}, true, fmt.Errorf("%q is not a date: %w", date, err)
	}
	if h := parts["hour"]; h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n > 23 {
			return Interval{}, true, fmt.Errorf("%q is not an hour (00 to 23)", h)
		}
		start := time.Date(d.Year(), d.Month(), d.Day(), n, 0, 0, 0, loc)
		return Interval{Start: start, End: start.Add(time.Hour)}, true, nil
	}
	return Interval{Start: d, End: d.AddDate(0, 0, 1)}, true, nil
}

// samplePart is what a pattern part holds in SampleTemplateData.
func samplePart(name string) string {
	switch name {
	case "date":
		return "2026-01-01"
	case "year":
		return "2026"
	case "month", "day":
		return "01"
	case "hour":
		return "00"
	}
	return "sample"
}

// Parameters returns the pipeline's parameters plus the named parts of its trigger's key
// pattern (with sample values): what templates may name as .Params.
func (p *Pipeline) templateParams() map[string]string {
	if p.Trigger == nil || p.Trigger.SQS == nil || p.Trigger.SQS.Pattern == "" {
		return p.Parameters
	}
	kp, err := CompileKeyPattern(p.Trigger.SQS.Pattern)
	if err != nil {
		return p.Parameters
	}
	out := make(map[string]string, len(p.Parameters)+len(kp.names))
	for k, v := range p.Parameters {
		out[k] = v
	}
	for _, n := range kp.names {
		out[n] = samplePart(n)
	}
	return out
}

var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func (v *validator) trigger(p *Pipeline) {
	t := p.Trigger
	if t == nil {
		if !p.HasSchedule() {
			v.add("schedule", "is required unless the pipeline has a trigger: set schedule, trigger, or both")
		}
		return
	}
	if t.SQS == nil && len(t.After) == 0 {
		v.add("trigger", "set sqs, after, or both")
	}
	v.nonNegative("trigger.max_active_runs", t.MaxActiveRuns)
	v.pipelineNames("trigger.after", t.After, p.Name)
	s := t.SQS
	if s == nil {
		return
	}
	base := "trigger.sqs"
	if v.required(base+".queue_url", s.QueueURL, "the queue's URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/raw-events") {
		u, err := url.Parse(s.QueueURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			v.add(base+".queue_url", "%q is not a queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/raw-events", s.QueueURL)
		}
	}
	if s.Bucket != "" && !bucketPattern.MatchString(s.Bucket) {
		v.add(base+".bucket", "%q is not an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')", s.Bucket)
	}
	if s.Pattern != "" {
		kp, err := CompileKeyPattern(s.Pattern)
		if err != nil {
			v.add(base+".pattern", "%v", err)
		} else {
			for _, n := range kp.names {
				if _, clash := p.Parameters[n]; clash {
					v.add(base+".pattern", "part {%s} is also a declared parameter: rename one of them (the part becomes .Params.%s of each run)", n, n)
				}
			}
		}
	}
	v.pipelineNames(base+".after", s.After, p.Name)
	switch {
	case s.MaxEvents < 0:
		v.add(base+".max_events", "must be 1 or more, got %d", s.MaxEvents)
	case s.MaxEvents > MaxBatchEvents:
		v.add(base+".max_events", "%d is over the limit of %d events per run", s.MaxEvents, MaxBatchEvents)
	}
	v.boundedDuration(base+".max_wait", s.MaxWait)
	v.boundedDuration(base+".visibility_timeout", s.VisibilityTimeout)
	if d, err := ParseDuration(s.VisibilityTimeout); s.VisibilityTimeout != "" && err == nil && d < time.Second {
		v.add(base+".visibility_timeout", "%q is under SQS's granularity of one second", s.VisibilityTimeout)
	}
}

func (v *validator) boundedDuration(path, s string) {
	v.duration(path, s, false)
	if d, err := ParseDuration(s); s != "" && err == nil && d > MaxBatchWait {
		v.add(path, "%q is over SQS's limit of 12h", s)
	}
}

func (v *validator) pipelineNames(path string, names []string, self string) {
	seen := map[string]bool{}
	for i, n := range names {
		at := path + "." + strconv.Itoa(i)
		switch {
		case ValidateName("pipeline", n) != nil:
			v.add(at, "%v", ValidateName("pipeline", n))
		case n == self:
			v.add(at, "pipeline %q cannot run after itself", n)
		case seen[n]:
			v.add(at, "pipeline %q is listed twice", n)
		}
		seen[n] = true
	}
}

func (v *validator) waitForPipeline(base string, w *WaitForPipeline) {
	if err := ValidateName("pipeline", w.Name); err != nil {
		v.add(base+".name", "%v", err)
	}
	for _, f := range []struct{ name, val string }{{"start", w.Start}, {"end", w.End}} {
		if f.val == "" {
			continue
		}
		sample, ok := v.tmpl(base+"."+f.name, f.val)
		if !ok {
			continue
		}
		if _, err := time.Parse(time.RFC3339, sample); err != nil {
			v.add(base+"."+f.name, "%q must render to an RFC 3339 time such as {{ ts .Start }}: %v", f.val, err)
		}
	}
}

// Describe says in a line what starts the pipeline's triggered runs; "" for none.
func (t *Trigger) Describe() string {
	if t == nil {
		return ""
	}
	var parts []string
	if s := t.SQS; s != nil {
		d := "sqs " + s.QueueURL
		var f []string
		for _, kv := range [][2]string{{"bucket", s.Bucket}, {"prefix", s.Prefix}, {"suffix", s.Suffix}, {"pattern", s.Pattern}} {
			if kv[1] != "" {
				f = append(f, kv[0]+" "+kv[1])
			}
		}
		if len(s.After) > 0 {
			f = append(f, "notifications of "+strings.Join(s.After, ", "))
		}
		if n, w := s.Batching(); n > 1 {
			f = append(f, "batches of up to "+strconv.Itoa(n)+" events or "+w.String())
		}
		if len(f) > 0 {
			d += " (" + strings.Join(f, "; ") + ")"
		}
		parts = append(parts, d)
	}
	if len(t.After) > 0 {
		parts = append(parts, "after "+strings.Join(t.After, ", "))
	}
	return strings.Join(parts, ", ")
}
