package emr_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/emr"
)

// validTemplate is a realistic template: HA-less master, core and spot task groups, EBS,
// bootstrap, configurations, two subnets, security groups and tags.
func validTemplate() *definition.EMRTemplate {
	return &definition.EMRTemplate{
		Format:       definition.FormatEMRTemplate,
		Name:         "spark_small",
		ReleaseLabel: "emr-7.2.0",
		Applications: []string{"Spark", "Hadoop"},
		InstanceGroups: definition.InstanceGroups{
			Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand},
			Core: &definition.InstanceGroup{InstanceType: "r5.2xlarge", Count: 2, Market: definition.MarketOnDemand,
				EBS: []definition.EBSVolume{{SizeGB: 200, Type: "gp3", VolumesPerInstance: 2, IOPS: 3000}}},
			Task: &definition.InstanceGroup{InstanceType: "r5.2xlarge", Count: 4, Market: definition.MarketSpot, BidPrice: "0.25"},
		},
		BootstrapActions: []definition.BootstrapAction{{Name: "deps", Path: "s3://acme-emr/bootstrap.sh", Args: []string{"--pip", "pyarrow"}}},
		Configurations:   json.RawMessage(`[{"Classification":"spark-defaults","Properties":{"spark.dynamicAllocation.enabled":"true"}},{"Classification":"spark-env","Configurations":[{"Classification":"export","Properties":{"PYSPARK_PYTHON":"/usr/bin/python3"}}]}]`),
		ServiceRole:      "EMR_DefaultRole_V2",
		JobFlowRole:      "EMR_EC2_DefaultRole",
		LogURI:           "s3://acme-emr/logs/",
		SubnetIDs:        []string{"subnet-0aaa", "subnet-0bbb"},
		SecurityGroups:   &definition.SecurityGroups{EMRManagedMaster: "sg-0m", EMRManagedSlave: "sg-0s", AdditionalMaster: []string{"sg-0x"}},
		IdleTimeout:      "1h",
		StepConcurrency:  4,
		Tags:             map[string]string{"team": "data", "env": "prod"},
	}
}

func TestValidate_RealisticTemplateIsValid(t *testing.T) {
	if ps := emr.Validate(validTemplate()); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
}

func TestValidate_SingleNodeNeedsNoCore(t *testing.T) {
	tpl := validTemplate()
	tpl.InstanceGroups.Core, tpl.InstanceGroups.Task = nil, nil
	if ps := emr.Validate(tpl); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
}

