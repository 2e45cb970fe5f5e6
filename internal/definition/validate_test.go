package definition

import (
	"strings"
	"testing"
)

func int64p(n int64) *int64 { return &n }
func intp(n int) *int       { return &n }

// workedPipeline is the user's worked case: web logs land in S3, an EMR streaming step parses
// them to CSV, redshift_copy loads the CSV into the warehouse and its replica, and checks guard
// the result. Daily, from 2026-03-01 with catchup.
func workedPipeline() *Pipeline {
	return &Pipeline{
		Format: FormatPipeline, Name: "web_logs_daily", Description: "Web logs to analytics.clicks",
		Owner: "web-analytics", Enabled: true,
		Schedule:   Schedule{Every: "1d", Start: "2026-03-01T00:00:00Z", Timezone: "UTC", Catchup: true, MaxActiveRuns: 2},
		Parameters: map[string]string{"log_bucket": "acme-logs", "staging_bucket": "acme-staging"},
		Defaults:   Defaults{Retries: 2, RetryDelay: "5m", Timeout: "2h"},
		Activities: map[string]*Activity{
			"parse_logs": {
				Timeout: "3h",
				WaitFor: &WaitFor{S3PrefixNotEmpty: "s3://{{ .Params.log_bucket }}/web/{{ ds .Start }}/", PokeInterval: "5m", Timeout: "6h"},
				EMRStep: &EMRStepActivity{Template: "log-parser", Steps: []EMRStep{{
					Name: "parse web logs", ActionOnFailure: ActionTerminateCluster,
					Streaming: &StreamingStep{
						Mapper: "parse_log.py --day {{ ds .Start }}", Reducer: "aggregate.py",
						Input:  []string{"s3://{{ .Params.log_bucket }}/web/{{ ds .Start }}/"},
						Output: "s3://{{ .Params.staging_bucket }}/clicks/{{ ds_nodash .Start }}/",
						Files:  []string{"s3://acme-code/parse_log.py", "s3://acme-code/aggregate.py"},
					},
				}}},
			},
			"load_clicks": {
				DependsOn: []string{"parse_logs"},
				RedshiftCopy: &RedshiftCopyActivity{
					Connections: []string{"warehouse", "warehouse_replica"}, Table: "analytics.clicks",
					From:   "s3://{{ .Params.staging_bucket }}/clicks/{{ ds_nodash .Start }}/",
					Format: FormatCSV, InsertMode: InsertOverwriteExisting, KeyColumns: []string{"day", "url"},
					IAMRole: "arn:aws:iam::123456789012:role/redshift-copy", Options: []string{"IGNOREHEADER 1"},
				},
			},
			"check_clicks": {
				DependsOn: []string{"load_clicks"}, Retries: intp(0),
				Check: &CheckActivity{
					Connection: "warehouse", Table: "analytics.clicks", Where: "day = '{{ ds .Start }}'",
					RowCount: &RowCount{Min: int64p(1)}, Unique: []string{"url"}, NotNull: []string{"url", "day"},
					Severity: SeverityFail,
				},
			},
			"check_freshness": {
				DependsOn: []string{"load_clicks"},
				Check:     &CheckActivity{Connection: "warehouse", Table: "analytics.clicks", Freshness: &Freshness{Column: "loaded_at", MaxAge: "26h"}, Severity: SeverityWarn},
			},
			"vacuum": {
				DependsOn: []string{"check_clicks", "check_freshness"},
				SQL:       &SQLActivity{Connection: "warehouse", Statements: []string{"DELETE FROM analytics.clicks WHERE day < '{{ add_days -400 .Start | ds }}'"}},
			},
		},
		Notify: &Notify{
			OnFailure: []string{"arn:aws:sns:eu-west-1:123456789012:data-alerts"},
			OnLate:    &OnLate{After: "6h", Targets: []string{"https://hooks.example.com/sluice"}},
		},
	}
}

func TestValidatePipeline_WorkedCaseIsValidAndCatchesUpSevenDays(t *testing.T) {
	p := workedPipeline()
	if probs := ValidatePipeline(p); len(probs) != 0 {
		t.Fatalf("problems:\n%s", Problems(probs).Error())
	}
	c, err := p.Schedule.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CatchupCount(mustTime(t, "2026-03-08T09:00:00Z")); got != 7 {
		t.Fatalf("CatchupCount 7 days after start = %d, want 7", got)
	}
	order, err := TopoOrder(p.Activities)
	if err != nil || strings.Join(order, " ") != "parse_logs load_clicks check_clicks check_freshness vacuum" {
		t.Fatalf("TopoOrder = %v, %v", order, err)
	}
}

