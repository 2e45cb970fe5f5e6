package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider/validate"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

var (
	_ resource.Resource                   = (*pipelineResource)(nil)
	_ resource.ResourceWithConfigure      = (*pipelineResource)(nil)
	_ resource.ResourceWithImportState    = (*pipelineResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*pipelineResource)(nil)
	_ resource.ResourceWithValidateConfig = (*pipelineResource)(nil)
)

// now is the provider's clock for next_runs, backfill_runs and the catchup warning.
var (
	nowMu sync.RWMutex
	now   = time.Now
)

func clock() time.Time {
	nowMu.RLock()
	defer nowMu.RUnlock()
	return now()
}

// SetClock makes the provider read the time from f (next_runs, backfill_runs, the catchup
// warning) until the returned function restores the real clock. Acceptance tests use it to fix
// "now"; nothing else should.
func SetClock(f func() time.Time) (restore func()) {
	nowMu.Lock()
	defer nowMu.Unlock()
	prev := now
	now = f
	return func() {
		nowMu.Lock()
		defer nowMu.Unlock()
		now = prev
	}
}

// Plan-time numbers.
const (
	// nextRunsCount is how many interval starts next_runs shows.
	nextRunsCount = 5
	// catchupWarnRuns is the backfill size above which the plan warns.
	catchupWarnRuns = 24
)

// NewPipelineResource is the sluice_pipeline resource.
func NewPipelineResource() resource.Resource { return &pipelineResource{} }

type pipelineResource struct {
	data *providerData
}

func (r *pipelineResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline"
}

const templatedNote = " Templated: Go `text/template` with `.Start`, `.End`, `.Params`, `.Pipeline`, `.RunID`, `.Event` and the functions in the *Writing pipelines* guide, checked at plan time."