func TestValidate_OneProblemPerRule(t *testing.T) {
	cases := []struct {
		name   string
		change func(*definition.EMRTemplate)
		path   string
		msg    string
	}{
		{"bad name", func(t *definition.EMRTemplate) { t.Name = "a/b" }, "name", "not valid"},
		{"release label", func(t *definition.EMRTemplate) { t.ReleaseLabel = "7.2.0" }, "release_label", `"7.2.0" is not an EMR release label`},
		{"release label suffix", func(t *definition.EMRTemplate) { t.ReleaseLabel = "emr-6.15" }, "release_label", "not an EMR release label"},
		{"duplicate application", func(t *definition.EMRTemplate) { t.Applications = []string{"Spark", "spark"} }, "applications[1]", "listed twice"},
		{"master count 2", func(t *definition.EMRTemplate) { t.InstanceGroups.Master.Count = 2 }, "instance_groups.master.count", "master count is 2"},
		{"master type", func(t *definition.EMRTemplate) { t.InstanceGroups.Master.InstanceType = "" }, "instance_groups.master.instance_type", "required"},
		{"core count 0", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.Count = 0 }, "instance_groups.core.count", "at least 1"},
		{"task count 0", func(t *definition.EMRTemplate) { t.InstanceGroups.Task.Count = 0 }, "instance_groups.task.count", "at least 1"},
		{"task without core", func(t *definition.EMRTemplate) { t.InstanceGroups.Core = nil }, "instance_groups.task", "needs a core group"},
		{"unknown market", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.Market = "RESERVED" }, "instance_groups.core.market", `market "RESERVED" is not one of ON_DEMAND, SPOT`},
		{"bid price on demand", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.BidPrice = "0.1" }, "instance_groups.core.bid_price", "applies only to market"},
		{"bid price not decimal", func(t *definition.EMRTemplate) { t.InstanceGroups.Task.BidPrice = "$1" }, "instance_groups.task.bid_price", "not a price"},
		{"ebs size", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.EBS[0].SizeGB = 0 }, "instance_groups.core.ebs[0].size_gb", "at least 1"},
		{"ebs type", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.EBS[0].Type = "io2" }, "instance_groups.core.ebs[0].type", `"io2" is not one of gp2, gp3, io1, st1, sc1, standard`},
		{"ebs volumes", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.EBS[0].VolumesPerInstance = 0 }, "instance_groups.core.ebs[0].volumes_per_instance", "at least 1"},
		{"io1 without iops", func(t *definition.EMRTemplate) {
			t.InstanceGroups.Core.EBS[0].Type, t.InstanceGroups.Core.EBS[0].IOPS = "io1", 0
		}, "instance_groups.core.ebs[0].iops", "needs iops"},
		{"iops on gp2", func(t *definition.EMRTemplate) { t.InstanceGroups.Core.EBS[0].Type = "gp2" }, "instance_groups.core.ebs[0].iops", "only to io1 and gp3"},
		{"bootstrap path", func(t *definition.EMRTemplate) { t.BootstrapActions[0].Path = "" }, "bootstrap_actions[0].path", "empty"},
		{"configurations not JSON", func(t *definition.EMRTemplate) { t.Configurations = json.RawMessage(`[{`) }, "configurations", "not valid JSON"},
		{"configurations not array", func(t *definition.EMRTemplate) {
			t.Configurations = json.RawMessage(`{"Classification":"spark"}`)
		}, "configurations", "must be a JSON array of objects"},
		{"configuration without classification", func(t *definition.EMRTemplate) {
			t.Configurations = json.RawMessage(`[{"Properties":{"a":"b"}}]`)
		}, "configurations", `configurations[0] has no "Classification" string`},
		{"nested configuration without classification", func(t *definition.EMRTemplate) {
			t.Configurations = json.RawMessage(`[{"Classification":"spark-env","Configurations":[{}]}]`)
		}, "configurations", `configurations[0].Configurations[0] has no "Classification"`},
		{"property not a string", func(t *definition.EMRTemplate) {
			t.Configurations = json.RawMessage(`[{"Classification":"spark","Properties":{"x":1}}]`)
		}, "configurations", `Properties["x"] must be a string`},
		{"unknown configuration key", func(t *definition.EMRTemplate) {
			t.Configurations = json.RawMessage(`[{"Classification":"spark","Property":{"a":"b"}}]`)
		}, "configurations", `unknown key "Property"`},
		{"service role", func(t *definition.EMRTemplate) { t.ServiceRole = "" }, "service_role", "required"},
		{"job flow role", func(t *definition.EMRTemplate) { t.JobFlowRole = " " }, "job_flow_role", "required"},
		{"log uri", func(t *definition.EMRTemplate) { t.LogURI = "/var/log" }, "log_uri", "not an S3 location"},
		{"subnet empty", func(t *definition.EMRTemplate) { t.SubnetIDs = []string{"subnet-0aaa", ""} }, "subnet_ids[1]", `"" is not a subnet ID`},
		{"subnet prefix", func(t *definition.EMRTemplate) { t.SubnetIDs = []string{"sn-1"} }, "subnet_ids[0]", "not a subnet ID"},
		{"subnet twice", func(t *definition.EMRTemplate) { t.SubnetIDs = []string{"subnet-1", "subnet-1"} }, "subnet_ids[1]", "listed twice"},
		{"security group", func(t *definition.EMRTemplate) { t.SecurityGroups.EMRManagedSlave = "default" }, "security_groups.emr_managed_slave", "not a security group ID"},
		{"additional security group", func(t *definition.EMRTemplate) { t.SecurityGroups.AdditionalMaster = []string{"x"} }, "security_groups.additional_master[0]", "not a security group ID"},
		{"idle timeout 30s", func(t *definition.EMRTemplate) { t.IdleTimeout = "30s" }, "idle_timeout", "outside EMR's auto-termination range"},
		{"idle timeout 8d", func(t *definition.EMRTemplate) { t.IdleTimeout = "8d" }, "idle_timeout", "outside EMR's auto-termination range"},
		{"idle timeout garbage", func(t *definition.EMRTemplate) { t.IdleTimeout = "soon" }, "idle_timeout", "not a duration"},
		{"idle timeout fraction", func(t *definition.EMRTemplate) { t.IdleTimeout = "90.5s" }, "idle_timeout", "whole number of seconds"},
		{"step concurrency 0", func(t *definition.EMRTemplate) { t.StepConcurrency = 0 }, "step_concurrency", "1 to 256"},
		{"step concurrency 257", func(t *definition.EMRTemplate) { t.StepConcurrency = 257 }, "step_concurrency", "1 to 256"},
		{"empty tag key", func(t *definition.EMRTemplate) { t.Tags[""] = "x" }, "tags", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl := validTemplate()
			c.change(tpl)
			ps := emr.Validate(tpl)
			if len(ps) != 1 {
				t.Fatalf("want exactly one problem, got %v", ps)
			}
			if ps[0].Path != c.path || !strings.Contains(ps[0].Message, c.msg) {
				t.Fatalf("got %s: %s\nwant %s: ...%s...", ps[0].Path, ps[0].Message, c.path, c.msg)
			}
		})
	}
}

