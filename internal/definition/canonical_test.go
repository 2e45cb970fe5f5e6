package definition

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCanonicalJSON_FormattingNeverMatters(t *testing.T) {
	a := `{"b": [1.0, 2e0, {"y": 1, "x": "s"}], "a": true, "n": null, "version": "sha256:old"}`
	b := `{"version":"sha256:other","a":true,"n":null,"b":[1,2,{"x":"s","y":1.00}]}`
	ca, err := CanonicalJSON([]byte(a), true)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := CanonicalJSON([]byte(b), true)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":true,"b":[1,2,{"x":"s","y":1}],"n":null}`
	if string(ca) != want || string(cb) != want {
		t.Fatalf("canonical forms:\n%s\n%s\nwant %s", ca, cb, want)
	}
}

func TestCanonicalNumber(t *testing.T) {
	tests := map[string]string{"1": "1", "1.0": "1", "1e3": "1000", "-0.5": "-0.5", "0.10": "0.1", "9007199254740993": "9007199254740993", "1.5e300": "1.5e+300"}
	for in, want := range tests {
		got, err := canonicalNumber(jsonNumber(in))
		if err != nil || got != want {
			t.Errorf("canonicalNumber(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := canonicalNumber(jsonNumber("1e999")); err == nil {
		t.Error("1e999 accepted")
	}
}

func samplePipeline() *Pipeline {
	return &Pipeline{
		Format: FormatPipeline, Name: "daily_clicks", Owner: "web-analytics", Enabled: true,
		Schedule: Schedule{Every: "1d", Start: "2026-11-18T00:00:00Z", Catchup: true, MaxActiveRuns: 1},
		Defaults: Defaults{Retries: 2, RetryDelay: "5m", Timeout: "1h"},
		Activities: map[string]*Activity{
			"extract": {Shell: &ShellActivity{Command: []string{"echo", "{{ .Start }}"}}},
			"load":    {DependsOn: []string{"extract"}, SQL: &SQLActivity{Connection: "warehouse", Statements: []string{"SELECT 1"}}},
		},
	}
}

func TestVersion_SameContentSameVersionAnyChangeNewVersion(t *testing.T) {
	v1, err := VersionOf(samplePipeline())
	if err != nil {
		t.Fatal(err)
	}
	again := samplePipeline()
	again.Version = "sha256:ignored" // the version never hashes itself
	if v2, _ := VersionOf(again); v2 != v1 {
		t.Fatalf("same content, versions %s and %s", v1, v2)
	}
	if !strings.HasPrefix(v1, VersionPrefix) || len(v1) != len(VersionPrefix)+64 {
		t.Fatalf("version %q", v1)
	}
	changes := []func(*Pipeline){
		func(p *Pipeline) { p.Owner = "someone" },
		func(p *Pipeline) { p.Enabled = false },
		func(p *Pipeline) { p.Schedule.Every = "1h" },
		func(p *Pipeline) { p.Activities["load"].DependsOn = nil },
		func(p *Pipeline) { p.Activities["extract"].Shell.Command[1] = "{{ .End }}" },
		func(p *Pipeline) { p.Defaults.Retries = 3 },
	}
	seen := map[string]bool{v1: true}
	for i, change := range changes {
		p := samplePipeline()
		change(p)
		v, _ := VersionOf(p)
		if seen[v] {
			t.Fatalf("change %d kept a previous version %s", i, v)
		}
		seen[v] = true
	}
}

func TestEncodeDecode_RoundTrip(t *testing.T) {
	p := samplePipeline()
	data, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodePipeline(data)
	if err != nil {
		t.Fatalf("DecodePipeline(%s): %v", data, err)
	}
	if back.Version != p.Version || back.Name != "daily_clicks" {
		t.Fatalf("round trip: %+v", back)
	}
	again, _ := Encode(back)
	if string(again) != string(data) {
		t.Fatalf("re-encoding changed the bytes:\n%s\n%s", data, again)
	}
}

func TestDecode_Refusals(t *testing.T) {
	good, _ := Encode(samplePipeline())
	tests := []struct {
		name, doc, want string
	}{
		{"unknown format", `{"format":"sluice/pipeline.v9","name":"x"}`, `unknown format "sluice/pipeline.v9"`},
		{"other known format", `{"format":"sluice/emr-template.v1","name":"x"}`, `expected "sluice/pipeline.v1"`},
		{"no format", `{"name":"x"}`, `no "format" field`},
		{"not JSON", `{"format":`, `not a sluice document`},
		{"unknown field", strings.Replace(string(good), `"name":`, `"colour":"red","name":`, 1), `unknown field "colour"`},
		{"edited by hand", strings.Replace(string(good), `"web-analytics"`, `"someone-else"`, 1), `version does not match the content`},
		{"trailing data", string(good) + `{}`, `after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePipeline([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodePipeline: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func jsonNumber(s string) (n json.Number) { return json.Number(s) }