func (r *pipelineResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	str := func(required bool, desc string) schema.StringAttribute {
		return schema.StringAttribute{Required: required, Optional: !required, MarkdownDescription: desc}
	}
	list := func(required bool, desc string) schema.ListAttribute {
		return schema.ListAttribute{ElementType: types.StringType, Required: required, Optional: !required, MarkdownDescription: desc}
	}
	duration := func(desc string) schema.StringAttribute {
		return str(false, desc+" A duration such as `30s`, `15m`, `1h`, `1h30m` or `1d` (a day is 24 hours).")
	}
	connection := func(desc string) schema.StringAttribute {
		return str(true, desc+" A connection **name** (`"+definition.ConnectionNamePattern+"`), never a secret: each runner resolves it from its own configuration, e.g. `SLUICE_CONN_WAREHOUSE`.")
	}
	table := str(true, "Schema-qualified table, `schema.table`, e.g. `analytics.clicks`."+templatedNote)

	resp.Schema = schema.Schema{
		MarkdownDescription: "An ETL pipeline — a DAG of activities on a schedule — published to the provider's `registry` as `" + registry.PipelinesPrefix +
			"<name>.json` (format `" + definition.FormatPipeline + "`) for `sluice-runner` to execute. Everything is written in HCL and checked at plan time: " +
			"the DAG (unknown `depends_on`, cycles), the schedule (cron, `every`, time zone, start and end), durations, templates (syntax, fields, " +
			"functions, parameters) and enumerations. The plan shows the exact document (`definition_json`), its `version`, the next runs and how many " +
			"past runs catchup would start. Publishing starts nothing by itself; `enabled = false` publishes a pipeline the runner does not schedule.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The pipeline name.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Pipeline name: " + nameRuleMarkdown + ". It is the registry key (`" +
					registry.PipelinesPrefix + "<name>.json`). Changing it replaces the pipeline: the old document is deleted and the new one published, " +
					"and the runner treats it as a new pipeline (its run history stays with the old name).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{validate.Name("pipeline")},
			},
			"description": str(false, "What the pipeline does, shown by `sluice-runner status`."),
			"owner":       str(false, "Who is responsible for the pipeline, e.g. a team or an e-mail address; shown in status and alerts."),
			"enabled": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Whether the runner schedules the pipeline. Default `true`. A disabled pipeline is still published and validated, " +
					"and can be run by hand; unlike `aws_datapipeline`, publishing never has to activate it.",
			},
			"schedule": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Which data intervals the pipeline processes. Intervals are `[start, end)`; a run starts when its interval ends " +
					"(the run for 2026-03-01 starts at 2026-03-02T00:00). Set exactly one of `cron` and `every`. A pipeline has a `schedule`, a `trigger`, or both.",
				Attributes: map[string]schema.Attribute{
					"cron": str(false, "A 5-field cron expression (minute hour day-of-month month day-of-week), evaluated on local days and wall clocks in `timezone`, "+
						"e.g. `0 3 * * *`; `7` is Sunday as well as `0`, and `"+strings.Join(definition.CronMacros(), "`, `")+"` stand for their 5-field forms. "+
						"Each firing time starts an interval that ends at the next one. Across DST, a time that does not exist fires at the moment the clocks jump "+
						"(fixed times such as `30 2 * * *`) or is skipped (wildcard minutes or hours such as `0 * * * *`), and a time that occurs twice fires once "+
						"(fixed times) or twice (wildcard), so every calendar day keeps its run and an hourly schedule has 24 hours a day of one-hour intervals. "+
						"A spec that can never fire (`0 0 31 2 *`) is refused."),
					"every": str(false, "A fixed period aligned to `start`, e.g. `15m`, `1h`, `1d`: intervals are start, start+every, … Whole days are "+
						"calendar days in `timezone` (a DST day is 23 or 25 hours): the start's wall-clock time each day, its first occurrence when it occurs twice, "+
						"moved forward by the gap when it does not exist (02:30 → 03:30). Days cannot be mixed with smaller units (`36h`, not `1d12h`). At least `1m`."),
					"start": str(true, "Start of the first interval, RFC 3339, e.g. `2026-03-01T00:00:00Z`."),
					"end":   str(false, "End of the schedule, RFC 3339: the last interval is the last one that ends at or before it. Unset, the schedule never ends."),
					"timezone": schema.StringAttribute{
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(defaultTimezone),
						MarkdownDescription: "IANA time zone the schedule is evaluated in, e.g. `Europe/Berlin`. Default `UTC`. `Local` is refused: a schedule must mean the same on every machine.",
					},
					"catchup": schema.BoolAttribute{
						Optional: true,
						Computed: true,
						Default:  booldefault.StaticBool(false),
						MarkdownDescription: "Whether publishing runs every interval that has already ended since `start` (a backfill). Default `false`: a past " +
							"`start` runs only the latest ended interval, and older ones only when asked for with `sluice-runner backfill`. The plan shows " +
							"the count in `backfill_runs` and warns above " + fmt.Sprint(catchupWarnRuns) + ".",
					},
					"max_active_runs": schema.Int64Attribute{
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(defaultMaxActiveRuns),
						MarkdownDescription: "How many runs of the pipeline may be active at once, e.g. while catching up. Default `1`.",
					},
				},
			},
			"trigger": pipelineTriggerAttribute(str, list, duration),
			"parameters": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Values templates use as `.Params.<name>`, e.g. `{ bucket = \"acme-logs\" }`. Names match `" + definition.ParameterNamePattern +
					"`; a template naming an undeclared parameter is an error at plan time. Not for secrets: the document is readable by every runner.",
			},
			"defaults": schema.SingleNestedAttribute{
				Optional: true,
				Computed: true,
				Default: objectdefault.StaticValue(types.ObjectValueMust(pipelineDefaultsAttrTypes, map[string]attr.Value{
					"retries": types.Int64Value(0), "retry_delay": types.StringNull(), "timeout": types.StringNull(),
				})),
				MarkdownDescription: "Settings every activity gets unless it sets its own.",
				Attributes: map[string]schema.Attribute{
					"retries": schema.Int64Attribute{
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(0),
						MarkdownDescription: "How many times a failed activity is retried. Default `0`.",
					},
					"retry_delay": duration("First delay before a retry; later retries back off exponentially with jitter, capped. Unset, the runner's default."),
					"timeout":     duration("How long one attempt of an activity may run before it is stopped and counts as failed. Unset, no limit."),
				},
			},
			"activities": schema.MapNestedAttribute{
				Required: true,
				MarkdownDescription: "The activities, keyed by activity id (`" + definition.ActivityIDPattern + "`). Each sets exactly one of " +
					quotedList(definition.ActivityKinds()) + ". `depends_on` makes the DAG; it must name activities of this pipeline and have no cycles.",
				NestedObject: schema.NestedAttributeObject{Attributes: pipelineActivityAttributes(str, list, duration, connection, table)},
			},
			"notify": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Where to send messages about runs. A target is an SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:TOPIC`) or an `http(s)` webhook URL; " +
					"messages name the pipeline's `owner`.",
				Attributes: map[string]schema.Attribute{
					"on_failure": list(false, "Targets told when a run fails."),
					"on_success": list(false, "Targets told when a run succeeds."),
					"on_late": schema.SingleNestedAttribute{
						Optional:            true,
						MarkdownDescription: "Tell targets when a scheduled run has not succeeded `after` its interval ended, e.g. for a freshness SLA. Backfills and manual runs are not checked.",
						Attributes: map[string]schema.Attribute{
							"after":   schema.StringAttribute{Required: true, MarkdownDescription: "How long after the interval's end a run is late, e.g. `6h`."},
							"targets": list(true, "Targets told when a run is late."),
						},
					},
				},
			},
			"version": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Version of the published document: `sha256:` and the hash of its canonical JSON. Shown at plan time; it changes exactly " +
					"when the published content changes.",
			},
			"definition_json": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The exact bytes published to the registry (canonical JSON, keys sorted, `version` included), shown at plan time. " +
					"After someone edits the document by hand, it shows what is in the registry until the next apply publishes the configuration again.",
			},
			"next_runs": schema.ListAttribute{
				ElementType: types.StringType,
				Computed:    true,
				MarkdownDescription: fmt.Sprintf("Starts of the next %d intervals whose run has not started yet (RFC 3339, in the schedule's time zone); the "+
					"first may be the interval in progress. Computed at plan time when the pipeline is created and whenever `version` changes; otherwise "+
					"the value from the last change is kept, so the passing of time alone never shows as a diff.", nextRunsCount),
			},
			"backfill_runs": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "How many runs publishing the pipeline starts for past intervals: with `catchup`, every interval that has ended since " +
					"`start`, otherwise `0` (at most `max_active_runs` run at once). Computed at plan time like `next_runs`: on create and whenever " +
					"`version` changes, otherwise kept. The plan warns above " + fmt.Sprint(catchupWarnRuns) + ".",
			},
			"estimated_cost_per_run": schema.Float64Attribute{
				Computed: true,
				MarkdownDescription: "What one run costs on EMR: every `emr_step` activity on a `template` starts a transient cluster, counted at the template's " +
					"`estimated_cost_per_hour` for the activity's `expected_duration`, with EMR's one-minute minimum per cluster. Activities on an existing " +
					"cluster (`cluster_id`) add nothing (that cluster costs the same with or without the run); other kinds run on the runner or on Redshift " +
					"and are not counted: a pipeline without `emr_step` costs `0`. Retries are not counted. Null when an `emr_step` on a template has no " +
					"`expected_duration`." + costDescriptionSuffix,
			},
			"estimated_backfill_cost": schema.Float64Attribute{
				Computed: true,
				MarkdownDescription: "What the runs publishing the pipeline starts for past intervals cost: `backfill_runs` × `estimated_cost_per_run`. " +
					"Computed with `backfill_runs`." + costDescriptionSuffix,
			},
		},
	}
}

var pipelineDefaultsAttrTypes = map[string]attr.Type{"retries": types.Int64Type, "retry_delay": types.StringType, "timeout": types.StringType}

func pipelineActivityAttributes(
	str func(bool, string) schema.StringAttribute,
	list func(bool, string) schema.ListAttribute,
	duration func(string) schema.StringAttribute,
	connection func(string) schema.StringAttribute,
	table schema.StringAttribute,
) map[string]schema.Attribute {
	location := func(desc string) schema.StringAttribute {
		return str(true, desc+" An `s3://` or `file://` location."+templatedNote)
	}
	nested := func(desc string, attrs map[string]schema.Attribute) schema.SingleNestedAttribute {
		return schema.SingleNestedAttribute{Optional: true, MarkdownDescription: desc, Attributes: attrs}
	}
	return map[string]schema.Attribute{
		"depends_on": list(false, "Ids of the activities that must succeed first. Unset, the activity starts when its run starts."),
		"retries":    schema.Int64Attribute{Optional: true, MarkdownDescription: "How many times the activity is retried; unset, `defaults.retries`."},
		"timeout":    duration("How long one attempt may run; unset, `defaults.timeout`."),
		"wait_for": nested("A precondition poked until it holds or times out before the activity runs. Set exactly one of `s3_key_exists`, `s3_prefix_not_empty`, `sql_returns_rows` and `pipeline`.",
			map[string]schema.Attribute{
				"s3_key_exists":       str(false, "Holds when the object exists; an `s3://` or `file://` location."+templatedNote),
				"s3_prefix_not_empty": str(false, "Holds when at least one object is under the prefix; an `s3://` or `file://` location."+templatedNote),
				"sql_returns_rows": nested("Holds when the query returns at least one row.", map[string]schema.Attribute{
					"connection": connection("Connection the query runs on."),
					"sql":        str(true, "The query, e.g. `SELECT 1 FROM staging.loads WHERE day = '{{ ds .Start }}'`."+templatedNote),
				}),
				"pipeline": nested("Holds when another pipeline of the same runner state database has succeeded runs that together cover "+
					"the interval `[start, end)` — by default this run's own interval — e.g. a daily report waiting for the hourly loads of its day.",
					map[string]schema.Attribute{
						"name":  str(true, "The upstream pipeline's name."),
						"start": str(false, "Start of the interval to cover, RFC 3339, e.g. `{{ add_days -1 .Start | ts }}`. Unset, this run's interval start."+templatedNote),
						"end":   str(false, "End of the interval to cover, RFC 3339. Unset, this run's interval end."+templatedNote),
					}),
				"poke_interval": duration("First wait between pokes; it backs off. Unset, the runner's default."),
				"timeout":       duration("How long to wait before the activity fails. Unset, until the activity's timeout."),
			}),
		definition.KindShell: nested("Run a process on the runner's machine.", map[string]schema.Attribute{
			"command": list(true, "The program and its arguments (argv, no shell), e.g. `[\"python3\", \"extract.py\", \"{{ ds .Start }}\"]`."+templatedNote),
			"env": schema.MapAttribute{ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Environment variables added to the runner's." + templatedNote},
			"dir": str(false, "Working directory. Unset, the runner's."+templatedNote),
		}),
		definition.KindS3Copy: nested("Copy an object or a prefix between `s3://` and `file://` locations.", map[string]schema.Attribute{
			"from": location("Source object or prefix (ending in `/`)."),
			"to":   location("Destination object or prefix."),
		}),
		definition.KindEMRStep: nested("Run steps on EMR: on a transient cluster started from a published EMR template (always terminated, even when "+
			"the run is aborted) or on an existing cluster. Set exactly one of `template` and `cluster_id`.", map[string]schema.Attribute{
			"template": str(false, "Name of a published EMR template. Write `template = sluice_emr_template.<x>.name`: the reference makes Terraform "+
				"publish the template before the pipeline, and apply checks that it is in the registry."),
			"cluster_id": str(false, "Id of an existing cluster, e.g. `j-2AXXXXXXGAPLF`; the runner adds steps and never terminates it."),
			"expected_duration": duration("How long the steps are expected to take, from the cluster's start to its end, e.g. `45m`: what " +
				"`estimated_cost_per_run` counts a transient cluster for (at least a minute, EMR's minimum). Published with the pipeline, so " +
				"`sluice-runner status` shows the estimate next to what runs really cost. Unset, the run's cost is not estimated."),
			"steps": schema.ListNestedAttribute{
				Required:            true,
				MarkdownDescription: "The steps, run in order. Each sets exactly one of `command`, `streaming`, `spark` and `jar`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": str(true, "Step name, shown in the EMR console."),
					"action_on_failure": str(false, "What EMR does when the step fails: "+quotedList(definition.ActionsOnFailure())+
						". Unset: `TERMINATE_CLUSTER` on a transient cluster, `CONTINUE` on an existing one."),
					"command": list(false, "command-runner.jar arguments, e.g. `[\"hive\", \"-f\", \"s3://acme/q.hql\"]`."+templatedNote),
					"streaming": nested("A Hadoop streaming step: mapper | sort | reducer over the input.", map[string]schema.Attribute{
						"mapper":  str(true, "Mapper command, e.g. `parse_logs.py`."+templatedNote),
						"reducer": str(false, "Reducer command; unset, map-only."+templatedNote),
						"input":   list(true, "Input locations (`s3://`, `file://` or `hdfs://`)."+templatedNote),
						"output":  str(true, "Output location (`s3://`, `file://` or `hdfs://`); it must not exist yet."+templatedNote),
						"files":   list(false, "Files shipped to the nodes (`-files`), e.g. the mapper script."+templatedNote),
					}),
					"spark": list(false, "spark-submit arguments, e.g. `[\"--deploy-mode\", \"cluster\", \"s3://acme/job.py\"]`."+templatedNote),
					"jar": nested("Run a JAR's main class.", map[string]schema.Attribute{
						"jar":        str(true, "Location of the JAR."+templatedNote),
						"main_class": str(false, "Main class; unset, the JAR manifest's."),
						"args":       list(false, "Arguments."+templatedNote),
					}),
				}},
			},
		}),
		definition.KindRedshiftCopy: nested("Load files into a table with COPY, on one connection or fanned out to several (replicas). Every insert mode "+
			"but `APPEND` is idempotent on retry: the load goes through a staging table in one transaction. Set exactly one of `connection` and `connections`.",
			map[string]schema.Attribute{
				"connection":  str(false, "Connection to load into. A connection name (`"+definition.ConnectionNamePattern+"`) the runner resolves; never a secret."),
				"connections": list(false, "Connections to load into, one per replica, each named once."),
				"table":       table,
				"from":        location("Files to load."),
				"format":      str(true, "File format: "+quotedList(definition.CopyFormats())+"."),
				"insert_mode": str(true, "How rows are added: "+quotedList(definition.InsertModes())+". `TRUNCATE` replaces the table's rows, `APPEND` adds them, "+
					"`KEEP_EXISTING` adds rows whose `key_columns` are new, `OVERWRITE_EXISTING` replaces rows with the same key and adds new ones."),
				"key_columns": list(false, "Columns that identify a row; required by `KEEP_EXISTING` and `OVERWRITE_EXISTING`."),
				"iam_role":    str(false, "IAM role ARN Redshift assumes to read the files, e.g. `arn:aws:iam::123456789012:role/redshift-copy`."),
				"options":     list(false, "Extra COPY options, e.g. `[\"IGNOREHEADER 1\", \"TIMEFORMAT 'auto'\"]`."),
			}),
		definition.KindSQL: nested("Run SQL statements on a connection, in one transaction.", map[string]schema.Attribute{
			"connection": connection("Connection the statements run on."),
			"statements": list(true, "The statements, run in order."+templatedNote),
		}),
		definition.KindStreamPut: nested("Put changes into a `sluice_stream_replication`'s stream instead of running them on each replica: every "+
			"replica's subscriber applies them, in order, and a replica that is down applies them when it returns. Each change goes in a "+
			"`sluice/change.v1` envelope whose id is the same for every attempt of the activity in a run, so a change put twice by a retried "+
			"attempt is applied once. Set exactly one of `statements` and `load`.", map[string]schema.Attribute{
			"replication": str(true, "Name of a published `sluice_stream_replication` whose `format` is `statements`. Write "+
				"`replication = sluice_stream_replication.<x>.name` so that Terraform publishes it first."),
			"statements": list(false, "SQL put as one change each, in order (DDL or DML)."+templatedNote),
			"load": nested("A load put as one change: the files under `from` stay where they are, and the change carries their list (a "+
				"`sluice/load.v1` manifest) for every subscriber to COPY into its own replica.", map[string]schema.Attribute{
				"table":       table,
				"from":        location("Files to load: an object or a prefix."),
				"format":      str(true, "File format: "+quotedList(definition.CopyFormats())+"."),
				"insert_mode": str(true, "How rows are added: "+quotedList(definition.InsertModes())+", as for `redshift_copy`."),
				"key_columns": list(false, "Columns that identify a row; required by `KEEP_EXISTING` and `OVERWRITE_EXISTING`."),
				"options":     list(false, "Extra COPY options, e.g. `[\"IGNOREHEADER 1\"]`."),
			}),
			"partition_key": str(false, "Kinesis partition key: changes with one key are applied in the order they were put. Unset: the "+
				"replication's name, so every change of the replication is in one order (one shard)."+templatedNote),
		}),
		definition.KindExport: nested("Write the rows of a query to S3: on PostgreSQL and MySQL the runner streams them into one object; on Redshift "+
			"an `UNLOAD` writes them (with `CLEANPATH`, so a prefix holds only this run's files). Every attempt of an interval writes the same "+
			"location, replacing what an earlier one wrote.", map[string]schema.Attribute{
			"connection": connection("Connection the query runs on (PostgreSQL, Redshift or MySQL)."),
			"query":      str(true, "One `SELECT`, e.g. `SELECT * FROM shop.orders WHERE day = '{{ ds .Start }}'`."+templatedNote),
			"to": location("Where the rows go: an object, or a prefix ending in `/` (the runner writes `part-00000.csv`, `.json`, " +
				"plus `.gz` when compressed; Redshift its own part files)."),
			"format": str(true, "Output format: "+quotedList(definition.ExportFormats())+" (JSON lines: one object per row, values as "+
				"the database's text, NULL as null)."),
			"gzip":     schema.BoolAttribute{Optional: true, MarkdownDescription: "Compress the output with gzip."},
			"header":   schema.BoolAttribute{Optional: true, MarkdownDescription: "Write the column names as the first line (`csv` only)."},
			"iam_role": str(false, "IAM role ARN Redshift assumes to write to S3 (`UNLOAD`); required on Redshift."),
		}),
		definition.KindCheck: nested("A QA check on a table. Set at least one of `row_count`, `unique`, `not_null` and `freshness`.", map[string]schema.Attribute{
			"connection": connection("Connection the check queries."),
			"table":      table,
			"where":      str(false, "Restricts the checked rows, e.g. to the run's interval: `ts >= '{{ ts .Start }}' AND ts < '{{ ts .End }}'`."+templatedNote),
			"row_count": nested("Bounds on the number of rows; an unset bound is open.", map[string]schema.Attribute{
				"min": schema.Int64Attribute{Optional: true, MarkdownDescription: "Fewest rows allowed."},
				"max": schema.Int64Attribute{Optional: true, MarkdownDescription: "Most rows allowed."},
			}),
			"unique":   list(false, "Columns whose values (together) must not repeat."),
			"not_null": list(false, "Columns that must not be NULL."),
			"freshness": nested("The newest value of a timestamp column is at most `max_age` old.", map[string]schema.Attribute{
				"column":  str(true, "Timestamp column."),
				"max_age": schema.StringAttribute{Required: true, MarkdownDescription: "Largest allowed age, e.g. `26h`."},
			}),
			"severity": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(definition.SeverityFail),
				MarkdownDescription: "What a failed check does: " + quotedList(definition.Severities()) + ". Default `" + definition.SeverityFail +
					"`: the run fails; `" + definition.SeverityWarn + "` records and notifies but lets the run succeed.",
			},
		}),
	}
}

