package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider"
)

const pipelineAddr = "sluice_pipeline.test"

// pipelineNow is the fixed clock of the pipeline tests: 7 daily intervals after
// 2026-11-18T00:00:00Z have ended.
var pipelineNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fixClock sets the provider's clock to pipelineNow for the test; the test may move it through
// the returned pointer (between steps, while the provider is idle).
func fixClock(t *testing.T) *time.Time {
	now := pipelineNow
	t.Cleanup(provider.SetClock(func() time.Time { return now }))
	return &now
}

func pipelineFileConfig(t *testing.T, dir, body string) string {
	return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`) +
		"\nresource \"sluice_pipeline\" \"test\" {\n" + body + "\n}\n"
}

func pipelineDocPath(dir, name string) string { return filepath.Join(dir, "pipelines", name+".json") }

// pipelineBody is a pipeline that uses every activity kind and most attributes; description and
// extra (more activities) vary between steps.
func pipelineBody(name, description, extra string) string {
	return fmt.Sprintf(`
  name        = %q
  description = %q
  owner       = "data-team@acme.example"
  schedule = {
    every   = "1d"
    start   = "2026-11-18T00:00:00Z"
    catchup = true
  }
  parameters = { bucket = "acme-logs" }
  defaults   = { retries = 2, retry_delay = "5m", timeout = "2h" }
  activities = {
    land = {
      wait_for = { s3_prefix_not_empty = "s3://{{ .Params.bucket }}/raw/{{ ds .Start }}/", poke_interval = "5m", timeout = "6h" }
      shell    = { command = ["echo", "{{ ds .Start }}"], env = { DAY = "{{ ds_nodash .Start }}" }, dir = "/tmp" }
    }
    stage = {
      depends_on = ["land"]
      s3_copy    = { from = "s3://{{ .Params.bucket }}/raw/{{ ds .Start }}/", to = "s3://{{ .Params.bucket }}/stage/{{ ds .Start }}/" }
    }
    parse = {
      depends_on = ["stage"]
      retries    = 1
      timeout    = "3h"
      emr_step = {
        cluster_id = "j-2AXXXXXXGAPLF"
        steps = [
          {
            name = "parse"
            streaming = {
              mapper  = "parse_logs.py"
              reducer = "aggregate.py"
              input   = ["s3://{{ .Params.bucket }}/stage/{{ ds .Start }}/"]
              output  = "s3://{{ .Params.bucket }}/csv/{{ ds .Start }}/"
              files   = ["s3://acme-code/parse_logs.py", "s3://acme-code/aggregate.py"]
            }
          },
          { name = "spark", spark = ["--deploy-mode", "cluster", "s3://acme-code/job.py"] },
          { name = "jar", action_on_failure = "CONTINUE", jar = { jar = "s3://acme-code/tool.jar", main_class = "com.acme.Tool", args = ["{{ ds .Start }}"] } },
          { name = "hive", command = ["hive", "-f", "s3://acme-code/q.hql"] },
        ]
      }
    }
    load = {
      depends_on = ["parse"]
      redshift_copy = {
        connections = ["warehouse", "replica"]
        table       = "analytics.clicks"
        from        = "s3://{{ .Params.bucket }}/csv/{{ ds .Start }}/"
        format      = "csv"
        insert_mode = "OVERWRITE_EXISTING"
        key_columns = ["click_id"]
        iam_role    = "arn:aws:iam::123456789012:role/redshift-copy"
        options     = ["IGNOREHEADER 1"]
      }
    }
    summarize = {
      depends_on = ["load"]
      wait_for   = { sql_returns_rows = { connection = "warehouse", sql = "SELECT 1 FROM analytics.clicks LIMIT 1" } }
      sql        = { connection = "warehouse", statements = ["DELETE FROM analytics.daily WHERE day = '{{ ds .Start }}'", "INSERT INTO analytics.daily SELECT 1"] }
    }
    qa = {
      depends_on = ["load"]
      check = {
        connection = "warehouse"
        table      = "analytics.clicks"
        where      = "ts >= '{{ ts .Start }}' AND ts < '{{ ts .End }}'"
        row_count  = { min = 1, max = 1000000 }
        unique     = ["click_id"]
        not_null   = ["ts"]
        freshness  = { column = "ts", max_age = "26h" }
      }
    }
%s
  }
  notify = {
    on_failure = ["arn:aws:sns:eu-west-1:123456789012:data-alerts"]
    on_late    = { after = "6h", targets = ["https://hooks.example.com/sluice"] }
  }
`, name, description, extra)
}

// checkPipelineDoc decodes the published document behind Terraform's back, checks its version
// against state and its content with want.
func checkPipelineDoc(dir, name string, want func(*definition.Pipeline) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		data, err := os.ReadFile(pipelineDocPath(dir, name))
		if err != nil {
			return err
		}
		return checkPublished(s, data, want)
	}
}

func checkPublished(s *terraform.State, data []byte, want func(*definition.Pipeline) error) error {
	p, err := definition.DecodePipeline(data)
	if err != nil {
		return fmt.Errorf("published document does not decode: %w", err)
	}
	rs, ok := s.RootModule().Resources[pipelineAddr]
	if !ok {
		return errors.New("resource not in state")
	}
	if got := rs.Primary.Attributes["version"]; got != p.Version {
		return fmt.Errorf("state version %s, published version %s", got, p.Version)
	}
	if got := rs.Primary.Attributes["definition_json"]; got != string(data) {
		return fmt.Errorf("state definition_json differs from the published bytes:\n%s\n%s", got, data)
	}
	if want == nil {
		return nil
	}
	return want(p)
}

func checkPipelineGone(dir, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, err := os.Stat(pipelineDocPath(dir, name)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still exists (err=%w)", pipelineDocPath(dir, name), err)
		}
		return nil
	}
}

// TestAccPipeline_Lifecycle: create (plan shows version, next_runs, backfill_runs), update,
// empty plan after apply, import of every attribute, destroy.
func TestAccPipeline_Lifecycle(t *testing.T) {
	clock := fixClock(t)
	dir := t.TempDir()
	const name = "daily_clicks"
	const extra = `    publish = { depends_on = ["qa", "summarize"], shell = { command = ["true"] } }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPipelineGone(dir, name),
		Steps: []resource.TestStep{
			{
				Config: pipelineFileConfig(t, dir, pipelineBody(name, "Daily clicks", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("version"), knownvalue.StringRegexp(sha256RE)),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(7)),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("next_runs"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("2026-11-25T00:00:00Z"), knownvalue.StringExact("2026-11-26T00:00:00Z"),
						knownvalue.StringExact("2026-11-27T00:00:00Z"), knownvalue.StringExact("2026-11-28T00:00:00Z"),
						knownvalue.StringExact("2026-11-29T00:00:00Z"),
					})),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("definition_json"), knownvalue.StringRegexp(regexp.MustCompile(`^\{"activities":.*"format":"sluice/pipeline.v1"`))),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("activities").AtMapKey("qa").AtMapKey("check").AtMapKey("severity"), knownvalue.StringExact("fail")),
				}},
				Check: checkPipelineDoc(dir, name, func(p *definition.Pipeline) error {
					if !p.Enabled || p.Schedule.Timezone != "UTC" || p.Schedule.MaxActiveRuns != 1 || !p.Schedule.Catchup {
						return fmt.Errorf("defaults not published: enabled %v schedule %+v", p.Enabled, p.Schedule)
					}
					if len(p.Activities) != 6 || p.Activities["parse"].EMRStep.Steps[0].Streaming.Reducer != "aggregate.py" {
						return fmt.Errorf("activities %v", p.Activities)
					}
					if rc := p.Activities["qa"].Check.RowCount; rc == nil || *rc.Min != 1 || *rc.Max != 1000000 {
						return fmt.Errorf("row_count %+v", rc)
					}
					if p.Defaults.Retries != 2 || *p.Activities["parse"].Retries != 1 || p.Activities["load"].RedshiftCopy.Connections[1] != "replica" {
						return fmt.Errorf("retries / connections not published")
					}
					return nil
				}),
			},
			{
				Config: pipelineFileConfig(t, dir, pipelineBody(name, "Daily clicks, published", extra)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(7)),
				}},
				Check: checkPipelineDoc(dir, name, func(p *definition.Pipeline) error {
					if p.Description != "Daily clicks, published" || p.Activities["publish"] == nil {
						return fmt.Errorf("update not published: %q", p.Description)
					}
					return nil
				}),
			},
			{
				// The same configuration again, a day later: nothing to do (next_runs is kept).
				PreConfig: func() { *clock = pipelineNow.Add(24 * time.Hour) },
				Config:    pipelineFileConfig(t, dir, pipelineBody(name, "Daily clicks, published", extra)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				PreConfig:         func() { *clock = pipelineNow },
				ResourceName:      pipelineAddr,
				ImportState:       true,
				ImportStateId:     name,
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccPipeline_Drift edits and deletes the published document behind Terraform's back.
func TestAccPipeline_Drift(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	const name = "drift"
	doc := pipelineDocPath(dir, name)
	config := pipelineFileConfig(t, dir, pipelineBody(name, "Daily clicks", ""))
	edit := func(change func(map[string]any)) func() { return editDocument(t, doc, change) }
	republished := checkPipelineDoc(dir, name, func(p *definition.Pipeline) error {
		if p.Owner != "data-team@acme.example" || p.Activities["load"].RedshiftCopy.InsertMode != "OVERWRITE_EXISTING" || !p.Enabled {
			return fmt.Errorf("not republished: owner %q", p.Owner)
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPipelineGone(dir, name),
		Steps: []resource.TestStep{
			{Config: config, Check: republished},
			{
				// Pretty-printed by hand, same content and version: not a change.
				PreConfig: edit(func(map[string]any) {}),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// Content edited by hand, version left stale: the plan shows an update, the apply
				// republishes.
				PreConfig: edit(func(m map[string]any) {
					m["owner"] = "someone-else"
					m["enabled"] = false
					m["activities"].(map[string]any)["load"].(map[string]any)["redshift_copy"].(map[string]any)["insert_mode"] = "APPEND"
				}),
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("owner"), knownvalue.StringExact("data-team@acme.example")),
				}},
				Check: republished,
			},
			{
				// Only the version edited: republished.
				PreConfig: edit(func(m map[string]any) { m["version"] = "sha256:0000" }),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionUpdate),
				}},
				Check: republished,
			},
			{
				// A field sluice-runner does not know: the runner would refuse it, so republish.
				PreConfig: edit(func(m map[string]any) { m["surprise"] = true }),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionUpdate),
				}},
				Check: republished,
			},
			{
				PreConfig: func() {
					if err := os.Remove(doc); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionCreate),
				}},
				Check: republished,
			},
		},
	})
}

