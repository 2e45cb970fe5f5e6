package datapipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// corpusDir holds the Data Pipeline definitions written for these tests (from AWS's object
// reference), each with its expected outcome in expect.json.
const corpusDir = "../testdata/datapipeline"

type expectation struct {
	Expect string `json:"expect"`
	Local  bool   `json:"local"`
}

// secretMarker is in every password and secure value of the corpus: it must never reach the
// output.
const secretMarker = "NEVER-IN-OUTPUT"

func TestCorpus_EveryDefinitionConvertsAsExpected(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expectation
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 30 {
		t.Fatalf("the corpus has %d definitions, want at least 30", len(want))
	}
	for name, exp := range want {
		t.Run(name, func(t *testing.T) {
			res := convertCorpus(t, name)
			if got := res.Complete(); got != (exp.Expect == "complete") {
				t.Errorf("complete = %v, want %s\n%s", got, exp.Expect, res.Report())
			}
			if none := len(res.Pipeline.Activities) == 0; none != (exp.Expect == "none") {
				t.Errorf("%d activities converted, want %s", len(res.Pipeline.Activities), exp.Expect)
			}
			checkResult(t, res)
		})
	}
}

// convertCorpus converts a corpus definition with its values file, as the command does.
func convertCorpus(t *testing.T, name string) *convert.Result {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(corpusDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Name: "p" + strings.ReplaceAll(name, "-", "_"), Source: name + ".json", Now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	if v, err := os.ReadFile(filepath.Join(corpusDir, name+".values.json")); err == nil {
		if opts.Values, err = ParseValues(v); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Convert(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkResult checks what every conversion must satisfy: a valid pipeline once the variables
// have their defaults, valid templates, no secret in any output, and every source object in
// the report.
func checkResult(t *testing.T, res *convert.Result) {
	t.Helper()
	for _, out := range []string{res.MainTF(), res.VariablesTF(), res.Report()} {
		if strings.Contains(out, secretMarker) {
			t.Fatalf("a secret reached the output:\n%s", out)
		}
	}
	p := expandVariables(t, res)
	if len(p.Activities) > 0 {
		for _, prob := range definition.ValidatePipeline(p) {
			t.Errorf("converted pipeline invalid: %s\n%s", prob, res.MainTF())
		}
	}
	for _, e := range res.Entries {
		if e.Status != convert.Converted && len(e.Notes) == 0 {
			t.Errorf("%s (%s) is %s without a note saying why", e.ID, e.Type, e.Status)
		}
	}
}

// expandVariables returns the pipeline with the variables' defaults in place of the references.
func expandVariables(t *testing.T, res *convert.Result) *definition.Pipeline {
	t.Helper()
	vals := map[string]string{}
	for _, v := range res.Variables {
		if v.Default != nil {
			vals[v.Name] = *v.Default
		}
	}
	raw, err := json.Marshal(res.Pipeline)
	if err != nil {
		t.Fatal(err)
	}
	s := convert.ExpandVarRefs(strings.ReplaceAll(string(raw), `\u0000`, "\x00"), func(n string) string { return vals[n] })
	var p definition.Pipeline
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(p.Schedule.Start, "var.") {
		p.Schedule.Start = vals[strings.TrimPrefix(p.Schedule.Start, "var.")]
	}
	if strings.HasPrefix(p.Schedule.End, "timeadd(") {
		p.Schedule.End = ""
	}
	for k := range p.Parameters {
		if v, ok := vals[res.ParamVars[k]]; ok {
			p.Parameters[k] = v
		}
	}
	return &p
}

func TestCorpus_EveryObjectTypeOfTheIssueIsUsed(t *testing.T) {
	types := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "[0-9]*.json"))
	for _, f := range files {
		if strings.HasSuffix(f, ".values.json") {
			continue
		}
		data, _ := os.ReadFile(f)
		d, err := parseDefinition(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range d.objects {
			types[o.typ] = true
		}
	}
	for _, typ := range append(append(append(append(append([]string{}, activityTypes...), dataNodeTypes...), databaseTypes...), preconditionTypes...),
		"EmrCluster", "Ec2Resource", "Schedule", "SnsAlarm", "CSV", "TSV", "Custom", "RegEx", "EmrConfiguration", "Property") {
		if !types[typ] {
			t.Errorf("no corpus definition uses %s", typ)
		}
	}
}