func (r *pipelineResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the whole pipeline at plan time once every value it needs is known.
func (r *pipelineResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	p, err := pipelineFromValue(req.Config.Raw)
	if errors.Is(err, errPipelineUnknown) {
		return // checked again at plan time with the values, and before publishing
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid pipeline", err.Error())
		return
	}
	addPipelineProblems(req.Config.Schema.Type().TerraformType(ctx), definition.ValidatePipeline(p), &resp.Diagnostics)
}

// addPipelineProblems reports problems at their attribute paths.
func addPipelineProblems(typ tftypes.Type, problems []definition.Problem, diags *diag.Diagnostics) {
	for _, p := range problems {
		detail := p.Message
		if p.Path != "" {
			detail = p.Path + ": " + p.Message
		}
		if ap, ok := pipelineProblemPath(typ, p.Path); ok {
			diags.AddAttributeError(ap, "Invalid pipeline", detail)
		} else {
			diags.AddError("Invalid pipeline", detail)
		}
	}
}

// ModifyPlan computes what the plan shows: id, version, definition_json, next_runs and
// backfill_runs. next_runs and backfill_runs depend on the clock, so they are recomputed only on
// create and when the version changes; otherwise the state's values are kept.
func (r *pipelineResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	planUnknown := func() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("version"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("definition_json"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("next_runs"), types.ListUnknown(types.StringType))...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("backfill_runs"), types.Int64Unknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("estimated_cost_per_run"), types.Float64Unknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("estimated_backfill_cost"), types.Float64Unknown())...)
	}
	var name types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	if !name.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), name)...)
	}
	p, err := pipelineFromValue(req.Plan.Raw)
	if err != nil {
		if !errors.Is(err, errPipelineUnknown) {
			resp.Diagnostics.AddError("Invalid pipeline", err.Error())
		}
		planUnknown()
		return
	}
	if len(definition.ValidatePipeline(p)) > 0 {
		planUnknown() // ValidateConfig reports the problems
		return
	}
	doc, err := definition.Encode(p)
	if err != nil {
		resp.Diagnostics.AddError("Encoding pipeline failed", err.Error())
		return
	}
	r.data.checkDocumentSize("pipeline", p.Name, doc, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("version"), p.Version)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("definition_json"), string(doc))...)

	if !req.State.Raw.IsNull() {
		var stateVersion types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("version"), &stateVersion)...)
		if stateVersion.ValueString() == p.Version {
			var runs types.List
			var backfill types.Int64
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("next_runs"), &runs)...)
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("backfill_runs"), &backfill)...)
			if !runs.IsNull() && !backfill.IsNull() {
				resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("next_runs"), runs)...)
				resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("backfill_runs"), backfill)...)
				r.planEstimates(ctx, p, backfill, &resp.Plan, &resp.Diagnostics)
				return
			}
		}
	}
	runs, backfill, ok := pipelineRuns(p, &resp.Diagnostics)
	if !ok {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("next_runs"), runs)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("backfill_runs"), backfill)...)
	r.planEstimates(ctx, p, backfill, &resp.Plan, &resp.Diagnostics)
	if backfill.ValueInt64() > catchupWarnRuns {
		resp.Diagnostics.AddAttributeWarning(path.Root("schedule").AtName("catchup"), "Catchup starts many runs",
			fmt.Sprintf("Publishing pipeline %q with catchup starts %d runs for the intervals since %s, %d at a time (max_active_runs). "+
				"If that is not intended, move schedule.start closer to now, or set catchup = false and backfill what you need with "+
				"`sluice-runner backfill --from ... --to ...` (the sluice_pipeline_schedule data source lists the intervals).",
				p.Name, backfill.ValueInt64(), p.Schedule.Start, p.Schedule.MaxActiveRuns))
	}
}

