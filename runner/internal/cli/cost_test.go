package cli_test

import (
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// TestStatusShowsEMRCostPerRunAndPerDay runs a pipeline whose emr_step runs in local mode on a
// template of 3 m5.xlarge ($0.72 an hour in us-east-1): its step takes well under a minute, so the
// run is billed EMR's one-minute minimum, $0.012, and the plan's estimate for expected_duration
// 1m is the same. status shows both, in text and JSON, per run and per day.
func TestStatusShowsEMRCostPerRunAndPerDay(t *testing.T) {
	stateDrivers(t, func(t *testing.T, database string) {
		dir := t.TempDir()
		tpl := &definition.EMRTemplate{
			Format: definition.FormatEMRTemplate, Name: "small", ReleaseLabel: "emr-7.2.0",
			InstanceGroups: definition.InstanceGroups{
				Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand},
				Core:   &definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 2, Market: definition.MarketOnDemand},
			},
			ServiceRole: "EMR_DefaultRole_V2", JobFlowRole: "EMR_EC2_DefaultRole", IdleTimeout: "1h", StepConcurrency: 1,
		}
		p := &definition.Pipeline{
			Format: definition.FormatPipeline, Name: "emr_daily", Enabled: true,
			Schedule: definition.Schedule{Every: "1d", Start: "2026-11-01T00:00:00Z", MaxActiveRuns: 1},
			Defaults: definition.Defaults{Timeout: "1m"},
			Activities: map[string]*definition.Activity{
				"transform": {EMRStep: &definition.EMRStepActivity{Template: "small", ExpectedDuration: "1m",
					Steps: []definition.EMRStep{{Name: "count", Command: []string{"true"}}}}},
			},
		}
		tplData, _ := encode(t, tpl)
		pData, _ := encode(t, p)
		writeFiles(t, dir, map[string][]byte{"emr-templates/small.json": tplData, "pipelines/emr_daily.json": pData})
		env := map[string]string{"SLUICE_REGISTRY": "file://" + dir, "SLUICE_DATABASE": database, "SLUICE_EMR_MODE": "local",
			"SLUICE_WORK_DIR": t.TempDir(), "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
		code, out, errOut := run(t, env, "run", "emr_daily", "--interval", "2026-11-01T00:00:00Z", "--tick", "20ms", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
		}
		ps := statusJSON(t, env)
		if len(ps) != 1 || len(ps[0].Runs) != 1 {
			t.Fatalf("status %+v", ps)
		}
		rc := ps[0].Runs[0].Cost
		if rc == nil || rc.USD == nil || *rc.USD != 0.012 || rc.EstimatedUSD == nil || *rc.EstimatedUSD != 0.012 || rc.Clusters != 1 {
			t.Fatalf("run cost %+v", rc)
		}
		pc := ps[0].Cost
		if pc == nil || len(pc.Days) != 1 || *pc.Days[0].USD != 0.012 || *pc.EstimatedPerRun != 0.012 {
			t.Fatalf("pipeline cost %+v", pc)
		}
		code, out, _ = run(t, env, "status", "emr_daily")
		for _, want := range []string{"cost:      estimate $0.0120 per run (the plan's)", "cost/day:  " + pc.Days[0].Day + "  $0.0120  1 run(s), 1 cluster(s)",
			"cost $0.0120 (estimate $0.0120; 1 cluster(s)"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("status text lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestRunnerPricesFile: the runner figures costs with the provider's negotiated prices when given
// the same file (SLUICE_PRICES); a bad file stops it naming the setting and the entry.
func TestRunnerPricesFile(t *testing.T) {
	dir := t.TempDir()
	tplData, _ := encode(t, &definition.EMRTemplate{
		Format: definition.FormatEMRTemplate, Name: "small", ReleaseLabel: "emr-7.2.0",
		InstanceGroups: definition.InstanceGroups{Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand}},
		ServiceRole:    "EMR_DefaultRole_V2", JobFlowRole: "EMR_EC2_DefaultRole", IdleTimeout: "1h", StepConcurrency: 1,
	})
	pData, _ := encode(t, &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "emr_daily", Enabled: true,
		Schedule: definition.Schedule{Every: "1d", Start: "2026-11-01T00:00:00Z", MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{"transform": {EMRStep: &definition.EMRStepActivity{Template: "small", ExpectedDuration: "1h",
			Steps: []definition.EMRStep{{Name: "count", Command: []string{"true"}}}}}},
	})
	writeFiles(t, dir, map[string][]byte{
		"emr-templates/small.json": tplData, "pipelines/emr_daily.json": pData,
		// Negotiated: m5.xlarge at $0.10 EC2 + $0.02 EMR an hour.
		"prices.json": []byte(`{"format":"sluice/prices.v1","prices":[
  {"region":"us-east-1","item":"ec2.instance_hour","instance_type":"m5.xlarge","usd":0.10,"source":"contract","as_of":"2026-07-01"},
  {"region":"us-east-1","item":"emr.instance_hour","instance_type":"m5.xlarge","usd":0.02,"source":"contract","as_of":"2026-07-01"}]}`),
		"bad.json": []byte(`{"format":"sluice/prices.v1","prices":[{"region":"us-east-1","item":"ec2.instance_hour","usd":0.1,"source":"c","as_of":"2026-07-01"}]}`),
	})
	env := map[string]string{"SLUICE_REGISTRY": "file://" + dir, "SLUICE_DATABASE": "sqlite://" + dir + "/state.db", "SLUICE_EMR_MODE": "local",
		"SLUICE_WORK_DIR": t.TempDir(), "SLUICE_PRICES": dir + "/bad.json"}
	code, _, errOut := run(t, env, "run", "emr_daily", "--interval", "2026-11-01T00:00:00Z", "--region", "us-east-1")
	if code != 2 || !strings.Contains(errOut, "SLUICE_PRICES") || !strings.Contains(errOut, "instance_type is required") {
		t.Fatalf("bad prices file: exit %d\n%s", code, errOut)
	}
	env["SLUICE_PRICES"] = dir + "/prices.json"
	code, out, errOut := run(t, env, "run", "emr_daily", "--interval", "2026-11-01T00:00:00Z", "--tick", "20ms", "--region", "us-east-1")
	if code != 0 {
		t.Fatalf("run exited %d\n%s\n%s", code, out, errOut)
	}
	rc := statusJSON(t, env)[0].Runs[0].Cost
	// A minute of one m5.xlarge at $0.12 an hour is $0.002; an hour (the estimate) $0.12.
	if rc == nil || *rc.USD != 0.002 || *rc.EstimatedUSD != 0.12 {
		t.Fatalf("run cost %+v", rc)
	}
}
