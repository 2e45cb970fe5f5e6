package provider_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// TestAccPipelineDataSource reads the pipeline a sluice_pipeline published, and one another
// environment published in its own registry.
func TestAccPipelineDataSource(t *testing.T) {
	fixClock(t)
	stack := acctest.Current(t)
	dir, otherDir := t.TempDir(), t.TempDir()

	// The other environment's registry holds a pipeline published by another configuration.
	other := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "prod_clicks", Owner: "prod-team", Enabled: false,
		Schedule:   definition.Schedule{Cron: "0 3 * * *", Start: "2026-01-01T00:00:00Z", Timezone: "Europe/Berlin", MaxActiveRuns: 2},
		Activities: map[string]*definition.Activity{"b": {Shell: &definition.ShellActivity{Command: []string{"true"}}}, "a": {Shell: &definition.ShellActivity{Command: []string{"true"}}}},
	}
	doc, err := definition.Encode(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(otherDir, "pipelines"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pipelineDocPath(otherDir, "prod_clicks"), doc, 0o644); err != nil {
		t.Fatal(err)
	}

	// In production the other registry is read through a provider alias (see the example). In
	// process, terraform-plugin-testing reattaches every alias to one provider server and the last
	// configuration wins (see redshift_replicas_test.go), so this test reads the other registry
	// from a configuration of its own: the data source's behaviour is the same.
	config := stack.ProviderConfig(`  registry = "file://`+dir+`"`) + `
resource "sluice_pipeline" "test" {
` + pipelineBody("daily_clicks", "Daily clicks", "") + `
}

data "sluice_pipeline" "here" {
  name       = sluice_pipeline.test.name
  depends_on = [sluice_pipeline.test]
}
`
	prodConfig := stack.ProviderConfig(`  registry = "file://`+otherDir+`"`) + `
data "sluice_pipeline" "prod" {
  name = "prod_clicks"
}
`
	const here, prod = "data.sluice_pipeline.here", "data.sluice_pipeline.prod"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.CompareValuePairs(here, tfjsonpath.New("version"), pipelineAddr, tfjsonpath.New("version"), compareEqual{}),
				statecheck.CompareValuePairs(here, tfjsonpath.New("definition_json"), pipelineAddr, tfjsonpath.New("definition_json"), compareEqual{}),
				statecheck.ExpectKnownValue(here, tfjsonpath.New("owner"), knownvalue.StringExact("data-team@acme.example")),
				statecheck.ExpectKnownValue(here, tfjsonpath.New("enabled"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue(here, tfjsonpath.New("schedule").AtMapKey("every"), knownvalue.StringExact("1d")),
				statecheck.ExpectKnownValue(here, tfjsonpath.New("schedule").AtMapKey("catchup"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue(here, tfjsonpath.New("activity_ids"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact("land"), knownvalue.StringExact("load"), knownvalue.StringExact("parse"),
					knownvalue.StringExact("qa"), knownvalue.StringExact("stage"), knownvalue.StringExact("summarize"),
				})),
				statecheck.ExpectKnownValue(here, tfjsonpath.New("parameters"), knownvalue.MapExact(map[string]knownvalue.Check{"bucket": knownvalue.StringExact("acme-logs")})),
			},
		}, {
			Config: prodConfig,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("version"), knownvalue.StringExact(other.Version)),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("owner"), knownvalue.StringExact("prod-team")),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("enabled"), knownvalue.Bool(false)),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("schedule").AtMapKey("cron"), knownvalue.StringExact("0 3 * * *")),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("schedule").AtMapKey("every"), knownvalue.Null()),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("schedule").AtMapKey("timezone"), knownvalue.StringExact("Europe/Berlin")),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("schedule").AtMapKey("max_active_runs"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("activity_ids"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("a"), knownvalue.StringExact("b")})),
				statecheck.ExpectKnownValue(prod, tfjsonpath.New("definition_json"), knownvalue.StringExact(string(doc))),
			},
		}},
	})
}

// compareEqual is a compare.ValueComparer for equal values.
type compareEqual struct{}

func (compareEqual) CompareValues(values ...any) error {
	for i := 1; i < len(values); i++ {
		if !reflect.DeepEqual(values[0], values[i]) {
			return fmt.Errorf("values differ: %v and %v", values[0], values[i])
		}
	}
	return nil
}

// TestAccPipelineScheduleDataSource lists the intervals of a window, to plan a backfill.
func TestAccPipelineScheduleDataSource(t *testing.T) {
	config := acctest.Current(t).ProviderConfig() + `
data "sluice_pipeline_schedule" "daily" {
  every = "1d"
  start = "2026-11-01T00:00:00Z"
  from  = "2026-11-18T00:00:00Z"
  to    = "2026-11-25T00:00:00Z"
}

data "sluice_pipeline_schedule" "berlin" {
  cron     = "0 3 * * *"
  timezone = "Europe/Berlin"
  start    = "2026-03-27T00:00:00Z"
  end      = "2026-03-31T03:00:00+02:00"
  from     = "2026-01-01T00:00:00Z"
  to       = "2027-01-01T00:00:00Z"
}
`
	const daily, berlin = "data.sluice_pipeline_schedule.daily", "data.sluice_pipeline_schedule.berlin"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			// The invalid windows first: the last step's configuration is also the one destroyed.
			{
				Config: acctest.Current(t).ProviderConfig() + `
data "sluice_pipeline_schedule" "bad" {
  every = "1d"
  start = "2026-11-01T00:00:00Z"
  from  = "2026-11-25T00:00:00Z"
  to    = "2026-11-18T00:00:00Z"
}
`,
				ExpectError: wordsRE("to: 2026-11-18T00:00:00Z is not after from 2026-11-25T00:00:00Z"),
			},
			{
				Config: acctest.Current(t).ProviderConfig() + `
data "sluice_pipeline_schedule" "bad" {
  cron  = "61 * * * *"
  start = "2026-11-01T00:00:00Z"
  from  = "2026-11-18T00:00:00Z"
  to    = "2026-11-25T00:00:00Z"
}
`,
				ExpectError: wordsRE("Invalid schedule", "cron:"),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(daily, tfjsonpath.New("interval_count"), knownvalue.Int64Exact(7)),
					statecheck.ExpectKnownValue(daily, tfjsonpath.New("intervals").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"start": knownvalue.StringExact("2026-11-18T00:00:00Z"), "end": knownvalue.StringExact("2026-11-19T00:00:00Z"),
					})),
					statecheck.ExpectKnownValue(daily, tfjsonpath.New("intervals").AtSliceIndex(6), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"start": knownvalue.StringExact("2026-11-24T00:00:00Z"), "end": knownvalue.StringExact("2026-11-25T00:00:00Z"),
					})),
					// 03:00 Berlin across the DST change of 2026-03-29: the interval over it is 23 hours.
					statecheck.ExpectKnownValue(berlin, tfjsonpath.New("interval_count"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(berlin, tfjsonpath.New("intervals").AtSliceIndex(1), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"start": knownvalue.StringExact("2026-03-28T03:00:00+01:00"), "end": knownvalue.StringExact("2026-03-29T03:00:00+02:00"),
					})),
				},
			},
		},
	})
}