// planEstimates sets estimated_cost_per_run and estimated_backfill_cost in the plan and warns
// when they cannot be estimated.
func (r *pipelineResource) planEstimates(ctx context.Context, p *definition.Pipeline, backfill types.Int64, plan *tfsdk.Plan, diags *diag.Diagnostics) {
	perRun, total, e, ok := r.estimates(ctx, p, backfill)
	if ok && r.data != nil {
		r.data.costs.warnUnestimated(diags, "estimated_cost_per_run", fmt.Sprintf("pipeline %q", p.Name), e)
	}
	diags.Append(plan.SetAttribute(ctx, path.Root("estimated_cost_per_run"), perRun)...)
	diags.Append(plan.SetAttribute(ctx, path.Root("estimated_backfill_cost"), total)...)
}

// estimates prices one run of p and its backfill_runs runs; ok is false when they cannot be
// computed yet (no provider data, backfill unknown), and both values are then unknown.
func (r *pipelineResource) estimates(ctx context.Context, p *definition.Pipeline, backfill types.Int64) (perRun, total types.Float64, e cost.Estimate, ok bool) {
	if r.data == nil || r.data.costs == nil || backfill.IsUnknown() {
		return types.Float64Unknown(), types.Float64Unknown(), e, false
	}
	var diags diag.Diagnostics
	var reg registry.Registry
	if r.data.registryConn != nil {
		reg = r.data.registry(ctx, &diags) // errors show when a template is looked up
	}
	c := r.data.costs
	e = c.table.PipelineRun(c.region, p, c.templates(ctx, reg))
	if diags.HasError() {
		for _, d := range diags.Errors() {
			e.Unestimated = append(e.Unestimated, d.Summary()+": "+d.Detail())
		}
	}
	return usd(e), usd(e.Scale(float64(backfill.ValueInt64()), "backfill")), e, true
}