// TestAccPipeline_Rename replaces the pipeline: the old document is deleted, the new one published.
func TestAccPipeline_Rename(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkPipelineGone(dir, "before"), checkPipelineGone(dir, "after")),
		Steps: []resource.TestStep{
			{Config: pipelineFileConfig(t, dir, pipelineBody("before", "x", "")), Check: checkPipelineDoc(dir, "before", nil)},
			{
				Config: pipelineFileConfig(t, dir, pipelineBody("after", "x", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(checkPipelineGone(dir, "before"), checkPipelineDoc(dir, "after", nil)),
			},
		},
	})
}

// minimalPipeline is a small valid pipeline; schedule and activities are HCL attribute bodies.
func minimalPipeline(schedule, activities string) string {
	return fmt.Sprintf(`
  name = "bad"
  schedule = {
%s
  }
  activities = {
%s
  }
`, schedule, activities)
}

const (
	dailySchedule = `    every = "1d"
    start = "2026-11-18T00:00:00Z"`
	oneShell = `    a = { shell = { command = ["true"] } }`
)

// wordsRE matches the words of s in order, whatever whitespace (line wrapping) is between them.
func wordsRE(parts ...string) *regexp.Regexp {
	var res []string
	for _, p := range parts {
		var words []string
		for _, w := range strings.Fields(p) {
			words = append(words, regexp.QuoteMeta(w))
		}
		res = append(res, strings.Join(words, `\s+`))
	}
	return regexp.MustCompile(`(?s)` + strings.Join(res, ".*"))
}

