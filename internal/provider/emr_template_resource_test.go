package provider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

const emrAddr = "sluice_emr_template.test"

var sha256RE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// emrFileConfig is a provider with a file:// registry in dir, plus one sluice_emr_template.
func emrFileConfig(t *testing.T, dir, body string, extra ...string) string {
	return acctest.Current(t).ProviderConfig(append([]string{`  registry = "file://` + dir + `"`}, extra...)...) +
		"\nresource \"sluice_emr_template\" \"test\" {\n" + body + "\n}\n"
}

// emrBody is a realistic template; core is the core group's count, configurations its
// configurations expression.
func emrBody(name string, core int, idle, configurations string) string {
	return fmt.Sprintf(`
  name          = %q
  release_label = "emr-7.2.0"
  applications  = ["Spark", "Hadoop"]
  instance_groups = {
    master = { instance_type = "m5.xlarge" }
    core = {
      instance_type = "r5.2xlarge"
      count         = %d
      ebs           = [{ size_gb = 200, volumes_per_instance = 2 }]
    }
    task = { instance_type = "r5.2xlarge", count = 4, market = "SPOT", bid_price = "0.25" }
  }
  bootstrap_actions = [{ name = "deps", path = "s3://acme-emr/bootstrap.sh", args = ["--pip", "pyarrow"] }]
  configurations    = %s
  service_role      = "EMR_DefaultRole_V2"
  job_flow_role     = "EMR_EC2_DefaultRole"
  log_uri           = "s3://acme-emr/logs/"
  subnet_ids        = ["subnet-0aaa", "subnet-0bbb"]
  security_groups   = { emr_managed_master = "sg-0m", emr_managed_slave = "sg-0s" }
  idle_timeout      = %q
  step_concurrency  = 2
  tags              = { env = "dev" }
`, name, core, configurations, idle)
}

const emrConfigurationsHCL = `jsonencode([
    { Classification = "spark-defaults", Properties = { "spark.dynamicAllocation.enabled" = "true", "spark.executor.memory" = "4g" } },
  ])`

// The same JSON, formatted by hand: whitespace, line breaks and key order differ.
const emrConfigurationsHeredoc = `<<-EOT
    [
      {
        "Properties": {
          "spark.executor.memory":           "4g",
          "spark.dynamicAllocation.enabled": "true"
        },
        "Classification": "spark-defaults"
      }
    ]
  EOT`

func emrDocPath(dir, name string) string { return filepath.Join(dir, "emr-templates", name+".json") }

// checkEMRDoc decodes the published document behind Terraform's back and checks its version
// against state and its content against want.
func checkEMRDoc(dir, name string, want func(*definition.EMRTemplate) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		data, err := os.ReadFile(emrDocPath(dir, name))
		if err != nil {
			return err
		}
		tpl, err := definition.DecodeEMRTemplate(data)
		if err != nil {
			return fmt.Errorf("published document does not decode: %w", err)
		}
		rs, ok := s.RootModule().Resources[emrAddr]
		if !ok {
			return errors.New("resource not in state")
		}
		if got := rs.Primary.Attributes["version"]; got != tpl.Version {
			return fmt.Errorf("state version %s, published version %s", got, tpl.Version)
		}
		if canon, _ := definition.CanonicalJSON(data, false); !bytes.Equal(canon, data) {
			return fmt.Errorf("published document is not canonical JSON:\n%s", data)
		}
		return want(tpl)
	}
}

func checkEMRGone(dir, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, err := os.Stat(emrDocPath(dir, name)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still exists (err=%w)", emrDocPath(dir, name), err)
		}
		return nil
	}
}