// pipelineRuns computes next_runs and backfill_runs at the provider's clock.
func pipelineRuns(p *definition.Pipeline, diags *diag.Diagnostics) (types.List, types.Int64, bool) {
	if !p.HasSchedule() {
		// Only a trigger: no interval is due at any time.
		return stringList(nil), types.Int64Value(0), true
	}
	c, err := p.Schedule.Compile()
	if err != nil {
		diags.AddAttributeError(path.Root("schedule"), "Invalid pipeline", err.Error())
		return types.List{}, types.Int64{}, false
	}
	t := clock()
	backfill := 0
	if c.Catchup() {
		backfill = c.CatchupCount(t)
	}
	return stringList(nextRunStrings(c.NextRuns(t, nextRunsCount))), types.Int64Value(int64(backfill)), true
}

func (r *pipelineResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.publish(ctx, req.Plan, nil, &resp.State, &resp.Diagnostics)
}

func (r *pipelineResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.publish(ctx, req.Plan, &req.State, &resp.State, &resp.Diagnostics)
}

// publish checks the planned pipeline, checks that the EMR templates it names are published,
// publishes it and sets the state. prior is nil on create.
func (r *pipelineResource) publish(ctx context.Context, plan tfsdk.Plan, prior *tfsdk.State, state *tfsdk.State, diags *diag.Diagnostics) {
	p, err := pipelineFromValue(plan.Raw)
	if err != nil {
		diags.AddError("Invalid pipeline", err.Error())
		return
	}
	if problems := definition.ValidatePipeline(p); len(problems) > 0 {
		addPipelineProblems(plan.Schema.Type().TerraformType(ctx), problems, diags)
		return
	}
	reg := r.data.registry(ctx, diags)
	if diags.HasError() || reg == nil {
		return
	}
	key := registry.PipelineKey(p.Name)
	if prior == nil && !pipelineKeyFree(ctx, reg, key, p.Name, diags) {
		return
	}
	checkEMRTemplatesPublished(ctx, reg, p, diags)
	if diags.HasError() {
		return
	}
	doc, err := definition.Encode(p)
	if err != nil {
		diags.AddError("Encoding pipeline failed", err.Error())
		return
	}
	if err := reg.Put(ctx, key, doc); err != nil {
		diags.AddError("Publishing pipeline failed", fmt.Sprintf("Writing %s to registry %s: %v", key, reg.URL(), err))
		return
	}
	state.Raw = plan.Raw
	diags.Append(state.SetAttribute(ctx, path.Root("id"), p.Name)...)
	diags.Append(state.SetAttribute(ctx, path.Root("version"), p.Version)...)
	diags.Append(state.SetAttribute(ctx, path.Root("definition_json"), string(doc))...)
	var runs types.List
	diags.Append(plan.GetAttribute(ctx, path.Root("next_runs"), &runs)...)
	if runs.IsUnknown() || runs.IsNull() {
		runs, backfill, ok := pipelineRuns(p, diags)
		if ok {
			diags.Append(state.SetAttribute(ctx, path.Root("next_runs"), runs)...)
			diags.Append(state.SetAttribute(ctx, path.Root("backfill_runs"), backfill)...)
		}
	}
	var perRun types.Float64
	diags.Append(plan.GetAttribute(ctx, path.Root("estimated_cost_per_run"), &perRun)...)
	if perRun.IsUnknown() {
		var backfill types.Int64
		diags.Append(state.GetAttribute(ctx, path.Root("backfill_runs"), &backfill)...)
		perRun, total, _, ok := r.estimates(ctx, p, backfill)
		if !ok {
			perRun, total = types.Float64Null(), types.Float64Null()
		}
		diags.Append(state.SetAttribute(ctx, path.Root("estimated_cost_per_run"), perRun)...)
		diags.Append(state.SetAttribute(ctx, path.Root("estimated_backfill_cost"), total)...)
	}
}