// TestAccPipeline_PlanTimeErrors: every invalid pipeline fails at plan time, naming the attribute.
func TestAccPipeline_PlanTimeErrors(t *testing.T) {
	dir := t.TempDir()
	copyAct := func(attrs string) string {
		return `    load = { redshift_copy = { table = "analytics.clicks", from = "s3://b/p/", ` + attrs + ` } }`
	}
	cases := []struct {
		name, schedule, activities, extra string
		want                              *regexp.Regexp
	}{
		{"unknown depends_on", dailySchedule, `    a = { depends_on = ["nope"], shell = { command = ["true"] } }`, "",
			wordsRE("activities.a.depends_on:", `activity "a" depends on "nope", which is not an activity`)},
		{"cycle", dailySchedule, `    a = { depends_on = ["b"], shell = { command = ["true"] } }
    b = { depends_on = ["a"], shell = { command = ["true"] } }`, "",
			wordsRE("activities.a.depends_on:", "dependency cycle: a -> b -> a")},
		{"no activity", dailySchedule, "", "", wordsRE("activities:", "a pipeline needs at least one activity")},
		{"two kinds", dailySchedule, `    a = {
      shell = { command = ["true"] }
      sql   = { connection = "warehouse", statements = ["SELECT 1"] }
    }`, "", wordsRE("activities.a:", "found shell and sql")},
		{"bad cron", `    cron  = "0 25 * * *"
    start = "2026-11-18T00:00:00Z"`, oneShell, "", wordsRE("schedule.cron:", `"0 25 * * *"`)},
		{"cron and every", `    cron  = "0 3 * * *"
    every = "1d"
    start = "2026-11-18T00:00:00Z"`, oneShell, "", wordsRE("schedule.cron:", "set exactly one of cron and every")},
		{"bad every", `    every = "1d12h"
    start = "2026-11-18T00:00:00Z"`, oneShell, "", wordsRE("schedule.every:", "mixes days with smaller units")},
		{"bad timezone", dailySchedule + `
    timezone = "Mars/Olympus_Mons"`, oneShell, "", wordsRE("schedule.timezone:", `"Mars/Olympus_Mons" is not an IANA time zone`)},
		{"start after end", dailySchedule + `
    end = "2026-11-01T00:00:00Z"`, oneShell, "", wordsRE("schedule.end:", "is not after start")},
		{"bad start", `    every = "1d"
    start = "yesterday"`, oneShell, "", wordsRE("schedule.start:", `"yesterday" is not an RFC 3339 time`)},
		{"bad duration", dailySchedule, oneShell, `  defaults = { timeout = "soon" }`, wordsRE("defaults.timeout:")},
		{"bad activity duration", dailySchedule, `    a = { timeout = "1 hour", shell = { command = ["true"] } }`, "", wordsRE("activities.a.timeout:")},
		{"template syntax", dailySchedule, `    a = { shell = { command = ["echo", "{{ ds .Start "] } }`, "", wordsRE("activities.a.shell.command.1:", "template")},
		{"template unknown field", dailySchedule, `    a = { shell = { command = ["echo", "{{ .Yesterday }}"] } }`, "", wordsRE("activities.a.shell.command.1:", "Yesterday")},
		{"template unknown function", dailySchedule, `    a = { shell = { command = ["echo", "{{ yesterday .Start }}"] } }`, "",
			wordsRE("activities.a.shell.command.1:", `unknown function "yesterday"`)},
		{"template unknown parameter", dailySchedule, `    a = { shell = { command = ["echo", "{{ .Params.nope }}"] } }`, "",
			wordsRE("activities.a.shell.command.1:", "unknown parameter .Params.nope; this pipeline declares no parameters")},
		{"insert_mode", dailySchedule, copyAct(`connection = "warehouse", format = "csv", insert_mode = "UPSERT"`), "",
			wordsRE("activities.load.redshift_copy.insert_mode:", `"UPSERT" is not one of TRUNCATE, APPEND, KEEP_EXISTING, OVERWRITE_EXISTING`)},
		{"format", dailySchedule, copyAct(`connection = "warehouse", format = "xml", insert_mode = "APPEND"`), "",
			wordsRE("activities.load.redshift_copy.format:", `"xml" is not one of csv, text, json, parquet`)},
		{"duplicate fan-out", dailySchedule, copyAct(`connections = ["warehouse", "replica", "warehouse"], format = "csv", insert_mode = "APPEND"`), "",
			wordsRE("activities.load.redshift_copy.connections.2:", `connection "warehouse" is listed twice`)},
		{"severity", dailySchedule, `    qa = { check = { connection = "warehouse", table = "a.b", not_null = ["id"], severity = "fatal" } }`, "",
			wordsRE("activities.qa.check.severity:", `"fatal" is not one of fail, warn`)},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			Config:      pipelineFileConfig(t, dir, minimalPipeline(c.schedule, c.activities)+c.extra),
			PlanOnly:    true,
			ExpectError: c.want,
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps:                    steps,
	})
}