func TestValidatePipeline_EachRuleNamesThePathAndTheProblem(t *testing.T) {
	act := func(p *Pipeline, id string) *Activity { return p.Activities[id] }
	tests := []struct {
		name     string
		edit     func(p *Pipeline)
		path     string
		fragment string
	}{
		{"format", func(p *Pipeline) { p.Format = "sluice/pipeline.v0" }, "format", `expected "sluice/pipeline.v1"`},
		{"name with a slash", func(p *Pipeline) { p.Name = "web/logs" }, "name", `pipeline name "web/logs" is not valid`},
		{"empty name", func(p *Pipeline) { p.Name = "" }, "name", `pipeline name "" is not valid`},
		{"schedule cron field", func(p *Pipeline) { p.Schedule.Every, p.Schedule.Cron = "", "0 3 * 13 *" }, "schedule.cron", `month field "13"`},
		{"schedule every", func(p *Pipeline) { p.Schedule.Every = "10s" }, "schedule.every", "shorter than the minimum"},
		{"schedule max_active_runs", func(p *Pipeline) { p.Schedule.MaxActiveRuns = 0 }, "schedule.max_active_runs", "at least 1"},
		{"parameter name", func(p *Pipeline) { p.Parameters["log-bucket"] = "x" }, "parameters.log-bucket", "so templates can use it"},
		{"defaults retries", func(p *Pipeline) { p.Defaults.Retries = -1 }, "defaults.retries", "0 or more, got -1"},
		{"defaults retry_delay", func(p *Pipeline) { p.Defaults.RetryDelay = "5 minutes" }, "defaults.retry_delay", `"5 minutes" is not a duration`},
		{"defaults timeout zero", func(p *Pipeline) { p.Defaults.Timeout = "0s" }, "defaults.timeout", "longer than zero"},
		{"activity with two kinds", func(p *Pipeline) { act(p, "vacuum").Shell = &ShellActivity{Command: []string{"true"}} }, "activities.vacuum", "found shell and sql"},
		{"activity with no kind", func(p *Pipeline) { act(p, "vacuum").SQL = nil }, "activities.vacuum", "none is set"},
		{"null activity", func(p *Pipeline) { p.Activities["vacuum"] = nil }, "activities.vacuum", "is empty"},
		{"activity retries", func(p *Pipeline) { act(p, "check_clicks").Retries = intp(-2) }, "activities.check_clicks.retries", "0 or more, got -2"},
		{"activity timeout", func(p *Pipeline) { act(p, "parse_logs").Timeout = "3 hours" }, "activities.parse_logs.timeout", "is not a duration"},
		{"wait_for two conditions", func(p *Pipeline) { act(p, "parse_logs").WaitFor.S3KeyExists = "s3://acme-logs/_SUCCESS" }, "activities.parse_logs.wait_for", "found s3_key_exists and s3_prefix_not_empty"},
		{"wait_for no condition", func(p *Pipeline) { act(p, "parse_logs").WaitFor.S3PrefixNotEmpty = "" }, "activities.parse_logs.wait_for", "none is set"},
		{"wait_for poke_interval", func(p *Pipeline) { act(p, "parse_logs").WaitFor.PokeInterval = "often" }, "activities.parse_logs.wait_for.poke_interval", "is not a duration"},
		{"wait_for timeout", func(p *Pipeline) { act(p, "parse_logs").WaitFor.Timeout = "-1h" }, "activities.parse_logs.wait_for.timeout", "no sign allowed"},
		{"wait_for scheme", func(p *Pipeline) { act(p, "parse_logs").WaitFor.S3PrefixNotEmpty = "acme-logs/web/" }, "activities.parse_logs.wait_for.s3_prefix_not_empty", "must start with s3:// or file://"},
		{"wait_for sql connection", func(p *Pipeline) {
			act(p, "parse_logs").WaitFor = &WaitFor{SQLReturnsRows: &SQLReturnsRows{SQL: "SELECT 1"}}
		}, "activities.parse_logs.wait_for.sql_returns_rows.connection", "is required"},
		{"wait_for sql template", func(p *Pipeline) {
			act(p, "parse_logs").WaitFor = &WaitFor{SQLReturnsRows: &SQLReturnsRows{Connection: "warehouse", SQL: "SELECT 1 WHERE {{ .Params.nope }}"}}
		}, "activities.parse_logs.wait_for.sql_returns_rows.sql", "unknown parameter .Params.nope"},
		{"shell empty command", func(p *Pipeline) { act(p, "vacuum").SQL, act(p, "vacuum").Shell = nil, &ShellActivity{} }, "activities.vacuum.shell.command", "is required"},
		{"shell command template", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").Shell = nil, &ShellActivity{Command: []string{"echo", "{{ .Foo }}"}}
		}, "activities.vacuum.shell.command.1", "unknown field .Foo"},
		{"shell env template", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").Shell = nil, &ShellActivity{Command: []string{"run"}, Env: map[string]string{"DAY": "{{ today }}"}}
		}, "activities.vacuum.shell.env.DAY", `unknown function "today"`},
		{"shell dir template", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").Shell = nil, &ShellActivity{Command: []string{"run"}, Dir: "/tmp/{{ .Params.dir }}"}
		}, "activities.vacuum.shell.dir", "unknown parameter .Params.dir"},
		{"s3_copy from scheme", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").S3Copy = nil, &S3CopyActivity{From: "https://x/y", To: "file:///tmp/y"}
		}, "activities.vacuum.s3_copy.from", "must start with s3:// or file://"},
		{"s3_copy to missing", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").S3Copy = nil, &S3CopyActivity{From: "s3://a/b"}
		}, "activities.vacuum.s3_copy.to", "is required"},
		{"s3_copy scheme from a parameter is checked after rendering", func(p *Pipeline) {
			p.Parameters["dest"] = "gs://elsewhere"
			act(p, "vacuum").SQL, act(p, "vacuum").S3Copy = nil, &S3CopyActivity{From: "s3://a/b", To: "{{ .Params.dest }}/x"}
		}, "activities.vacuum.s3_copy.to", `"{{ .Params.dest }}/x" must start with s3:// or file://`},
		{"emr_step template and cluster_id", func(p *Pipeline) { act(p, "parse_logs").EMRStep.ClusterID = "j-ABC123" }, "activities.parse_logs.emr_step", "not both"},
		{"emr_step neither template nor cluster_id", func(p *Pipeline) { act(p, "parse_logs").EMRStep.Template = "" }, "activities.parse_logs.emr_step", "set exactly one of template"},
		{"emr_step expected_duration not a duration", func(p *Pipeline) { act(p, "parse_logs").EMRStep.ExpectedDuration = "soon" }, "activities.parse_logs.emr_step.expected_duration", `"soon" is not a duration`},
		{"emr_step expected_duration zero", func(p *Pipeline) { act(p, "parse_logs").EMRStep.ExpectedDuration = "0s" }, "activities.parse_logs.emr_step.expected_duration", "longer than zero"},
		{"emr_step cluster id form", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Template, act(p, "parse_logs").EMRStep.ClusterID = "", "cluster-1"
		}, "activities.parse_logs.emr_step.cluster_id", "not an EMR cluster id"},
		{"emr_step no steps", func(p *Pipeline) { act(p, "parse_logs").EMRStep.Steps = nil }, "activities.parse_logs.emr_step.steps", "at least one step"},
		{"emr step with two kinds", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Steps[0].Spark = []string{"app.py"}
		}, "activities.parse_logs.emr_step.steps.0", "found streaming and spark"},
		{"emr step with no kind", func(p *Pipeline) { act(p, "parse_logs").EMRStep.Steps[0].Streaming = nil }, "activities.parse_logs.emr_step.steps.0", "set exactly one of command, streaming, spark, jar; none is set"},
		{"emr step name", func(p *Pipeline) { act(p, "parse_logs").EMRStep.Steps[0].Name = "" }, "activities.parse_logs.emr_step.steps.0.name", "is required"},
		{"emr action_on_failure", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Steps[0].ActionOnFailure = "CANCEL_AND_WAIT"
		}, "activities.parse_logs.emr_step.steps.0.action_on_failure", `"CANCEL_AND_WAIT" is not one of CONTINUE, TERMINATE_CLUSTER`},
		{"emr streaming input template", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Steps[0].Streaming.Input = []string{"s3://a/{{ ds .Start }", "s3://b/"}
		}, "activities.parse_logs.emr_step.steps.0.streaming.input.0", "template error"},
		{"emr streaming output scheme", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Steps[0].Streaming.Output = "/tmp/out"
		}, "activities.parse_logs.emr_step.steps.0.streaming.output", "must start with s3:// or file:// or hdfs://"},
		{"emr streaming mapper", func(p *Pipeline) { act(p, "parse_logs").EMRStep.Steps[0].Streaming.Mapper = "" }, "activities.parse_logs.emr_step.steps.0.streaming.mapper", "is required"},
		{"emr command args template", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Steps[0].Streaming = nil
			act(p, "parse_logs").EMRStep.Steps[0].Command = []string{"hive-script", "{{ .Params.script }}"}
		}, "activities.parse_logs.emr_step.steps.0.command.1", "unknown parameter .Params.script"},
		{"emr jar without jar", func(p *Pipeline) {
			act(p, "parse_logs").EMRStep.Steps[0].Streaming = nil
			act(p, "parse_logs").EMRStep.Steps[0].Jar = &JarStep{MainClass: "Main"}
		}, "activities.parse_logs.emr_step.steps.0.jar.jar", "is required"},
		{"redshift_copy connection and connections", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.Connection = "warehouse" }, "activities.load_clicks.redshift_copy", "not both"},
		{"redshift_copy no connection", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.Connections = nil }, "activities.load_clicks.redshift_copy", "set exactly one of connection and connections"},
		{"redshift_copy duplicate connection", func(p *Pipeline) {
			act(p, "load_clicks").RedshiftCopy.Connections = []string{"warehouse", "replica", "warehouse"}
		}, "activities.load_clicks.redshift_copy.connections.2", `connection "warehouse" is listed twice`},
		{"redshift_copy connection name", func(p *Pipeline) {
			act(p, "load_clicks").RedshiftCopy.Connections = []string{"ware-house"}
		}, "activities.load_clicks.redshift_copy.connections.0", `connection name "ware-house" must be a letter`},
		{"redshift_copy format", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.Format = "CSV" }, "activities.load_clicks.redshift_copy.format", `"CSV" is not one of csv, text, json, parquet`},
		{"redshift_copy insert_mode", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.InsertMode = "UPSERT" }, "activities.load_clicks.redshift_copy.insert_mode", `"UPSERT" is not one of TRUNCATE, APPEND, KEEP_EXISTING, OVERWRITE_EXISTING`},
		{"redshift_copy key_columns", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.KeyColumns = nil }, "activities.load_clicks.redshift_copy.key_columns", "insert_mode OVERWRITE_EXISTING needs key_columns"},
		{"redshift_copy table without schema", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.Table = "clicks" }, "activities.load_clicks.redshift_copy.table", "must be a schema-qualified table name"},
		{"redshift_copy from template", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.From = "s3://x/{{ .Start.Nope }}" }, "activities.load_clicks.redshift_copy.from", "can't evaluate field Nope"},
		{"redshift_copy iam_role", func(p *Pipeline) { act(p, "load_clicks").RedshiftCopy.IAMRole = "redshift-copy" }, "activities.load_clicks.redshift_copy.iam_role", "not an IAM role ARN"},
		{"sql connection", func(p *Pipeline) { act(p, "vacuum").SQL.Connection = "" }, "activities.vacuum.sql.connection", "is required"},
		{"sql no statements", func(p *Pipeline) { act(p, "vacuum").SQL.Statements = nil }, "activities.vacuum.sql.statements", "at least one statement"},
		{"sql statement template", func(p *Pipeline) {
			act(p, "vacuum").SQL.Statements = []string{"SELECT 1", "DELETE FROM t WHERE d < '{{ ds .Begin }}'"}
		}, "activities.vacuum.sql.statements.1", "unknown field .Begin"},
		{"check severity", func(p *Pipeline) { act(p, "check_clicks").Check.Severity = "error" }, "activities.check_clicks.check.severity", `"error" is not one of fail, warn`},
		{"check without a check", func(p *Pipeline) {
			c := act(p, "check_clicks").Check
			c.RowCount, c.Unique, c.NotNull = nil, nil, nil
		}, "activities.check_clicks.check", "set at least one of row_count, unique, not_null, freshness"},
		{"check row_count min over max", func(p *Pipeline) {
			act(p, "check_clicks").Check.RowCount = &RowCount{Min: int64p(10), Max: int64p(5)}
		}, "activities.check_clicks.check.row_count", "min 10 is greater than max 5"},
		{"check where template", func(p *Pipeline) { act(p, "check_clicks").Check.Where = "day = '{{ ds .start }}'" }, "activities.check_clicks.check.where", "unknown field .start"},
		{"check freshness max_age", func(p *Pipeline) { act(p, "check_freshness").Check.Freshness.MaxAge = "" }, "activities.check_freshness.check.freshness.max_age", "is required"},
		{"check table", func(p *Pipeline) { act(p, "check_freshness").Check.Table = "a.b.c" }, "activities.check_freshness.check.table", "schema-qualified"},
		{"stream_put neither", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").StreamPut = nil, &StreamPutActivity{Replication: "wh"}
		},
			"activities.vacuum.stream_put", "set exactly one of statements and load; none is set"},
		{"stream_put both", func(p *Pipeline) {
			act(p, "vacuum").SQL = nil
			act(p, "vacuum").StreamPut = &StreamPutActivity{Replication: "wh", Statements: []string{"SELECT 1"},
				Load: &StreamLoad{Table: "a.b", From: "s3://x/", Format: FormatCSV, InsertMode: InsertAppend}}
		}, "activities.vacuum.stream_put", "both are set"},
		{"stream_put replication name", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").StreamPut = nil, &StreamPutActivity{Replication: "..", Statements: []string{"SELECT 1"}}
		}, "activities.vacuum.stream_put.replication", "replication name"},
		{"stream_put statement template", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").StreamPut = nil, &StreamPutActivity{Replication: "wh", Statements: []string{"DELETE FROM a.b WHERE d = '{{ ds .Begin }}'"}}
		}, "activities.vacuum.stream_put.statements.0", "unknown field .Begin"},
		{"stream_put partition key too long", func(p *Pipeline) {
			act(p, "vacuum").SQL, act(p, "vacuum").StreamPut = nil, &StreamPutActivity{Replication: "wh", Statements: []string{"SELECT 1"}, PartitionKey: strings.Repeat("k", 257)}
		}, "activities.vacuum.stream_put.partition_key", "over Kinesis's limit of 256"},
		{"stream_put load keys", func(p *Pipeline) {
			act(p, "vacuum").SQL = nil
			act(p, "vacuum").StreamPut = &StreamPutActivity{Replication: "wh", Load: &StreamLoad{Table: "a.b", From: "s3://x/", Format: FormatCSV, InsertMode: InsertKeepExisting}}
		}, "activities.vacuum.stream_put.load.key_columns", "needs key_columns"},
		{"stream_put load from", func(p *Pipeline) {
			act(p, "vacuum").SQL = nil
			act(p, "vacuum").StreamPut = &StreamPutActivity{Replication: "wh", Load: &StreamLoad{Table: "a.b", From: "/tmp/x", Format: FormatCSV, InsertMode: InsertAppend}}
		}, "activities.vacuum.stream_put.load.from", "must start with s3:// or file://"},
		{"notify on_failure target", func(p *Pipeline) { p.Notify.OnFailure = []string{"data-alerts@example.com"} }, "notify.on_failure.0", "neither an SNS topic ARN"},
		{"notify sns arn of another service", func(p *Pipeline) {
			p.Notify.OnSuccess = []string{"arn:aws:sqs:eu-west-1:123456789012:q"}
		}, "notify.on_success.0", "neither an SNS topic ARN"},
		{"notify on_late after", func(p *Pipeline) { p.Notify.OnLate.After = "late" }, "notify.on_late.after", "is not a duration"},
		{"notify on_late targets", func(p *Pipeline) { p.Notify.OnLate.Targets = nil }, "notify.on_late.targets", "at least one target"},
		{"dag unknown dependency", func(p *Pipeline) { act(p, "load_clicks").DependsOn = []string{"parse_log"} }, "activities.load_clicks.depends_on", `depends on "parse_log", which is not an activity`},
		{"dag cycle", func(p *Pipeline) { act(p, "parse_logs").DependsOn = []string{"vacuum"} }, "activities.check_clicks.depends_on", "dependency cycle: check_clicks -> load_clicks -> parse_logs -> vacuum -> check_clicks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := workedPipeline()
			tc.edit(p)
			probs := ValidatePipeline(p)
			if len(probs) != 1 || probs[0].Path != tc.path || !strings.Contains(probs[0].Message, tc.fragment) {
				t.Fatalf("problems:\n%s\nwant exactly one at %s containing %q", Problems(probs).Error(), tc.path, tc.fragment)
			}
		})
	}
}

func TestValidatePipeline_ProblemsAreSortedByPath(t *testing.T) {
	p := workedPipeline()
	p.Name = ""
	p.Schedule.MaxActiveRuns = 0
	p.Activities["vacuum"].SQL.Connection = ""
	p.Defaults.Retries = -1
	probs := ValidatePipeline(p)
	var paths []string
	for _, pr := range probs {
		paths = append(paths, pr.Path)
	}
	want := "activities.vacuum.sql.connection defaults.retries name schedule.max_active_runs"
	if strings.Join(paths, " ") != want {
		t.Fatalf("paths %v, want %s", paths, want)
	}
}

func TestValidatePipeline_NilPipeline(t *testing.T) {
	if probs := ValidatePipeline(nil); len(probs) != 1 {
		t.Fatalf("problems %v", probs)
	}
}