// TestAccEMRTemplate_Lifecycle: create with default_tags, update in place, reformatted
// configurations plan nothing, rename in place, import, destroy.
func TestAccEMRTemplate_Lifecycle(t *testing.T) {
	dir := t.TempDir()
	defaultTags := "  default_tags {\n    tags = { team = \"data\" }\n  }"
	cfg := func(name string, core int, idle, configurations string) string {
		return emrFileConfig(t, dir, emrBody(name, core, idle, configurations), defaultTags)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkEMRGone(dir, "spark_small"), checkEMRGone(dir, "spark_renamed")),
		Steps: []resource.TestStep{
			{
				Config: cfg("spark_small", 2, "1h", emrConfigurationsHCL),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(emrAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("version"), knownvalue.StringRegexp(sha256RE)),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("node_count"), knownvalue.Int64Exact(7)),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("id"), knownvalue.StringExact("spark_small")),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("run_job_flow_json"), knownvalue.StringRegexp(regexp.MustCompile(
						`"AutoTerminationPolicy":\{"IdleTimeout":3600\}.*"Ec2SubnetId":"subnet-0aaa".*"KeepJobFlowAliveWhenNoSteps":false`))),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("tags_all"), knownvalue.MapExact(map[string]knownvalue.Check{
						"team": knownvalue.StringExact("data"), "env": knownvalue.StringExact("dev"),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(emrAddr, tfjsonpath.New("instance_groups").AtMapKey("master").AtMapKey("market"), knownvalue.StringExact("ON_DEMAND")),
					statecheck.ExpectKnownValue(emrAddr, tfjsonpath.New("instance_groups").AtMapKey("master").AtMapKey("count"), knownvalue.Int64Exact(1)),
				},
				Check: checkEMRDoc(dir, "spark_small", func(tpl *definition.EMRTemplate) error {
					if tpl.Format != definition.FormatEMRTemplate || tpl.Name != "spark_small" {
						return fmt.Errorf("format %q name %q", tpl.Format, tpl.Name)
					}
					if c := tpl.InstanceGroups.Core; c == nil || c.Count != 2 || c.EBS[0].Type != "gp3" || c.EBS[0].VolumesPerInstance != 2 {
						return fmt.Errorf("core group %+v", c)
					}
					if tk := tpl.InstanceGroups.Task; tk == nil || tk.Market != "SPOT" || tk.BidPrice != "0.25" {
						return fmt.Errorf("task group %+v", tk)
					}
					want := `[{"Classification":"spark-defaults","Properties":{"spark.dynamicAllocation.enabled":"true","spark.executor.memory":"4g"}}]`
					if string(tpl.Configurations) != want {
						return fmt.Errorf("configurations %s, want %s", tpl.Configurations, want)
					}
					if tpl.Tags["team"] != "data" || tpl.Tags["env"] != "dev" || tpl.IdleTimeout != "1h" || tpl.StepConcurrency != 2 {
						return fmt.Errorf("tags %v idle %q steps %d", tpl.Tags, tpl.IdleTimeout, tpl.StepConcurrency)
					}
					return nil
				}),
			},
			{
				Config: cfg("spark_small", 4, "2h", emrConfigurationsHCL),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(emrAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("node_count"), knownvalue.Int64Exact(9)),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("run_job_flow_json"), knownvalue.StringRegexp(regexp.MustCompile(`"IdleTimeout":7200`))),
				}},
				Check: checkEMRDoc(dir, "spark_small", func(tpl *definition.EMRTemplate) error {
					if tpl.InstanceGroups.Core.Count != 4 || tpl.IdleTimeout != "2h" {
						return fmt.Errorf("core count %d idle %q", tpl.InstanceGroups.Core.Count, tpl.IdleTimeout)
					}
					return nil
				}),
			},
			{
				// The same configurations written differently: nothing to do.
				Config: cfg("spark_small", 4, "2h", emrConfigurationsHeredoc),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// Rename in place: published under the new name, the old document deleted.
				Config: cfg("spark_renamed", 4, "2h", emrConfigurationsHCL),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(emrAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("id"), knownvalue.StringExact("spark_renamed")),
				}},
				Check: resource.ComposeTestCheckFunc(
					checkEMRGone(dir, "spark_small"),
					checkEMRDoc(dir, "spark_renamed", func(tpl *definition.EMRTemplate) error {
						if tpl.Name != "spark_renamed" {
							return fmt.Errorf("name %q", tpl.Name)
						}
						return nil
					}),
				),
			},
			{
				ResourceName:      emrAddr,
				ImportState:       true,
				ImportStateId:     "spark_renamed",
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccEMRTemplate_Drift edits and deletes the published document behind Terraform's back.
func TestAccEMRTemplate_Drift(t *testing.T) {
	dir := t.TempDir()
	name := "drift"
	doc := emrDocPath(dir, name)
	config := emrFileConfig(t, dir, emrBody(name, 2, "1h", emrConfigurationsHCL))
	edit := func(change func(map[string]any)) func() { return editDocument(t, doc, change) }
	republished := checkEMRDoc(dir, name, func(tpl *definition.EMRTemplate) error {
		if tpl.InstanceGroups.Master.InstanceType != "m5.xlarge" || tpl.IdleTimeout != "1h" {
			return fmt.Errorf("master %q idle %q: not republished", tpl.InstanceGroups.Master.InstanceType, tpl.IdleTimeout)
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkEMRGone(dir, name),
		Steps: []resource.TestStep{
			{Config: config, Check: republished},
			{
				// Pretty-printed by hand, same content: not a change.
				PreConfig: edit(func(map[string]any) {}),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// Content edited by hand, version left stale: the plan shows the difference and
				// the apply republishes.
				PreConfig: edit(func(m map[string]any) {
					m["idle_timeout"] = "3h"
					m["instance_groups"].(map[string]any)["master"].(map[string]any)["instance_type"] = "m5.4xlarge"
				}),
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(emrAddr, plancheck.ResourceActionUpdate),
				}},
				Check: republished,
			},
			{
				// Only the version edited: the content matches, but the document is not what
				// the provider published, so it is published again.
				PreConfig: edit(func(m map[string]any) { m["version"] = "sha256:0000" }),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(emrAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(emrAddr, tfjsonpath.New("version"), knownvalue.StringRegexp(sha256RE)),
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
					plancheck.ExpectResourceAction(emrAddr, plancheck.ResourceActionCreate),
				}},
				Check: republished,
			},
		},
	})
}