// TestAccPipeline_CatchupPlan: backfill_runs counts every ended interval since start; without
// catchup it is 0.
func TestAccPipeline_CatchupPlan(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	hourly := func(catchup bool) string {
		return pipelineFileConfig(t, dir, minimalPipeline(fmt.Sprintf(`    every   = "1h"
    start   = "2026-11-18T00:00:00Z"
    catchup = %v`, catchup), oneShell))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:             hourly(true),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(7*24+10)),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("next_runs").AtSliceIndex(0), knownvalue.StringExact("2026-11-25T10:00:00Z")),
				}},
			},
			{
				Config:             hourly(false),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(0)),
				}},
			},
		},
	})
}

// TestPipeline_CatchupWarning: a plan that would start more than 24 catchup runs warns, naming
// the count (terraform-plugin-testing cannot see warnings, so ModifyPlan is called directly).
func TestPipeline_CatchupWarning(t *testing.T) {
	fixClock(t)
	ctx := context.Background()
	r := provider.NewPipelineResource()
	var sr fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx)
	config := func(start string) tftypes.Value {
		return tfValue(typ, map[string]any{
			"name": "hourly", "enabled": true,
			"schedule":   map[string]any{"every": "1h", "start": start, "timezone": "UTC", "catchup": true, "max_active_runs": 4},
			"defaults":   map[string]any{"retries": 0},
			"activities": map[string]any{"a": map[string]any{"shell": map[string]any{"command": []any{"true"}}}},
			"id":         tftypes.UnknownValue, "version": tftypes.UnknownValue, "definition_json": tftypes.UnknownValue,
			"next_runs": tftypes.UnknownValue, "backfill_runs": tftypes.UnknownValue,
		})
	}
	plan := tfsdk.Plan{Schema: sr.Schema, Raw: config("2026-11-24T00:00:00Z")}
	var diags diag.Diagnostics
	state := tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
	req := fwresource.ModifyPlanRequest{Plan: plan, State: state, Config: tfsdk.Config{Schema: sr.Schema, Raw: plan.Raw}}
	resp := fwresource.ModifyPlanResponse{Plan: plan}
	r.(fwresource.ResourceWithModifyPlan).ModifyPlan(ctx, req, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	var backfill int64
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("backfill_runs"), &backfill)...)
	if backfill != 34 { // 24 hours of 2026-11-24 and 10 of 2026-11-25
		t.Errorf("backfill_runs = %d, want 34", backfill)
	}
	warnings := resp.Diagnostics.Warnings()
	if len(warnings) != 1 || !strings.Contains(warnings[0].Detail(), "starts 34 runs") || !strings.Contains(warnings[0].Detail(), "4 at a time") {
		t.Fatalf("want one warning about 34 runs, got %v", warnings)
	}

	// 24 runs or fewer: no warning.
	plan.Raw = config("2026-11-24T10:00:00Z")
	resp = fwresource.ModifyPlanResponse{Plan: plan}
	req.Plan, req.Config.Raw = plan, plan.Raw
	r.(fwresource.ResourceWithModifyPlan).ModifyPlan(ctx, req, &resp)
	if len(resp.Diagnostics) != 0 || diags.HasError() {
		t.Fatalf("24 runs: want no diagnostics, got %v %v", resp.Diagnostics, diags)
	}
}

