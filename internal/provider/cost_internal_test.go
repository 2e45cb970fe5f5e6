package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// TestCostWarnings: an estimate that lacks a price or an input is null, and its warning names the
// attribute, the resource and exactly what is missing.
func TestCostWarnings(t *testing.T) {
	c := newCosts(cost.Embedded(), "eu-north-1")
	r := &kinesisStreamResource{data: &providerData{costs: c}}
	m := kinesisStreamModel{StreamMode: types.StringValue("PROVISIONED"), ShardCount: types.Int64Value(9), RetentionPeriod: types.Int64Value(24),
		ExpectedRecordsPerSec: types.Float64Null(), AverageRecordBytes: types.Int64Null()}
	e, ok := r.estimate(m)
	if !ok || !usd(e).IsNull() {
		t.Fatalf("eu-north-1 has no prices in the embedded table: want a null estimate, got %v", usd(e))
	}
	var diags diag.Diagnostics
	c.warnUnestimated(&diags, "estimated_monthly_cost", `stream "events"`, e)
	if len(diags) != 1 || diags[0].Severity() != diag.SeverityWarning ||
		!strings.Contains(diags[0].Detail(), `estimated_monthly_cost is null for stream "events": the price table (the embedded price table) has no price for kinesis.shard_hour in eu-north-1`) {
		t.Fatalf("diagnostics %v", diags)
	}

	// An unknown input leaves the estimate unknown (computed after apply), not null.
	m.ShardCount = types.Int64Unknown()
	if _, ok := r.estimate(m); ok {
		t.Error("an unknown shard_count must not be estimated")
	}

	c = newCosts(cost.Embedded(), "us-east-1")
	tr := &emrTemplateResource{data: &providerData{costs: c}}
	var tm emrTemplateModel
	tr.setEstimates(&tm, &definition.EMRTemplate{Name: "huge", InstanceGroups: definition.InstanceGroups{
		Master: definition.InstanceGroup{InstanceType: "x2iedn.32xlarge", Count: 1, Market: definition.MarketOnDemand}}})
	if !tm.CostPerHour.IsNull() || !tm.CostPerMinRun.IsNull() {
		t.Errorf("unknown instance type: %v %v", tm.CostPerHour, tm.CostPerMinRun)
	}
	e = c.table.ClusterHour(c.region, []cost.Group{{Role: "master", InstanceType: "x2iedn.32xlarge", Count: 1}})
	diags = nil
	c.warnUnestimated(&diags, "estimated_cost_per_hour", `EMR template "huge"`, e)
	if len(diags) != 1 || !strings.Contains(diags[0].Detail(), "ec2.instance_hour of x2iedn.32xlarge in us-east-1, emr.instance_hour of x2iedn.32xlarge in us-east-1") {
		t.Fatalf("diagnostics %v", diags)
	}

	// A template planned in this run wins over the registry's copy.
	c.plan(&definition.EMRTemplate{Name: "small"})
	tpl, found, err := c.templates(context.Background(), nil)("small")
	if err != nil || !found || tpl.Name != "small" {
		t.Errorf("planned template: %v %v %v", tpl, found, err)
	}
	if _, found, _ := c.templates(context.Background(), nil)("other"); found {
		t.Error("no registry and not planned: not found")
	}

	// A template from another configuration: read from the registry; a broken one is an error
	// naming the registry, a missing one not found.
	dir := t.TempDir()
	reg, err := registry.Open(context.Background(), "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := definition.Encode(&definition.EMRTemplate{Format: definition.FormatEMRTemplate, Name: "shared", ReleaseLabel: "emr-7.2.0",
		InstanceGroups: definition.InstanceGroups{Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand}},
		ServiceRole:    "r", JobFlowRole: "j", IdleTimeout: "1h", StepConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), registry.EMRTemplateKey("shared"), doc); err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), registry.EMRTemplateKey("broken"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	lookup := c.templates(context.Background(), reg)
	if tpl, found, err := lookup("shared"); err != nil || !found || tpl.InstanceGroups.Master.InstanceType != "m5.xlarge" {
		t.Errorf("published template: %v %v %v", tpl, found, err)
	}
	if _, _, err := lookup("broken"); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("broken template: %v", err)
	}
	if _, found, err := lookup("missing"); found || err != nil {
		t.Errorf("missing template: %v %v", found, err)
	}
	p := &definition.Pipeline{Name: "p", Activities: map[string]*definition.Activity{"t": {EMRStep: &definition.EMRStepActivity{
		Template: "shared", ExpectedDuration: "2h", Steps: []definition.EMRStep{{Name: "s", Command: []string{"true"}}}}}}}
	if e := c.table.PipelineRun(c.region, p, lookup); !e.Known() || cost.Round(e.USD()) != 0.48 { // 2 h × ($0.192 + $0.048)
		t.Errorf("run on a published template: %+v", e)
	}
}
