package definition

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestKeyPattern_MatchesAndNamesParts(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         map[string]string // nil: no match
	}{
		{"raw/{date}/{hour}/", "raw/2026-11-18/13/part-0001.csv", map[string]string{"date": "2026-11-18", "hour": "13"}},
		{"raw/{date}/{hour}/", "raw/2026-11-18/13", nil},          // not under the prefix
		{"raw/{date}/{hour}/", "raw/2026-11-18/1/x.csv", nil},     // hour is two digits
		{"raw/{date}/{hour}/", "raw/2026-02-30/01/x.csv", nil},    // not a date
		{"raw/{date}/{hour}/", "raw/2026-11-18/24/x.csv", nil},    // not an hour
		{"raw/{date}/{hour}/", "cooked/2026-11-18/13/x.csv", nil}, // other prefix
		{"logs/{year}/{month}/{day}/{name}.json", "logs/2026/03/01/web.json", map[string]string{"year": "2026", "month": "03", "day": "01", "name": "web"}},
		{"logs/{year}/{month}/{day}/{name}.json", "logs/2026/03/01/a/web.json", nil}, // {name} does not cross "/"
		{"in/{table}.csv", "in/clicks.csv", map[string]string{"table": "clicks"}},
		{"in/{table}.csv", "in/clicks.csv.tmp", nil}, // whole key
		{"a.b/{x}/", "a.b/1/", map[string]string{"x": "1"}},
		{"a.b/{x}/", "aXb/1/", nil}, // "." is literal
	} {
		kp, err := CompileKeyPattern(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		got, ok := kp.Match(tc.key)
		if tc.want == nil {
			if ok {
				t.Errorf("%s matched %s: %v", tc.pattern, tc.key, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s on %s = %v, %v; want %v", tc.pattern, tc.key, got, ok, tc.want)
		}
	}
}

func TestCompileKeyPattern_RefusesAmbiguousPatterns(t *testing.T) {
	for pattern, want := range map[string]string{
		"raw/{date/":                       "unbalanced brace",
		"raw/{}/":                          "a name is a letter",
		"raw/{x}/{x}/":                     "appears twice",
		"raw/{a}{b}/":                      "separated by text",
		"raw/{year}/{month}/":              "go together",
		"raw/{hour}/":                      "needs a {date}",
		"raw/{date}/{year}/{month}/{day}/": "either {date}",
		"raw/x}/":                          "unbalanced brace",
		"":                                 "empty",
	} {
		_, err := CompileKeyPattern(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", pattern, err, want)
		}
	}
}

func TestPartsInterval_HourOrDayInTheZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	iv, has, err := PartsInterval(map[string]string{"date": "2026-03-29", "hour": "01"}, berlin)
	if err != nil || !has {
		t.Fatal(has, err)
	}
	if got := iv.Start.UTC().Format(time.RFC3339) + " " + iv.End.UTC().Format(time.RFC3339); got != "2026-03-29T00:00:00Z 2026-03-29T01:00:00Z" {
		t.Errorf("hour interval = %s", got)
	}
	iv, _, _ = PartsInterval(map[string]string{"year": "2026", "month": "03", "day": "29"}, berlin)
	if d := iv.End.Sub(iv.Start); d != 23*time.Hour { // the DST day
		t.Errorf("day interval lasts %s, want 23h", d)
	}
	if _, has, _ := PartsInterval(map[string]string{"table": "x"}, time.UTC); has {
		t.Error("parts without a date gave an interval")
	}
}

func triggeredPipeline() *Pipeline {
	return &Pipeline{
		Format: FormatPipeline, Name: "raw_events", Enabled: true,
		Trigger: &Trigger{SQS: &SQSTrigger{
			QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/raw-events", Bucket: "acme-raw",
			Pattern: "raw/{date}/{hour}/", Suffix: ".csv", MaxEvents: 100, MaxWait: "5m",
		}},
		Activities: map[string]*Activity{
			"load": {Shell: &ShellActivity{Command: []string{"load", "{{ .Params.date }}", "{{ .Params.hour }}",
				"{{ range .Event.Objects }}s3://{{ .Bucket }}/{{ .Key }} {{ end }}"}}},
		},
	}
}

func TestValidatePipeline_TriggerOnlyPipelineIsValid(t *testing.T) {
	p := triggeredPipeline()
	if probs := ValidatePipeline(p); len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	doc, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), `"schedule"`) {
		t.Errorf("a pipeline without a schedule published one: %s", doc)
	}
	back, err := DecodePipeline(doc)
	if err != nil {
		t.Fatal(err)
	}
	if back.HasSchedule() || back.Trigger.SQS.Pattern != "raw/{date}/{hour}/" {
		t.Errorf("round trip lost the trigger: %+v", back.Trigger.SQS)
	}
}

