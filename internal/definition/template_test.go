package definition

import (
	"strings"
	"testing"
	"time"
)

func TestRender_FunctionsAndFields(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
	data := TemplateData{Start: start, End: start.AddDate(0, 0, 1), Params: map[string]string{"bucket": "acme-logs"}, Pipeline: "daily_clicks", RunID: "r-42"}
	tests := map[string]string{
		"no template at all":                                               "no template at all",
		"{{ ds .Start }}":                                                  "2026-03-01",
		"{{ ds_nodash .End }}":                                             "20260302",
		"{{ ts .Start }}":                                                  "2026-03-01T00:00:00+01:00",
		"{{ utc .Start | ts }}":                                            "2026-02-28T23:00:00Z",
		`{{ date "2006/01/02/15" .Start }}`:                                "2026/03/01/00",
		"{{ add_days -1 .Start | ds }}":                                    "2026-02-28",
		"{{ .Start | add_days -1 | ds }}":                                  "2026-02-28",
		"{{ add_hours 6 .Start | ts }}":                                    "2026-03-01T06:00:00+01:00",
		"{{ add_minutes -30 .Start | ts }}":                                "2026-02-28T23:30:00+01:00",
		"{{ add_months -1 .Start | ds }}":                                  "2026-02-01",
		"{{ (.Start | add_days -1).Day }}":                                 "28",
		"{{ unix .Start }}":                                                "1772319600",
		"{{ .Start.Year }}":                                                "2026",
		"s3://{{ .Params.bucket }}/{{ ds .Start }}/":                       "s3://acme-logs/2026-03-01/",
		"{{ .Pipeline }}-{{ .RunID }}":                                     "daily_clicks-r-42",
		`{{ if eq .Params.bucket "acme-logs" }}prod{{ else }}dev{{ end }}`: "prod",
	}
	for in, want := range tests {
		got, err := Render(in, data)
		if err != nil || got != want {
			t.Errorf("Render(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCheckTemplate_RefusesWithAClearMessage(t *testing.T) {
	params := map[string]string{"bucket": "b", "env": "prod"}
	tests := []struct {
		name, tmpl, fragment string
	}{
		{"unknown field", "{{ .Foo }}", "unknown field .Foo; the fields are .Start, .End, .Params, .Pipeline, .RunID"},
		{"unknown parameter", "{{ .Params.nope }}", "unknown parameter .Params.nope; the parameters are bucket, env"},
		{"unknown parameter in a branch that would not run", `{{ if eq .Params.env "dev" }}{{ .Params.nope }}{{ end }}`, "unknown parameter .Params.nope"},
		{"unknown parameter through $ inside range", `{{ range .Params }}{{ $.Params.nope }}{{ end }}`, "unknown parameter $.Params.nope"},
		{"unknown function", "{{ yesterday .Start }}", `unknown function "yesterday"; the functions are add_days, add_hours, add_minutes, add_months, date, ds, ds_nodash, ts, unix, utc`},
		{"wrong argument type", `{{ add_days "1" .Start }}`, `template error at 1:12: <"1">: expected integer; found "1"`},
		{"syntax error", "{{ ds .Start ", "template error at 1: unclosed action"},
		{"range over an integer", "{{ range 1000000000 }}{{ end }}", "{{ range 1000000000 }}: range is only allowed over a field such as .Params"},
		{"range over a function result", "{{ range unix .Start }}{{ end }}", "range is only allowed over a field"},
		{"range over the parameters is fine", `{{ range $k, $v := .Params }}{{ $k }}={{ $v }} {{ end }}`, ""},
		{"unknown parameter via index at run time", `{{ index .Params "nope" | printf "%q" }}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTemplate(tc.tmpl, params)
			if tc.fragment == "" {
				if err != nil {
					t.Fatalf("CheckTemplate(%q) = %v; want nil", tc.tmpl, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.fragment) {
				t.Fatalf("CheckTemplate(%q) = %v; want it to contain %q", tc.tmpl, err, tc.fragment)
			}
		})
	}
}

func TestCheckTemplate_NoParametersSaysSo(t *testing.T) {
	err := CheckTemplate("{{ .Params.x }}", nil)
	if err == nil || !strings.Contains(err.Error(), "this pipeline declares no parameters") {
		t.Fatalf("CheckTemplate = %v", err)
	}
}

func TestRender_UnknownParameterFailsAtRunTimeToo(t *testing.T) {
	_, err := Render("{{ .Params.nope }}", TemplateData{Params: map[string]string{}})
	if err == nil || !strings.Contains(err.Error(), `unknown parameter .Params.nope`) {
		t.Fatalf("Render = %v", err)
	}
}

func TestRender_RefusesOutputOverTheLimit(t *testing.T) {
	_, err := Render(`{{ printf "%0999999d" 0 }}{{ printf "%0999999d" 0 }}`, TemplateData{})
	if err == nil || !strings.Contains(err.Error(), "renders more than 1048576 bytes") {
		t.Fatalf("Render = %v", err)
	}
}
