package provider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// expectChange checks that the plan changes attr of addr from before to after (nil: null).
type expectChange struct {
	addr, attr    string
	before, after any
}

func (e expectChange) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != e.addr {
			continue
		}
		var before any
		if m, ok := rc.Change.Before.(map[string]any); ok {
			before = m[e.attr]
		}
		after := rc.Change.After.(map[string]any)[e.attr]
		if fmt.Sprint(before) != fmt.Sprint(e.before) || fmt.Sprint(after) != fmt.Sprint(e.after) {
			resp.Error = fmt.Errorf("%s.%s: plan changes %v -> %v, want %v -> %v", e.addr, e.attr, before, after, e.before, e.after)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", e.addr)
}

func costOf(addr, attr string, usd float64) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(addr, tfjsonpath.New(attr), knownvalue.Float64Exact(usd))
}

// TestAccKinesisStream_CostOneToNineShards is the quickstart's change: the plan for 1 → 9 shards
// shows the monthly cost before and after (730 × $0.015 = $10.95 → 9 × 730 × $0.015 = $98.55);
// declared traffic adds PUT payload units, 7-day retention its shard-hours; ON_DEMAND without
// traffic is null, with traffic priced per GB. After every apply the plan is empty (the
// framework's check): the estimate never diffs by itself.
func TestAccKinesisStream_CostOneToNineShards(t *testing.T) {
	name := randomName("acc-cost")
	cfg := func(body string) string { return streamConfig(t, "", fmt.Sprintf("  name = %q\n%s", name, body)) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{
				Config: cfg(`  shard_count = 1`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("estimated_monthly_cost"), knownvalue.Float64Exact(10.95)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{costOf(streamAddr, "estimated_monthly_cost", 10.95)},
			},
			{
				Config: cfg(`  shard_count = 9`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionUpdate),
					expectChange{streamAddr, "estimated_monthly_cost", 10.95, 98.55},
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps(2, 4, 8, 9)),
				}},
				Check: checkStream(t, name, "PROVISIONED", 9),
			},
			{
				// 4 shards: 4 × 730 × $0.015 = $43.80; 100 records/s of 35 KiB = 2 PUT payload
				// units each: 200 × 3,600 × 730 = 525.6 million × $0.014 = $7.3584. Only the
				// estimate's inputs change, so AWS is not called for them.
				Config: cfg(`
  shard_count                 = 4
  expected_records_per_second = 100
  average_record_bytes        = 35840`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectChange{streamAddr, "estimated_monthly_cost", 98.55, 51.1584},
				}},
			},
			{
				// Retention of 7 days: + 4 × 730 × $0.020 = $58.40.
				Config: cfg(`
  shard_count                 = 4
  retention_period            = 168
  expected_records_per_second = 100
  average_record_bytes        = 35840`),
				ConfigStateChecks: []statecheck.StateCheck{costOf(streamAddr, "estimated_monthly_cost", 109.5584)},
			},
			{
				Config: cfg(`  stream_mode = "ON_DEMAND"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectChange{streamAddr, "estimated_monthly_cost", 109.5584, nil},
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("estimated_monthly_cost"), knownvalue.Null()),
				},
			},
			{
				// 100 records/s of 2,500 bytes (3 KiB billed): $119.4252, as in the cost package's test.
				Config: cfg(`
  stream_mode                 = "ON_DEMAND"
  expected_records_per_second = 100
  average_record_bytes        = 2500`),
				ConfigStateChecks: []statecheck.StateCheck{costOf(streamAddr, "estimated_monthly_cost", 119.4252)},
			},
			{
				ResourceName:            streamAddr,
				ImportState:             true,
				ImportStateId:           name,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"expected_records_per_second", "average_record_bytes", "estimated_monthly_cost", "enforce_consumer_deletion", "timeouts", "reshard_steps"},
			},
		},
	})
}

func TestAccKinesisStream_CostInputsAreCheckedAtPlan(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: streamConfig(t, "", `
  name                        = "never-created"
  shard_count                 = 1
  expected_records_per_second = 100`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)average_record_bytes.*must be specified|Invalid Attribute Combination`),
			},
			{
				Config: streamConfig(t, "", `
  name                        = "never-created"
  shard_count                 = 1
  expected_records_per_second = 100
  average_record_bytes        = 0`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`average_record_bytes`),
			},
		},
	})
}

