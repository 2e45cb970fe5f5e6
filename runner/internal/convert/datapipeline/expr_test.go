package datapipeline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// translated converts a definition whose one shell command is cmd and returns the command as
// sluice runs it (bash -c's argument) and the expressions left untranslated.
func translated(t *testing.T, cmd string) (string, int) {
	t.Helper()
	c, _ := json.Marshal(cmd)
	src := `{"objects": [
	  {"id": "Default", "scheduleType": "timeseries", "schedule": {"ref": "S"}},
	  {"id": "S", "type": "Schedule", "period": "1 days", "startDateTime": "2026-01-01T00:00:00"},
	  {"id": "In", "type": "S3DataNode", "directoryPath": "s3://in/#{format(@scheduledStartTime,'YYYY-MM-dd')}"},
	  {"id": "Out", "type": "S3DataNode", "filePath": "s3://out/#{myName}.csv"},
	  {"id": "Act", "type": "ShellCommandActivity", "command": ` + string(c) + `, "input": {"ref": "In"}, "output": {"ref": "Out"}, "label": "L-#{myName}"}],
	 "parameters": [{"id": "myName", "default": "x"}, {"id": "*mySecret"}]}`
	res, err := Convert([]byte(src), Options{Name: "p", Source: "p.json", Now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Pipeline.Activities["act"].Shell.Command[2], len(res.Untranslated)
}

// The translation is checked by what it renders to: the interval [2026-03-01 06:00, 2026-03-02
// 06:00) UTC, as Data Pipeline would have evaluated it for that scheduled start.
func TestExpressions_RenderAsDataPipelineEvaluatedThem(t *testing.T) {
	start := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	data := definition.TemplateData{Start: start, End: start.AddDate(0, 0, 1), Params: map[string]string{"myName": "x"}, Pipeline: "p", RunID: "1"}
	for expr, want := range map[string]string{
		"#{myName}":              "x",
		"#{@scheduledStartTime}": "2026-03-01T06:00:00",
		"#{@scheduledEndTime}":   "2026-03-02T06:00:00",
		"#{format(@scheduledStartTime,'YYYY-MM-dd')}":                    "2026-03-01",
		"#{format(@scheduledStartTime,'YYYYMMdd')}":                      "20260301",
		"#{format(@scheduledStartTime,'YYYY/MM/dd/HH')}":                 "2026/03/01/06",
		"#{format(@scheduledStartTime,\"yyyy-MM-dd'T'HH:mm:ss\")}":       "2026-03-01T06:00:00",
		"#{format(@scheduledStartTime,'dd MMM yyyy, EEE hh a')}":         "01 Mar 2026, Sun 06 AM",
		"#{format(minusDays(@scheduledStartTime,1),'YYYY-MM-dd')}":       "2026-02-28",
		"#{format(plusDays(@scheduledStartTime, 30),'YYYY-MM-dd')}":      "2026-03-31",
		"#{format(minusHours(@scheduledStartTime,7),'YYYY-MM-dd HH')}":   "2026-02-28 23",
		"#{format(plusMinutes(@scheduledStartTime,90),'HH:mm')}":         "07:30",
		"#{format(minusWeeks(@scheduledStartTime,1),'YYYY-MM-dd')}":      "2026-02-22",
		"#{format(minusMonths(@scheduledStartTime,1),'YYYY-MM')}":        "2026-02",
		"#{format(plusYears(@scheduledStartTime,1),'YYYY')}":             "2027",
		"#{day(@scheduledStartTime)}":                                    "1",
		"#{hour(@scheduledStartTime)}":                                   "6",
		"#{day(minusDays(@scheduledStartTime,1))}":                       "28",
		"#{month(@scheduledStartTime)}":                                  "3",
		"#{year(@scheduledEndTime)}":                                     "2026",
		"#{input.directoryPath}":                                         "s3://in/2026-03-01",
		"#{output.filePath}":                                             "s3://out/x.csv",
		"#{label}":                                                       "L-x",
		"#{concat('a-', myName, '-', format(@scheduledStartTime,'dd'))}": "a-x-01",
		"#{@pipelineId}":       "p",
		"literal {{ braces }}": "literal {{ braces }}",
	} {
		got, untranslated := translated(t, expr)
		if untranslated != 0 {
			t.Errorf("%s: %d expressions untranslated", expr, untranslated)
			continue
		}
		out, err := definition.Render(got, data)
		if err != nil {
			t.Errorf("%s → %s: %v", expr, got, err)
			continue
		}
		if out != want {
			t.Errorf("%s → %s renders %q, want %q", expr, got, out, want)
		}
	}
}

func TestExpressions_UntranslatableOnesAreReportedOneByOne(t *testing.T) {
	for expr, n := range map[string]int{
		"#{midnight(@scheduledStartTime)}":                        1,
		"#{@attemptCount} and #{@actualEndTime}":                  2,
		"#{format(@scheduledStartTime,'YYYY G')}":                 1,
		"#{format(@scheduledStartTime,'H')}":                      1,
		"#{1 + 2}":                                                1,
		"#{nope}":                                                 1,
		"#{runsOn.id}":                                            1,
		"#{format(@scheduledStartTime,'YYYY-MM-dd'":               1,
		"#{*mySecret} in a shell is an environment variable":      0,
		"#{format(minusDays(@scheduledStartTime,myName),'YYYY')}": 1,
	} {
		got, untranslated := translated(t, expr)
		if untranslated != n {
			t.Errorf("%s → %s: %d untranslated, want %d", expr, got, untranslated, n)
		}
	}
	if got, _ := translated(t, "curl -u admin:#{*mySecret}"); got != "curl -u admin:${SLUICE_SECRET_MY_SECRET}" {
		t.Errorf("secure parameter → %s", got)
	}
}

func TestGoLayout_RefusesLiteralsGoWouldRead(t *testing.T) {
	for pattern, want := range map[string]string{
		"YYYY-MM-dd":          "2006-01-02",
		"yyyyMMddHHmmss":      "20060102150405",
		"HH:mm:ss.SSS":        "15:04:05.000",
		"'year' yyyy":         "year 2006",
		"'Jan' yyyy":          "", // Go would read Jan as the month
		"yyyy'-'MM'-'dd'T'HH": "2006-01-02T15",
	} {
		got, err := goLayout(pattern)
		if want == "" {
			if err == nil {
				t.Errorf("%q → %q, want an error", pattern, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q → %q, %v; want %q", pattern, got, err, want)
		}
	}
	if _, err := goLayout("yyyy'open"); err == nil || !strings.Contains(err.Error(), "unterminated quote") {
		t.Errorf("an open quote: %v", err)
	}
}