// pipelineKeyFree refuses to publish over a pipeline this resource does not manage.
func pipelineKeyFree(ctx context.Context, reg registry.Registry, key, name string, diags *diag.Diagnostics) bool {
	_, err := reg.Get(ctx, key)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return true
	case err != nil:
		diags.AddError("Reading pipeline failed", fmt.Sprintf("Checking whether %s exists in registry %s: %v", key, reg.URL(), err))
	default:
		diags.AddAttributeError(path.Root("name"), "Pipeline already exists",
			fmt.Sprintf("Registry %s already has a pipeline named %q (%s). Choose another name, or import it: terraform import sluice_pipeline.<name> %s", reg.URL(), name, key, name))
	}
	return false
}

// checkEMRTemplatesPublished reports every emr_step.template that is not in the registry.
func checkEMRTemplatesPublished(ctx context.Context, reg registry.Registry, p *definition.Pipeline, diags *diag.Diagnostics) {
	for _, id := range sortedMapKeys(p.Activities) {
		a := p.Activities[id]
		if a == nil || a.EMRStep == nil || a.EMRStep.Template == "" {
			continue
		}
		tpl := a.EMRStep.Template
		key := registry.EMRTemplateKey(tpl)
		at := path.Root("activities").AtMapKey(id).AtName(definition.KindEMRStep).AtName("template")
		_, err := reg.Get(ctx, key)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			diags.AddAttributeError(at, "EMR template not published",
				fmt.Sprintf("activities.%s.emr_step.template: activity %q runs on EMR template %q, but registry %s has no %s. Declare it with a "+
					"sluice_emr_template resource and refer to it, template = sluice_emr_template.<x>.name, so that Terraform publishes the template "+
					"before the pipeline (or publish it first from the configuration that owns it).", id, id, tpl, reg.URL(), key))
		case err != nil:
			diags.AddAttributeError(at, "Reading EMR template failed", fmt.Sprintf("Checking %s in registry %s: %v", key, reg.URL(), err))
		}
	}
}

