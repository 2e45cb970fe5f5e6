package definition

import (
	"fmt"
	"testing"
	"time"
)

// benchPipeline is pipeline i of a realistic plan: ten activities mixing every kind, most strings
// templated, each activity depending on the one or two before it.
func benchPipeline(i int) *Pipeline {
	p := &Pipeline{
		Format: FormatPipeline, Name: fmt.Sprintf("team%02d.pipeline_%03d", i%17, i), Owner: "data", Enabled: true,
		Schedule:   Schedule{Cron: fmt.Sprintf("%d %d * * *", i%60, i%24), Timezone: "Europe/Berlin", Start: "2026-01-01T00:00:00+01:00", Catchup: i%2 == 0, MaxActiveRuns: 2},
		Parameters: map[string]string{"bucket": fmt.Sprintf("acme-%d", i), "schema": "analytics", "env": "prod"},
		Defaults:   Defaults{Retries: 2, RetryDelay: "5m", Timeout: "2h"},
		Activities: map[string]*Activity{},
		Notify:     &Notify{OnFailure: []string{"arn:aws:sns:eu-west-1:123456789012:alerts"}, OnLate: &OnLate{After: "6h", Targets: []string{"https://hooks.example.com/x"}}},
	}
	if i%3 == 0 {
		p.Schedule = Schedule{Every: "1d", Timezone: "UTC", Start: "2026-01-01T03:00:00Z", Catchup: true, MaxActiveRuns: 1}
	}
	prefix := "s3://{{ .Params.bucket }}/raw/{{ ds .Start }}/"
	for j := range 10 {
		id := fmt.Sprintf("step_%02d", j)
		a := &Activity{}
		if j > 0 {
			a.DependsOn = append(a.DependsOn, fmt.Sprintf("step_%02d", j-1))
		}
		if j > 1 && j%3 == 0 {
			a.DependsOn = append(a.DependsOn, fmt.Sprintf("step_%02d", j-2))
		}
		switch j % 6 {
		case 0:
			a.WaitFor = &WaitFor{S3PrefixNotEmpty: prefix, PokeInterval: "1m", Timeout: "3h"}
			a.Shell = &ShellActivity{Command: []string{"python3", "extract.py", "--day", "{{ ds .Start }}", "--out", prefix}, Env: map[string]string{"RUN": "{{ .RunID }}"}}
		case 1:
			a.S3Copy = &S3CopyActivity{From: prefix, To: "s3://{{ .Params.bucket }}/staged/{{ ds_nodash .Start }}/"}
		case 2:
			a.EMRStep = &EMRStepActivity{Template: "log-parser", Steps: []EMRStep{{
				Name: "parse", ActionOnFailure: ActionTerminateCluster,
				Streaming: &StreamingStep{Mapper: "map.py", Reducer: "reduce.py", Input: []string{prefix}, Output: "s3://{{ .Params.bucket }}/csv/{{ ds_nodash .Start }}/"},
			}, {Name: "spark", Spark: []string{"--deploy-mode", "cluster", "s3://code/job.py", "{{ ts .Start }}", "{{ ts .End }}"}}}}
		case 3:
			a.RedshiftCopy = &RedshiftCopyActivity{Connections: []string{"warehouse", "replica"}, Table: "analytics.events", From: "s3://{{ .Params.bucket }}/csv/{{ ds_nodash .Start }}/",
				Format: FormatCSV, InsertMode: InsertKeepExisting, KeyColumns: []string{"id"}, Options: []string{"IGNOREHEADER 1"}}
		case 4:
			a.SQL = &SQLActivity{Connection: "warehouse", Statements: []string{
				"DELETE FROM {{ .Params.schema }}.daily WHERE day = '{{ ds .Start }}'",
				"INSERT INTO {{ .Params.schema }}.daily SELECT '{{ ds .Start }}', count(*) FROM analytics.events WHERE ts >= '{{ ts .Start }}' AND ts < '{{ ts .End }}'",
			}}
		case 5:
			a.Check = &CheckActivity{Connection: "warehouse", Table: "analytics.daily", Where: "day = '{{ ds .Start }}'",
				RowCount: &RowCount{Min: int64p(1)}, NotNull: []string{"day"}, Freshness: &Freshness{Column: "day", MaxAge: "26h"}, Severity: SeverityWarn}
		}
		p.Activities[id] = a
	}
	return p
}

// BenchmarkValidateAndHash is what a plan of 200 pipelines costs the provider: validate each
// and compute its version.
func BenchmarkValidateAndHash(b *testing.B) {
	plan := make([]*Pipeline, 200)
	for i := range plan {
		plan[i] = benchPipeline(i)
		if probs := ValidatePipeline(plan[i]); len(probs) > 0 {
			b.Fatalf("pipeline %d: %v", i, Problems(probs).Error())
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, p := range plan {
			if probs := ValidatePipeline(p); len(probs) > 0 {
				b.Fatal(probs)
			}
			if _, err := VersionOf(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	perPlan := elapsed / time.Duration(b.N)
	b.ReportMetric(float64(perPlan)/float64(time.Millisecond), "ms/plan")
	b.ReportMetric(float64(perPlan)/float64(time.Microsecond)/float64(len(plan)), "µs/pipeline")
}
