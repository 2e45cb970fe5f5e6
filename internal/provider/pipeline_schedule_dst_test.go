package provider_test

import (
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider"
)

func startsExact(starts ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(starts))
	for i, s := range starts {
		checks[i] = knownvalue.StringExact(s)
	}
	return knownvalue.ListExact(checks)
}

// TestAccPipelineSchedule_DSTCases: the schedules users found wrong, as sluice_pipeline_schedule
// lists them through Terraform.
func TestAccPipelineSchedule_DSTCases(t *testing.T) {
	stack := acctest.Current(t)
	config := stack.ProviderConfig() + `
data "sluice_pipeline_schedule" "santiago" {
  cron     = "0 12 * * 6"
  timezone = "America/Santiago"
  start    = "2026-08-29T00:00:00-04:00"
  from     = "2026-08-29T00:00:00-04:00"
  to       = "2026-09-20T00:00:00-03:00"
}

data "sluice_pipeline_schedule" "cairo" {
  cron     = "0 9-17 * * 0-4"
  timezone = "Africa/Cairo"
  start    = "2026-04-23T16:00:00+02:00"
  from     = "2026-04-23T16:00:00+02:00"
  to       = "2026-04-26T10:00:00+03:00"
}

data "sluice_pipeline_schedule" "lord_howe" {
  cron     = "0 3 * * *"
  timezone = "Australia/Lord_Howe"
  start    = "2026-10-03T00:00:00+10:30"
  from     = "2026-10-03T00:00:00+10:30"
  to       = "2026-10-06T00:00:00+11:00"
}

data "sluice_pipeline_schedule" "leap_day" {
  cron  = "0 0 29 2 *"
  start = "2096-01-01T00:00:00Z"
  from  = "2096-01-01T00:00:00Z"
  to    = "2106-01-01T00:00:00Z"
}

data "sluice_pipeline_schedule" "hourly_berlin" {
  cron     = "@hourly"
  timezone = "Europe/Berlin"
  start    = "2026-01-01T00:00:00+01:00"
  from     = "2026-01-01T00:00:00+01:00"
  to       = "2027-01-01T00:00:00+01:00"
}

data "sluice_pipeline_schedule" "berlin_gap" {
  cron     = "30 2 * * *"
  timezone = "Europe/Berlin"
  start    = "2026-03-28T00:00:00+01:00"
  from     = "2026-03-28T00:00:00+01:00"
  to       = "2026-03-30T12:00:00+02:00"
}

data "sluice_pipeline_schedule" "santiago_daily" {
  every    = "1d"
  timezone = "America/Santiago"
  start    = "2026-09-05T00:00:00-04:00"
  from     = "2026-09-05T00:00:00-04:00"
  to       = "2026-09-07T12:00:00-03:00"
}

data "sluice_pipeline_schedule" "sunday_seven" {
  cron  = "0 0 * * 7"
  start = "2026-11-01T00:00:00Z"
  from  = "2026-11-01T00:00:00Z"
  to    = "2026-11-16T00:00:00Z"
}
`
	at := func(_ string, i int) tfjsonpath.Path {
		return tfjsonpath.New("intervals").AtSliceIndex(i)
	}
	iv := func(start, end string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{"start": knownvalue.StringExact(start), "end": knownvalue.StringExact(end)})
	}
	ds := func(n string) string { return "data.sluice_pipeline_schedule." + n }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: stack.ProviderConfig() + `
data "sluice_pipeline_schedule" "never" {
  cron  = "0 0 31 2 *"
  start = "2026-11-01T00:00:00Z"
  from  = "2026-11-01T00:00:00Z"
  to    = "2027-11-01T00:00:00Z"
}
`,
				ExpectError: wordsRE("cron:", `"0 0 31 2 *" never fires`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					// Saturdays stay Saturdays across Santiago's midnight jump (2026-09-06 00:00 does not exist).
					statecheck.ExpectKnownValue(ds("santiago"), tfjsonpath.New("interval_count"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(ds("santiago"), at("santiago", 1), iv("2026-09-05T12:00:00-04:00", "2026-09-12T12:00:00-03:00")),
					// Thursday 17:00 in Cairo runs until Sunday 09:00, not Friday.
					statecheck.ExpectKnownValue(ds("cairo"), at("cairo", 1), iv("2026-04-23T17:00:00+02:00", "2026-04-26T09:00:00+03:00")),
					// One 03:00 a day on Lord Howe across the half-hour shift.
					statecheck.ExpectKnownValue(ds("lord_howe"), tfjsonpath.New("interval_count"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(ds("lord_howe"), at("lord_howe", 0), iv("2026-10-03T03:00:00+10:30", "2026-10-04T03:00:00+11:00")),
					// No five-year horizon: 2096, then 2104 (2100 is not a leap year).
					statecheck.ExpectKnownValue(ds("leap_day"), tfjsonpath.New("interval_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(ds("leap_day"), at("leap_day", 0), iv("2096-02-29T00:00:00Z", "2104-02-29T00:00:00Z")),
					// @hourly: 8,760 one-hour intervals in 2026, the repeated hour included.
					statecheck.ExpectKnownValue(ds("hourly_berlin"), tfjsonpath.New("interval_count"), knownvalue.Int64Exact(8760)),
					// 02:30 does not exist on 2026-03-29: the day's run is at the jump, 03:00 CEST.
					statecheck.ExpectKnownValue(ds("berlin_gap"), at("berlin_gap", 1), iv("2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00")),
					// every = "1d" from 00:00 moves forward to 01:00 on Santiago's jump day, not back to 23:00.
					statecheck.ExpectKnownValue(ds("santiago_daily"), at("santiago_daily", 1), iv("2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00")),
					// 7 is Sunday.
					statecheck.ExpectKnownValue(ds("sunday_seven"), tfjsonpath.New("interval_count"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(ds("sunday_seven"), at("sunday_seven", 0), iv("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z")),
				},
			},
		},
	})
}

// TestAccPipeline_NextRunsAcrossSantiagoMidnightJump: next_runs in the plan follows the same
// rules: Saturday noon stays on Saturday.
func TestAccPipeline_NextRunsAcrossSantiagoMidnightJump(t *testing.T) {
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	t.Cleanup(provider.SetClock(func() time.Time { return now }))
	dir := t.TempDir()
	config := pipelineFileConfig(t, dir, `
  name  = "weekly_santiago"
  owner = "data-team@acme.example"
  schedule = {
    cron     = "0 12 * * SAT"
    timezone = "America/Santiago"
    start    = "2026-08-01T00:00:00-04:00"
  }
  activities = {
    only = { shell = { command = ["true"] } }
  }
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("next_runs"), startsExact(
					"2026-08-29T12:00:00-04:00", "2026-09-05T12:00:00-04:00", "2026-09-12T12:00:00-03:00",
					"2026-09-19T12:00:00-03:00", "2026-09-26T12:00:00-03:00",
				)),
			}},
		}},
	})
}