func (r *pipelineResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var name types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("name"), &name)...)
	if resp.Diagnostics.HasError() {
		return
	}
	doc, ok := readPublished(ctx, r.data, name.ValueString(), registry.PipelineKey, "pipeline", resp)
	if !ok {
		return
	}
	data := doc.Data
	var schedule types.Object
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("schedule"), &schedule)...)
	importing := schedule.IsNull()

	published, strictErr := definition.DecodePipeline(data)
	stale := false // the stored version is not what the provider would publish for the content
	switch {
	case strictErr == nil:
	case errors.Is(strictErr, definition.ErrVersionMismatch):
		resp.Diagnostics.AddWarning("Published pipeline was edited outside Terraform",
			fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, strictErr))
	default:
		var lenient definition.Pipeline
		if err := json.Unmarshal(data, &lenient); err != nil || lenient.Name == "" {
			if importing {
				resp.Diagnostics.AddError("Reading pipeline failed", fmt.Sprintf("%s in registry %s is not a readable pipeline: %v", doc.Key, doc.URL, strictErr))
				return
			}
			// Unreadable: keep the prior content and clear the version, so the plan shows an
			// update and the apply publishes a good document.
			resp.Diagnostics.AddWarning("Published pipeline is unreadable",
				fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, strictErr))
			resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("version"), "")...)
			return
		}
		resp.Diagnostics.AddWarning("Published pipeline is not valid for sluice-runner",
			fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, strictErr))
		published, stale = &lenient, true
	}

	var stateVersion types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("version"), &stateVersion)...)
	if !importing && !stale && published.Version == stateVersion.ValueString() {
		if prior, err := pipelineFromValue(req.State.Raw); err == nil {
			priorVersion, err1 := definition.VersionOf(prior)
			contentVersion, err2 := definition.VersionOf(published)
			if err1 == nil && err2 == nil && priorVersion == contentVersion {
				return // unchanged: keep the state exactly as it is
			}
		}
	}

	// Drift or import: the state becomes what is published, so the plan shows the difference.
	version := published.Version
	if stale {
		version = ""
	}
	computed := map[string]tftypes.Value{
		"id":              tftypes.NewValue(tftypes.String, name.ValueString()),
		"version":         tftypes.NewValue(tftypes.String, version),
		"definition_json": tftypes.NewValue(tftypes.String, string(data)),
	}
	var runs types.List
	var backfill types.Int64
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("next_runs"), &runs)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("backfill_runs"), &backfill)...)
	if runs.IsNull() || backfill.IsNull() {
		var d diag.Diagnostics
		if r, b, ok := pipelineRuns(published, &d); ok {
			runs, backfill = r, b
		} else {
			runs, backfill = types.ListValueMust(types.StringType, []attr.Value{}), types.Int64Value(0)
		}
	}
	perRun, total, _, ok := r.estimates(ctx, published, backfill)
	if !ok {
		perRun, total = types.Float64Null(), types.Float64Null()
	}
	typ := req.State.Schema.Type().TerraformType(ctx)
	v, err := valueFromPipeline(published, typ, computed)
	if err != nil {
		resp.Diagnostics.AddError("Reading pipeline failed", fmt.Sprintf("%s in registry %s: %v", doc.Key, doc.URL, err))
		return
	}
	resp.State.Raw = v
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("next_runs"), runs)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("backfill_runs"), backfill)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("estimated_cost_per_run"), perRun)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("estimated_backfill_cost"), total)...)
}

func (r *pipelineResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deletePublished(ctx, r.data, req.State, registry.PipelineKey, "pipeline", &resp.Diagnostics)
}

// ImportState imports a published pipeline by name: `terraform import sluice_pipeline.x daily_clicks`.
// Read then fills every attribute from the document.
func (r *pipelineResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importPublishedByName(ctx, req, resp, "pipeline", "sluice_pipeline.clicks daily_clicks",
		func(id string) error { return definition.ValidateName("pipeline", id) })
}