// TestAccEMRTemplate_PlanTimeErrors: invalid templates fail at plan time, naming the rule.
func TestAccEMRTemplate_PlanTimeErrors(t *testing.T) {
	dir := t.TempDir()
	body := func(groups, extra string) string {
		return `
  name          = "bad"
  release_label = "emr-7.2.0"
  service_role  = "EMR_DefaultRole_V2"
  job_flow_role = "EMR_EC2_DefaultRole"
  instance_groups = {
` + groups + `
  }
` + extra
	}
	const master = `    master = { instance_type = "m5.xlarge" }`
	const core = `    core = { instance_type = "m5.xlarge", count = 2 }`
	cases := []struct {
		groups, extra string
		want          string
	}{
		{`    master = { instance_type = "m5.xlarge", count = 2 }`, "", `(?s)Invalid EMR template.*master count is 2; EMR runs 1 master\s+node, or 3`},
		{master + "\n    task = { instance_type = \"m5.xlarge\" }", "", `(?s)Invalid EMR template.*a task group needs a core group`},
		{master + "\n" + core, `  idle_timeout = "30s"`, `(?s)Invalid EMR template.*"30s" is outside EMR's auto-termination\s+range`},
		{master + "\n" + core, `  idle_timeout = "8d"`, `(?s)Invalid EMR template.*"8d" is outside EMR's auto-termination\s+range`},
		{master + "\n" + `    core = { instance_type = "m5.xlarge", market = "RESERVED" }`, "", `(?s)instance_groups.core.market.*value must be one of.*"RESERVED"`},
		{master + "\n" + core, `  configurations = "[{\"Classification\": "`, `(?s)Invalid EMR template.*not valid JSON`},
		{master + "\n" + core, `  configurations = jsonencode({ Classification = "spark" })`, `(?s)Invalid EMR template.*must be a JSON array of\s+objects`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			Config:      emrFileConfig(t, dir, body(c.groups, c.extra)),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(c.want),
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps:                    steps,
	})
}

// TestAccEMRTemplate_S3Registry publishes to an s3:// registry (the in-process S3 stand-in).
func TestAccEMRTemplate_S3Registry(t *testing.T) {
	stack := acctest.Current(t)
	bucket := stack.S3(t).NewBucket(t)
	client, err := stack.S3(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice/emr-templates/on_s3.json"
	get := func() ([]byte, error) {
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	config := stack.ProviderConfigS3(t, fmt.Sprintf(`  registry = "s3://%s/sluice"`, bucket)) +
		"\nresource \"sluice_emr_template\" \"test\" {\n" + emrBody("on_s3", 2, "1h", emrConfigurationsHCL) + "\n}\n"
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
					tpl, err := definition.DecodeEMRTemplate(data)
					if err != nil {
						return err
					}
					if got := s.RootModule().Resources[emrAddr].Primary.Attributes["version"]; got != tpl.Version || tpl.Name != "on_s3" {
						return fmt.Errorf("published %s version %s, state version %s", tpl.Name, tpl.Version, got)
					}
					return nil
				},
			},
			{ResourceName: emrAddr, ImportState: true, ImportStateId: "on_s3", ImportStateVerify: true},
		},
	})
}
