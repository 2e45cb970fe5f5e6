package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// triggeredBody is a pipeline started by S3 events through SQS (no schedule), batched, whose
// load waits for an upstream pipeline's runs of the same interval.
func triggeredBody(schedule string) string {
	return `
  name = "raw_events"
` + schedule + `
  trigger = {
    sqs = {
      queue_url  = "https://sqs.eu-west-1.amazonaws.com/123456789012/raw-events"
      bucket     = "acme-raw"
      pattern    = "raw/{date}/{hour}/"
      suffix     = ".csv"
      max_events = 500
      max_wait   = "5m"
    }
    after = ["dimensions"]
  }
  activities = {
    load = {
      wait_for = { pipeline = { name = "dimensions" } }
      shell    = { command = ["load", "{{ .Params.date }}T{{ .Params.hour }}", "{{ range .Event.Objects }}s3://{{ .Bucket }}/{{ .Key }} {{ end }}"] }
    }
  }`
}

func TestAccPipeline_Trigger(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkPipelineGone(dir, "raw_events"),
		Steps: []resource.TestStep{
			{
				Config: pipelineFileConfig(t, dir, triggeredBody("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("next_runs"), knownvalue.ListExact([]knownvalue.Check{})),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("backfill_runs"), knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("definition_json"),
						knownvalue.StringRegexp(regexp.MustCompile(`"trigger":\{"after":\["dimensions"\],"sqs":\{"bucket":"acme-raw","max_events":500,"max_wait":"5m","pattern":"raw/\{date\}/\{hour\}/"`))),
				}},
				Check: checkPipelineDoc(dir, "raw_events", func(p *definition.Pipeline) error {
					if p.HasSchedule() || p.Trigger == nil || p.Trigger.SQS.Pattern != "raw/{date}/{hour}/" || p.Activities["load"].WaitFor.Pipeline.Name != "dimensions" {
						return fmt.Errorf("published %+v / %+v", p.Schedule, p.Trigger)
					}
					return nil
				}),
			},
			{
				// A schedule too: both start runs.
				Config: pipelineFileConfig(t, dir, triggeredBody(`  schedule = { every = "1d", start = "2026-11-18T00:00:00Z" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(pipelineAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(pipelineAddr, tfjsonpath.New("next_runs").AtSliceIndex(0), knownvalue.StringExact("2026-11-25T00:00:00Z")),
				}},
				Check: checkPipelineDoc(dir, "raw_events", func(p *definition.Pipeline) error {
					if !p.HasSchedule() || p.Trigger == nil {
						return fmt.Errorf("published %+v / %+v", p.Schedule, p.Trigger)
					}
					return nil
				}),
			},
			{
				ResourceName: pipelineAddr, ImportState: true, ImportStateId: "raw_events", ImportStateVerify: true,
			},
			{
				// Back to the trigger alone; then import that.
				Config: pipelineFileConfig(t, dir, triggeredBody("")),
			},
			{
				ResourceName: pipelineAddr, ImportState: true, ImportStateId: "raw_events", ImportStateVerify: true,
			},
		},
	})
}

func TestAccPipeline_TriggerPlanTimeErrors(t *testing.T) {
	dir := t.TempDir()
	body := func(trigger, acts string) string {
		if acts == "" {
			acts = `    a = { shell = { command = ["true"] } }`
		}
		return `
  name = "bad"
` + trigger + `
  activities = {
` + acts + `
  }`
	}
	sqs := func(attrs string) string { return `  trigger = { sqs = { ` + attrs + ` } }` }
	const url = `queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"`
	cases := []struct {
		config string
		want   *regexp.Regexp
	}{
		{body("", ""), wordsRE("schedule:", "is required unless the pipeline has a trigger")},
		{body(`  trigger = {}`, ""), wordsRE("trigger:", "set sqs, after, or both")},
		{body(sqs(`queue_url = "raw-events"`), ""), wordsRE("trigger.sqs.queue_url:", `"raw-events" is not a queue URL`)},
		{body(sqs(url+`, pattern = "raw/{date/"`), ""), wordsRE("trigger.sqs.pattern:", "unbalanced brace")},
		{body(sqs(url+`, pattern = "raw/{hour}/"`), ""), wordsRE("trigger.sqs.pattern:", "{hour} needs a {date}")},
		{body(sqs(url+`, max_events = 20000`), ""), wordsRE("trigger.sqs.max_events:", "20000 is over the limit of 10000")},
		{body(sqs(url+`, max_wait = "1 week"`), ""), wordsRE("trigger.sqs.max_wait:")},
		{body(sqs(url+`, bucket = "Not_A_Bucket"`), ""), wordsRE("trigger.sqs.bucket:", `"Not_A_Bucket" is not an S3 bucket name`)},
		{body(`  trigger = { after = ["bad"] }`, ""), wordsRE("trigger.after.0:", `pipeline "bad" cannot run after itself`)},
		{body(sqs(url+`, pattern = "in/{table}.csv"`), `    a = { shell = { command = ["echo", "{{ .Params.tabel }}"] } }`),
			wordsRE("activities.a.shell.command.1:", "unknown parameter .Params.tabel; the parameters are table")},
		{body(`  trigger = { after = ["up"] }`, `    a = {
      wait_for = { pipeline = { name = "up", start = "{{ ds .Start }}" } }
      shell    = { command = ["true"] }
    }`), wordsRE("activities.a.wait_for.pipeline.start:", "must render to an RFC 3339 time")},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: pipelineFileConfig(t, dir, c.config), PlanOnly: true, ExpectError: c.want})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories, Steps: steps})
}