// TestAccPipeline_EMRTemplate: an emr_step.template must be published first. Missing, apply
// fails naming the activity and the fix; referring to a sluice_emr_template orders the publishing.
func TestAccPipeline_EMRTemplate(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	emrActivity := func(template string) string {
		return fmt.Sprintf(`    parse = {
      emr_step = {
        template = %s
        steps    = [{ name = "parse", command = ["echo", "{{ ds .Start }}"] }]
      }
    }`, template)
	}
	withTemplate := pipelineFileConfig(t, dir, minimalPipeline(dailySchedule, emrActivity("sluice_emr_template.small.name"))) + `
resource "sluice_emr_template" "small" {
  name            = "small"
  release_label   = "emr-7.2.0"
  instance_groups = { master = { instance_type = "m5.xlarge" } }
  service_role    = "EMR_DefaultRole_V2"
  job_flow_role   = "EMR_EC2_DefaultRole"
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPipelineGone(dir, "bad"),
		Steps: []resource.TestStep{
			{
				Config:      pipelineFileConfig(t, dir, minimalPipeline(dailySchedule, emrActivity(`"missing_tpl"`))),
				ExpectError: wordsRE("EMR template not published", `activity "parse" runs on EMR template "missing_tpl"`, "emr-templates/missing_tpl.json", "template = sluice_emr_template.<x>.name"),
			},
			{
				Config: withTemplate,
				Check: checkPipelineDoc(dir, "bad", func(p *definition.Pipeline) error {
					if p.Activities["parse"].EMRStep.Template != "small" {
						return fmt.Errorf("template %q", p.Activities["parse"].EMRStep.Template)
					}
					return nil
				}),
			},
		},
	})
}

// TestAccPipeline_S3Registry publishes to an s3:// registry on the in-process S3 stand-in.
func TestAccPipeline_S3Registry(t *testing.T) {
	fixClock(t)
	stack := acctest.Current(t)
	bucket := stack.S3(t).NewBucket(t)
	client, err := stack.S3(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice/pipelines/on_s3.json"
	get := func() ([]byte, error) {
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	config := stack.ProviderConfigS3(t, fmt.Sprintf(`  registry = "s3://%s/sluice"`, bucket)) +
		"\nresource \"sluice_pipeline\" \"test\" {\n" + pipelineBody("on_s3", "on S3", "") + "\n}\n"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := get(); err == nil {
				return fmt.Errorf("s3://%s/%s still exists after destroy", bucket, key)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					data, err := get()
					if err != nil {
						return err
					}
					return checkPublished(s, data, func(p *definition.Pipeline) error {
						if p.Name != "on_s3" {
							return fmt.Errorf("name %q", p.Name)
						}
						return nil
					})
				},
			},
			{ResourceName: pipelineAddr, ImportState: true, ImportStateId: "on_s3", ImportStateVerify: true},
		},
	})
}

// tfValue builds a value of typ from Go values: maps for objects and maps (missing attributes
// are null), []any for lists, ints, strings, bools, or tftypes.UnknownValue.
func tfValue(typ tftypes.Type, v any) tftypes.Value {
	if v == nil {
		return tftypes.NewValue(typ, nil)
	}
	if v == tftypes.UnknownValue {
		return tftypes.NewValue(typ, tftypes.UnknownValue)
	}
	switch t := typ.(type) {
	case tftypes.Object:
		m := v.(map[string]any)
		vals := map[string]tftypes.Value{}
		for name, at := range t.AttributeTypes {
			vals[name] = tfValue(at, m[name])
		}
		return tftypes.NewValue(t, vals)
	case tftypes.Map:
		vals := map[string]tftypes.Value{}
		for k, e := range v.(map[string]any) {
			vals[k] = tfValue(t.ElementType, e)
		}
		return tftypes.NewValue(t, vals)
	case tftypes.List:
		var vals []tftypes.Value
		for _, e := range v.([]any) {
			vals = append(vals, tfValue(t.ElementType, e))
		}
		return tftypes.NewValue(t, vals)
	}
	if n, ok := v.(int); ok {
		return tftypes.NewValue(typ, big.NewFloat(float64(n)))
	}
	return tftypes.NewValue(typ, v)
}

// exampleConfig reads an example configuration and swaps its terraform and provider blocks for
// the test provider with a file:// registry in dir.
func exampleConfig(t *testing.T, dir, file string) string {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?s)\nterraform \{.*?\n\}\n`).ReplaceAllString(string(data), "\n")
	cfg = regexp.MustCompile(`(?s)\nprovider "sluice" \{.*?\n\}\n`).ReplaceAllString(cfg, "\n")
	return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`) + cfg
}

// TestAccPipeline_Examples applies the documented examples: the worked case (a week of catchup
// from its default start) and the resource example. Both publish an EMR template the pipeline
// names, so the apply also shows that the reference orders the publishing.
func TestAccPipeline_Examples(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	const worked = "sluice_pipeline.web_logs"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(checkPipelineGone(dir, "web_logs_daily"), checkPipelineGone(dir, "daily_clicks"),
			checkPipelineGone(dir, "raw_events")),
		Steps: []resource.TestStep{
			{
				Config: exampleConfig(t, dir, "worked-case/main.tf"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(worked, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(7)),
					plancheck.ExpectKnownValue(worked, tfjsonpath.New("next_runs"), knownvalue.ListSizeExact(5)),
					plancheck.ExpectKnownValue(worked, tfjsonpath.New("next_runs").AtSliceIndex(0), knownvalue.StringExact("2026-11-25T00:00:00Z")),
					// 3 m5.xlarge ($0.72 an hour in us-east-1) for the expected 20 minutes; 7 catchup runs.
					plancheck.ExpectKnownValue(worked, tfjsonpath.New("estimated_cost_per_run"), knownvalue.Float64Exact(0.24)),
					plancheck.ExpectKnownValue(worked, tfjsonpath.New("estimated_backfill_cost"), knownvalue.Float64Exact(1.68)),
				}},
				Check: func(*terraform.State) error {
					data, err := os.ReadFile(pipelineDocPath(dir, "web_logs_daily"))
					if err != nil {
						return err
					}
					p, err := definition.DecodePipeline(data)
					if err != nil {
						return err
					}
					if p.Activities["parse"].EMRStep.Template != "log_parser" || len(p.Activities) != 4 {
						return fmt.Errorf("worked case published %v", p.Activities)
					}
					return nil
				},
			},
			{
				Config: exampleConfig(t, dir, "resources/sluice_pipeline/resource.tf"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("sluice_pipeline.clicks", tfjsonpath.New("next_runs").AtSliceIndex(0),
						knownvalue.StringExact("2026-11-25T03:00:00+01:00")),
				}},
				Check: resource.ComposeTestCheckFunc(checkPipelineGone(dir, "web_logs_daily"),
					func(*terraform.State) error {
						data, err := os.ReadFile(pipelineDocPath(dir, "raw_events"))
						if err != nil {
							return err
						}
						p, err := definition.DecodePipeline(data)
						if err != nil {
							return err
						}
						if p.HasSchedule() || p.Trigger.SQS.MaxEvents != 200 || p.Trigger.After[0] != "daily_clicks" {
							return fmt.Errorf("raw_events published %+v", p.Trigger)
						}
						return nil
					}),
			},
		},
	})
}