// TestAccProvider_PricesFile: a negotiated shard-hour of $0.01 makes 9 shards $65.70; a file
// that is missing or wrong is an error at plan time naming the attribute and the entry.
func TestAccProvider_PricesFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "negotiated.json")
	if err := os.WriteFile(good, []byte(`{"format":"sluice/prices.v1","prices":[
  {"region":"us-east-1","item":"kinesis.shard_hour","usd":0.01,"source":"contract ACME-2026","as_of":"2026-07-01"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"sluice/prices.v1","prices":[
  {"region":"us-east-1","item":"kinesis.shard_hour","usd":0.01,"as_of":"2026-07-01"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	name := randomName("acc-price")
	cfg := func(prices string) string {
		return acctest.Current(t).ProviderConfig(fmt.Sprintf("  prices = %q", prices)) +
			fmt.Sprintf("\nresource \"sluice_kinesis_stream\" \"test\" {\n  name = %q\n  shard_count = 9\n}\n", name)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{Config: cfg(filepath.Join(dir, "missing.json")), PlanOnly: true, ExpectError: wordsRE("Invalid price file", "missing.json")},
			{Config: cfg(bad), PlanOnly: true, ExpectError: wordsRE("Invalid price file", "kinesis.shard_hour in us-east-1: source is required")},
			{
				Config: cfg(good),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("estimated_monthly_cost"), knownvalue.Float64Exact(65.7)),
				}},
			},
		},
	})
}

const costPipelineAddr = "sluice_pipeline.daily"

// costPlatform is a template of one m5.xlarge master and core m5.xlarge nodes, a daily pipeline
// with catchup whose EMR step is expected to take 45 minutes, and a cost summary.
func costPlatform(t *testing.T, dir string, core int, expected string) string {
	expectedLine := ""
	if expected != "" {
		expectedLine = fmt.Sprintf("expected_duration = %q", expected)
	}
	return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`) + fmt.Sprintf(`
resource "sluice_emr_template" "small" {
  name            = "small"
  release_label   = "emr-7.2.0"
  instance_groups = {
    master = { instance_type = "m5.xlarge" }
    core   = { instance_type = "m5.xlarge", count = %d }
  }
  service_role  = "EMR_DefaultRole_V2"
  job_flow_role = "EMR_EC2_DefaultRole"
}

resource "sluice_pipeline" "daily" {
  name     = "daily_costs"
  schedule = {
    every   = "1d"
    start   = "2026-11-18T00:00:00Z"
    catchup = true
  }
  activities = {
    transform = {
      emr_step = {
        template = sluice_emr_template.small.name
        %s
        steps    = [{ name = "transform", command = ["spark-submit", "s3://acme/job.py"] }]
      }
    }
    extract = { shell = { command = ["true"] } }
  }
}

data "sluice_cost_estimate" "month" {
  items = {
    # try(): multiplying a null estimate is an error in Terraform; null keeps the item unestimated.
    daily_runs = try(sluice_pipeline.daily.estimated_cost_per_run * 30, null)
    backfill   = sluice_pipeline.daily.estimated_backfill_cost
  }
}
`, core, expectedLine)
}

// TestAccCost_TemplateAndPipeline: a template of 3 m5.xlarge costs 3 × ($0.192 + $0.048) = $0.72
// an hour and $0.012 a minimum (one-minute) run; a 45-minute run $0.54; catchup's 7 runs (days
// 2026-11-18 to 24 at the test clock) $3.78; a month of daily runs plus the backfill $19.98.
// Three more core nodes (6 instances) show in the same plan on the template ($1.44 an hour) and
// on the pipeline ($1.08 a run). Without expected_duration the run cost is null and so is the
// summary's total, which names the item.
func TestAccCost_TemplateAndPipeline(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	const tpl = "sluice_emr_template.small"
	const sum = "data.sluice_cost_estimate.month"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: costPlatform(t, dir, 2, "45m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(tpl, tfjsonpath.New("estimated_cost_per_hour"), knownvalue.Float64Exact(0.72)),
					plancheck.ExpectKnownValue(tpl, tfjsonpath.New("estimated_cost_per_minimum_run"), knownvalue.Float64Exact(0.012)),
					plancheck.ExpectKnownValue(costPipelineAddr, tfjsonpath.New("estimated_cost_per_run"), knownvalue.Float64Exact(0.54)),
					plancheck.ExpectKnownValue(costPipelineAddr, tfjsonpath.New("estimated_backfill_cost"), knownvalue.Float64Exact(3.78)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(costPipelineAddr, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(7)),
					costOf(sum, "total", 19.98),
					statecheck.ExpectKnownValue(sum, tfjsonpath.New("unestimated"), knownvalue.ListExact([]knownvalue.Check{})),
				},
			},
			{
				Config: costPlatform(t, dir, 5, "45m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectChange{tpl, "estimated_cost_per_hour", 0.72, 1.44},
					expectChange{costPipelineAddr, "estimated_cost_per_run", 0.54, 1.08},
					expectChange{costPipelineAddr, "estimated_backfill_cost", 3.78, 7.56},
				}},
				ConfigStateChecks: []statecheck.StateCheck{costOf(sum, "total", 39.96)},
			},
			{
				Config: costPlatform(t, dir, 5, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(costPipelineAddr, tfjsonpath.New("estimated_cost_per_run"), knownvalue.Null()),
					statecheck.ExpectKnownValue(sum, tfjsonpath.New("total"), knownvalue.Null()),
					statecheck.ExpectKnownValue(sum, tfjsonpath.New("unestimated"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("backfill"), knownvalue.StringExact("daily_runs"),
					})),
				},
			},
			{
				ResourceName:      costPipelineAddr,
				ImportState:       true,
				ImportStateId:     "daily_costs",
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccEMRTemplate_UnknownInstanceTypeCost: an instance type the price table lacks gives null
// estimates (and a warning naming the missing prices, checked in TestCostWarnings), never a guess.
func TestAccEMRTemplate_UnknownInstanceTypeCost(t *testing.T) {
	dir := t.TempDir()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: emrFileConfig(t, dir, `
  name            = "huge"
  release_label   = "emr-7.2.0"
  instance_groups = { master = { instance_type = "x2iedn.32xlarge" } }
  service_role    = "EMR_DefaultRole_V2"
  job_flow_role   = "EMR_EC2_DefaultRole"`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(emrAddr, tfjsonpath.New("estimated_cost_per_hour"), knownvalue.Null()),
				statecheck.ExpectKnownValue(emrAddr, tfjsonpath.New("estimated_cost_per_minimum_run"), knownvalue.Null()),
			},
		}},
	})
}

func TestAccCostEstimate_RefusesNegativeItems(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      acctest.Current(t).ProviderConfig() + `data "sluice_cost_estimate" "x" { items = { refund = -3 } }`,
			ExpectError: wordsRE(`items["refund"] is -3`),
		}},
	})
}