func TestValidate_IdleTimeoutTakesDays(t *testing.T) {
	for _, idle := range []string{"60s", "90m", "1d", "1d12h", "7d", "168h"} {
		tpl := validTemplate()
		tpl.IdleTimeout = idle
		if ps := emr.Validate(tpl); len(ps) != 0 {
			t.Errorf("idle_timeout %q: %v", idle, ps)
		}
	}
}

func TestNormaliseConfigurations_FormattingNeverDiffers(t *testing.T) {
	want := `[{"Classification":"spark-defaults","Properties":{"a":"1","b":"x"}},{"Classification":"x","Properties":{"n":1}}]`
	for name, in := range map[string]string{
		"canonical":   want,
		"whitespace":  "[\n  {\n    \"Classification\": \"spark-defaults\",\n    \"Properties\": { \"a\": \"1\", \"b\": \"x\" }\n  },\n  {\"Classification\":\"x\",\"Properties\":{\"n\":1}}\n]\n",
		"key order":   `[{"Properties":{"b":"x","a":"1"},"Classification":"spark-defaults"},{"Properties":{"n":1},"Classification":"x"}]`,
		"1.0 for 1":   `[{"Classification":"spark-defaults","Properties":{"a":"1","b":"x"}},{"Classification":"x","Properties":{"n":1.0}}]`,
		"1e0 for 1":   `[{"Classification":"spark-defaults","Properties":{"a":"1","b":"x"}},{"Classification":"x","Properties":{"n":1e0}}]`,
		"tabs and CR": "[{\"Classification\":\t\"spark-defaults\",\r\n\"Properties\":{\"b\":\"x\",\"a\":\"1\"}},{\"Classification\":\"x\",\"Properties\":{\"n\":10E-1}}]",
	} {
		got, err := emr.NormaliseConfigurations(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestNormaliseConfigurations_StringsStayAsWritten(t *testing.T) {
	got, err := emr.NormaliseConfigurations(`[{"Classification":"x","Properties":{"v":"1.0"}}]`)
	if err != nil || string(got) != `[{"Classification":"x","Properties":{"v":"1.0"}}]` {
		t.Fatalf("got %s, %v", got, err)
	}
}

func TestNormaliseConfigurations_InvalidJSON(t *testing.T) {
	for _, in := range []string{"", "[", `[{"a":1}] x`, "{'a':1}"} {
		if _, err := emr.NormaliseConfigurations(in); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
			t.Errorf("NormaliseConfigurations(%q) error = %v, want not valid JSON", in, err)
		}
	}
}