func TestValidatePipeline_TriggerProblemsNameTheAttribute(t *testing.T) {
	for _, tc := range []struct {
		edit func(p *Pipeline)
		path string
		want string
	}{
		{func(p *Pipeline) { p.Trigger = nil }, "schedule", "unless the pipeline has a trigger"},
		{func(p *Pipeline) { p.Trigger = &Trigger{} }, "trigger", "set sqs, after, or both"},
		{func(p *Pipeline) { p.Trigger.SQS.QueueURL = "raw-events" }, "trigger.sqs.queue_url", "not a queue URL"},
		{func(p *Pipeline) { p.Trigger.SQS.QueueURL = "" }, "trigger.sqs.queue_url", "is required"},
		{func(p *Pipeline) { p.Trigger.SQS.Bucket = "Acme_Raw" }, "trigger.sqs.bucket", "not an S3 bucket name"},
		{func(p *Pipeline) { p.Trigger.SQS.Pattern = "raw/{date" }, "trigger.sqs.pattern", "unbalanced brace"},
		{func(p *Pipeline) { p.Parameters = map[string]string{"date": "x"} }, "trigger.sqs.pattern", "also a declared parameter"},
		{func(p *Pipeline) { p.Trigger.SQS.MaxEvents = 10001 }, "trigger.sqs.max_events", "over the limit"},
		{func(p *Pipeline) { p.Trigger.SQS.MaxEvents = -1 }, "trigger.sqs.max_events", "1 or more"},
		{func(p *Pipeline) { p.Trigger.SQS.MaxWait = "13h" }, "trigger.sqs.max_wait", "12h"},
		{func(p *Pipeline) { p.Trigger.SQS.MaxWait = "soon" }, "trigger.sqs.max_wait", "soon"},
		{func(p *Pipeline) { p.Trigger.SQS.VisibilityTimeout = "0s" }, "trigger.sqs.visibility_timeout", "longer than zero"},
		{func(p *Pipeline) { p.Trigger.After = []string{"raw_events"} }, "trigger.after.0", "cannot run after itself"},
		{func(p *Pipeline) { p.Trigger.After = []string{"a", "a"} }, "trigger.after.1", "listed twice"},
		{func(p *Pipeline) { p.Trigger.SQS.After = []string{"-bad"} }, "trigger.sqs.after.0", "pipeline name"},
		{func(p *Pipeline) { p.Trigger.MaxActiveRuns = -1 }, "trigger.max_active_runs", "0 or more"},
		{func(p *Pipeline) { p.Activities["load"].Shell.Command = []string{"{{ .Params.minute }}"} }, "activities.load.shell.command.0", "unknown parameter"},
		{func(p *Pipeline) { p.Activities["load"].Shell.Command = []string{"{{ .Event.Nope }}"} }, "activities.load.shell.command.0", "Nope"},
		{func(p *Pipeline) {
			p.Activities["load"].WaitFor = &WaitFor{Pipeline: &WaitForPipeline{Name: "up", Start: "{{ ds .Start }}"}}
		}, "activities.load.wait_for.pipeline.start", "RFC 3339"},
		{func(p *Pipeline) { p.Activities["load"].WaitFor = &WaitFor{Pipeline: &WaitForPipeline{Name: ""}} }, "activities.load.wait_for.pipeline.name", "pipeline name"},
		{func(p *Pipeline) {
			p.Activities["load"].WaitFor = &WaitFor{Pipeline: &WaitForPipeline{Name: "up"}, S3KeyExists: "s3://a/b"}
		}, "activities.load.wait_for", "exactly one condition"},
	} {
		p := triggeredPipeline()
		tc.edit(p)
		probs := ValidatePipeline(p)
		found := false
		for _, pr := range probs {
			if pr.Path == tc.path && strings.Contains(pr.Message, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("want a problem at %s containing %q, got %v", tc.path, tc.want, probs)
		}
	}
}

// A document published before triggers existed decodes, keeps its version (the schedule is
// still written, the new fields are left out) and validates.
func TestDecodePipeline_DocumentsFromBeforeTriggersStillDecode(t *testing.T) {
	old := `{"activities":{"hello":{"shell":{"command":["echo","{{ ds .Start }}"]}}},"defaults":{"retries":0},"enabled":true,` +
		`"format":"sluice/pipeline.v1","name":"hello","schedule":{"catchup":false,"every":"1d","max_active_runs":1,"start":"2026-03-01T00:00:00Z","timezone":"UTC"}}`
	v, err := VersionOf(mustDecodeLenient(t, old))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSuffix(old, "}") + `,"version":"` + v + `"}`
	p, err := DecodePipeline([]byte(doc))
	if err != nil {
		t.Fatalf("an old document no longer decodes: %v", err)
	}
	if p.Trigger != nil || !p.HasSchedule() {
		t.Errorf("decoded %+v", p)
	}
	again, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != doc {
		t.Errorf("re-encoding changed the document:\n%s\n%s", doc, again)
	}
	if probs := ValidatePipeline(p); len(probs) > 0 {
		t.Errorf("problems: %v", probs)
	}
}

func mustDecodeLenient(t *testing.T, s string) *Pipeline {
	t.Helper()
	var p Pipeline
	if err := decodeStrict([]byte(s), FormatPipeline, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}
