package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

const replicationAddr = "sluice_stream_replication.test"

const replicationARN = "arn:aws:kinesis:us-east-1:123456789012:stream/changes"

func replicationFileConfig(t *testing.T, dir, body string) string {
	return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`) +
		"\nresource \"sluice_stream_replication\" \"test\" {\n" + body + "\n}\n"
}

func replicationDocPath(dir, name string) string {
	return filepath.Join(dir, "replications", name+".json")
}

// statementsReplication is a statements replication that leaves every defaulted attribute unset.
func statementsReplication(name string) string {
	return fmt.Sprintf(`
  name       = %q
  stream_arn = %q
  replicas = {
    use1_a = { connection = "warehouse_use1_a", region = "us-east-1" }
    euw1   = { connection = "warehouse_euw1", region = "eu-west-1" }
  }
  format = "statements"
`, name, replicationARN)
}

// rowsReplication sets every attribute.
func rowsReplication(name, description string) string {
	return fmt.Sprintf(`
  name        = %q
  description = %q
  owner       = "data-platform@acme.example"
  stream_arn  = %q
  replicas = {
    use1_a = { connection = "warehouse_use1_a", region = "us-east-1" }
    use1_b = { connection = "warehouse_use1_b", region = "us-east-1" }
    euw1   = { connection = "warehouse_euw1", region = "eu-west-1" }
  }
  format          = "rows"
  table           = "analytics.clicks"
  insert_mode     = "OVERWRITE_EXISTING"
  key_columns     = ["click_id", "day"]
  max_records     = 2000
  max_bytes       = 4194304
  max_latency     = "250ms"
  staging         = "s3://acme-data/staging/clicks/"
  start_position  = "AT_TIMESTAMP"
  start_timestamp = "2026-11-18T00:00:00Z"
  poison          = "dead_letter"
  dead_letter     = "s3://acme-data/dead/clicks/"
  poison_notify   = ["arn:aws:sns:us-east-1:123456789012:data-alerts", "https://hooks.example.com/sluice"]
  poll_interval   = "700ms"
`, name, description, replicationARN)
}

// checkReplicationDoc decodes the published document behind Terraform's back, checks that
// state's version and definition_json are exactly what is published, and its content with want.
func checkReplicationDoc(dir, name string, want func(*definition.Replication) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		data, err := os.ReadFile(replicationDocPath(dir, name))
		if err != nil {
			return err
		}
		return checkPublishedReplication(s, data, want)
	}
}

func checkPublishedReplication(s *terraform.State, data []byte, want func(*definition.Replication) error) error {
	r, err := definition.DecodeReplication(data)
	if err != nil {
		return fmt.Errorf("published document does not decode: %w", err)
	}
	rs, ok := s.RootModule().Resources[replicationAddr]
	if !ok {
		return errors.New("resource not in state")
	}
	if got := rs.Primary.Attributes["version"]; got != r.Version {
		return fmt.Errorf("state version %s, published version %s", got, r.Version)
	}
	if got := rs.Primary.Attributes["definition_json"]; got != string(data) {
		return fmt.Errorf("state definition_json differs from the published bytes:\n%s\n%s", got, data)
	}
	if want == nil {
		return nil
	}
	return want(r)
}

func checkReplicationGone(dir, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, err := os.Stat(replicationDocPath(dir, name)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still exists (err=%w)", replicationDocPath(dir, name), err)
		}
		return nil
	}
}

// TestAccStreamReplication_Lifecycle: create with every default (the plan shows them, the
// replicas, the version, the document and the read load), update to a rows replication that
// sets every attribute, an empty plan after apply, import of every attribute, rename by
// replacement, destroy.
func TestAccStreamReplication_Lifecycle(t *testing.T) {
	dir := t.TempDir()
	const name = "warehouse"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkReplicationGone(dir, name), checkReplicationGone(dir, "warehouse_v2")),
		Steps: []resource.TestStep{
			{
				Config: replicationFileConfig(t, dir, statementsReplication(name)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("version"), knownvalue.StringRegexp(sha256RE)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("definition_json"),
						knownvalue.StringRegexp(regexp.MustCompile(`^\{"batch":\{"max_bytes":1048576,"max_latency":"1s","max_records":500\},"format":"sluice/replication.v1","name":"warehouse","poison":\{"policy":"stop"\},"poll_interval":"1s","records":\{"format":"statements"\},"replicas":\{"euw1":\{"connection":"warehouse_euw1","region":"eu-west-1"\},"use1_a":\{"connection":"warehouse_use1_a","region":"us-east-1"\}\},"start_position":\{"type":"TRIM_HORIZON"\},"stream_arn":"arn:aws:kinesis:us-east-1:123456789012:stream/changes","version":"sha256:[0-9a-f]{64}"\}$`))),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("replicas"), knownvalue.MapExact(map[string]knownvalue.Check{
						"use1_a": knownvalue.ObjectExact(map[string]knownvalue.Check{"connection": knownvalue.StringExact("warehouse_use1_a"), "region": knownvalue.StringExact("us-east-1"), "iam_role": knownvalue.Null()}),
						"euw1":   knownvalue.ObjectExact(map[string]knownvalue.Check{"connection": knownvalue.StringExact("warehouse_euw1"), "region": knownvalue.StringExact("eu-west-1"), "iam_role": knownvalue.Null()}),
					})),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("read_calls_per_second"), knownvalue.Float64Exact(2)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("max_records"), knownvalue.Int64Exact(definition.DefaultBatchMaxRecords)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("max_bytes"), knownvalue.Int64Exact(definition.DefaultBatchMaxBytes)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("max_latency"), knownvalue.StringExact(definition.DefaultBatchMaxLatency)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("poll_interval"), knownvalue.StringExact(definition.DefaultPollInterval)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("start_position"), knownvalue.StringExact("TRIM_HORIZON")),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("poison"), knownvalue.StringExact("stop")),
				}},
				Check: checkReplicationDoc(dir, name, func(r *definition.Replication) error {
					if r.Records.Format != "statements" || len(r.Replicas) != 2 || r.Replicas["euw1"].Connection != "warehouse_euw1" {
						return fmt.Errorf("published %+v", r)
					}
					return nil
				}),
			},
			{
				Config: replicationFileConfig(t, dir, rowsReplication(name, "Clicks, three replicas")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionUpdate),
					// 3 replicas every 700ms: 4.286 calls/s, within the limit of 5.
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("read_calls_per_second"), knownvalue.Float64Exact(4.286)),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("version"), knownvalue.StringRegexp(sha256RE)),
				}},
				Check: checkReplicationDoc(dir, name, func(r *definition.Replication) error {
					want := definition.Replication{
						Format: definition.FormatReplication, Name: name, Version: r.Version, Description: "Clicks, three replicas",
						Owner: "data-platform@acme.example", StreamARN: replicationARN,
						Replicas: map[string]definition.Replica{
							"use1_a": {Connection: "warehouse_use1_a", Region: "us-east-1"},
							"use1_b": {Connection: "warehouse_use1_b", Region: "us-east-1"},
							"euw1":   {Connection: "warehouse_euw1", Region: "eu-west-1"},
						},
						Records:       definition.Records{Format: "rows", Table: "analytics.clicks", InsertMode: "OVERWRITE_EXISTING", KeyColumns: []string{"click_id", "day"}},
						Batch:         definition.Batch{MaxRecords: 2000, MaxBytes: 4 << 20, MaxLatency: "250ms"},
						Staging:       "s3://acme-data/staging/clicks/",
						StartPosition: definition.StartPosition{Type: "AT_TIMESTAMP", Timestamp: "2026-11-18T00:00:00Z"},
						Poison: definition.Poison{Policy: "dead_letter", DeadLetter: "s3://acme-data/dead/clicks/",
							Notify: []string{"arn:aws:sns:us-east-1:123456789012:data-alerts", "https://hooks.example.com/sluice"}},
						PollInterval: "700ms",
					}
					if got, exp := fmt.Sprintf("%+v", *r), fmt.Sprintf("%+v", want); got != exp {
						return fmt.Errorf("published\n%s\nwant\n%s", got, exp)
					}
					return nil
				}),
			},
			{
				Config: replicationFileConfig(t, dir, rowsReplication(name, "Clicks, three replicas")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				ResourceName:      replicationAddr,
				ImportState:       true,
				ImportStateId:     name,
				ImportStateVerify: true,
			},
			{
				Config: replicationFileConfig(t, dir, rowsReplication("warehouse_v2", "Clicks, three replicas")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(checkReplicationGone(dir, name), checkReplicationDoc(dir, "warehouse_v2", nil)),
			},
			{
				// Import refuses a name that cannot be a replication, before reading anything.
				ResourceName:  replicationAddr,
				ImportState:   true,
				ImportStateId: "..",
				ExpectError:   wordsRE("Invalid import ID", "terraform import sluice_stream_replication.warehouse warehouse"),
			},
		},
	})
}

// TestAccStreamReplication_Drift edits and deletes the published document behind Terraform's
// back: the plan shows what changed and the apply publishes the configuration again.
func TestAccStreamReplication_Drift(t *testing.T) {
	dir := t.TempDir()
	const name = "drift"
	doc := replicationDocPath(dir, name)
	config := replicationFileConfig(t, dir, rowsReplication(name, "Clicks"))
	edit := func(change func(map[string]any)) func() { return editDocument(t, doc, change) }
	republished := checkReplicationDoc(dir, name, func(r *definition.Replication) error {
		if r.Replicas["euw1"].Connection != "warehouse_euw1" || r.PollInterval != "700ms" || r.Records.InsertMode != "OVERWRITE_EXISTING" {
			return fmt.Errorf("not republished: %+v", r)
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkReplicationGone(dir, name),
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
				// Content edited by hand, version left stale: the plan shows each attribute going
				// back to the configuration, and the apply republishes.
				PreConfig: edit(func(m map[string]any) {
					m["replicas"].(map[string]any)["euw1"] = map[string]any{"connection": "someone_elses", "region": "eu-west-1"}
					m["poll_interval"] = "100ms"
					m["records"].(map[string]any)["insert_mode"] = "APPEND"
				}),
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("replicas").AtMapKey("euw1").AtMapKey("connection"), knownvalue.StringExact("warehouse_euw1")),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("poll_interval"), knownvalue.StringExact("700ms")),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("insert_mode"), knownvalue.StringExact("OVERWRITE_EXISTING")),
				}},
				Check: republished,
			},
			{
				// Only the version edited: republished.
				PreConfig: edit(func(m map[string]any) { m["version"] = "sha256:0000" }),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionUpdate),
				}},
				Check: republished,
			},
			{
				// A field sluice-runner does not know: the runner would refuse the document.
				PreConfig: edit(func(m map[string]any) { m["surprise"] = true }),
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionUpdate),
				}},
				Check: republished,
			},
			{
				// Not JSON at all.
				PreConfig: func() {
					if err := os.WriteFile(doc, []byte("{ truncated"), 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionUpdate),
				}},
				Check: republished,
			},
			{
				// Deleted by hand: created again.
				PreConfig: func() {
					if err := os.Remove(doc); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(replicationAddr, plancheck.ResourceActionCreate),
				}},
				Check: republished,
			},
		},
	})
}

// minimalReplication is a valid statements replication named "bad" with extra attributes;
// replicas replaces the default replica map when set.
func minimalReplication(replicas, extra string) string {
	if replicas == "" {
		replicas = `{ a = { connection = "replica_a", region = "us-east-1" } }`
	}
	return fmt.Sprintf(`
  name       = "bad"
  stream_arn = %q
  replicas   = %s
%s
`, replicationARN, replicas, extra)
}

// TestAccStreamReplication_PlanTimeErrors: every invalid replication fails at plan time with
// an error at the attribute, naming it and the value.
func TestAccStreamReplication_PlanTimeErrors(t *testing.T) {
	dir := t.TempDir()
	rows := func(attrs string) string { return "  format = \"rows\"\n" + attrs }
	cases := []struct {
		name, replicas, extra string // name says what is wrong
		want                  *regexp.Regexp
	}{
		{"secret-looking connection", `{ euw1 = { connection = "postgres://admin:hunter2@db.example.com/dev", region = "eu-west-1" } }`, `  format = "statements"`,
			wordsRE("Invalid stream replication", "with sluice_stream_replication.test",
				"replicas.euw1.connection:", `"postgres://admin:hunter2@db.example.com/dev" is not a connection name`, "never a URL or a secret")},
		{"two replicas on one connection", `{
    a = { connection = "warehouse", region = "us-east-1" }
    b = { connection = "WAREHOUSE", region = "eu-west-1" }
  }`, `  format = "statements"`,
			wordsRE("replicas.b.connection:", `connection "WAREHOUSE" is also replica "a"'s: two replicas on one database would apply every change twice`)},
		{"replica name", `{ Bad-Name = { connection = "x", region = "us-east-1" } }`, `  format = "statements"`,
			wordsRE("replicas.Bad-Name:", `replica name "Bad-Name" must match`)},
		{"region", `{ a = { connection = "x", region = "Europe" } }`, `  format = "statements"`,
			wordsRE("replicas.a.region:", `"Europe" is not an AWS region such as "us-east-1"`)},
		{"no replicas", `{}`, `  format = "statements"`, wordsRE("replicas:", "at least one replica is required")},
		{"format", "", `  format = "csv"`, wordsRE(`Attribute format value must be one of: ["statements" "rows"], got: "csv"`)},
		{"rows without table", "", rows(`  insert_mode = "APPEND"`),
			wordsRE("table:", `is required: a schema-qualified table name such as "analytics.clicks"`)},
		{"rows without insert_mode", "", rows(`  table = "analytics.clicks"`),
			wordsRE("insert_mode:", `format = "rows" needs insert_mode, one of APPEND, KEEP_EXISTING, OVERWRITE_EXISTING`)},
		{"rows without key_columns", "", rows(`  table = "analytics.clicks"
  insert_mode = "KEEP_EXISTING"`),
			wordsRE("key_columns:", "insert_mode KEEP_EXISTING needs key_columns: the columns that identify a row")},
		{"rows with a bad table", "", rows(`  table = "clicks"
  insert_mode = "APPEND"`),
			wordsRE("table:", `"clicks" must be a schema-qualified table name`)},
		{"TRUNCATE", "", rows(`  table = "analytics.clicks"
  insert_mode = "TRUNCATE"`),
			wordsRE(`Attribute insert_mode value must be one of: ["APPEND" "KEEP_EXISTING" "OVERWRITE_EXISTING"], got: "TRUNCATE"`)},
		{"statements with insert_mode", "", `  format = "statements"
  insert_mode = "APPEND"`,
			wordsRE("insert_mode:", `table, insert_mode and key_columns apply only to format = "rows"`)},
		{"AT_TIMESTAMP without timestamp", "", `  format = "statements"
  start_position = "AT_TIMESTAMP"`,
			wordsRE("start_timestamp:", `"" is not an RFC 3339 time: start_position = "AT_TIMESTAMP" needs one`)},
		{"timestamp not RFC 3339", "", `  format = "statements"
  start_position = "AT_TIMESTAMP"
  start_timestamp = "yesterday"`,
			wordsRE("start_timestamp:", `"yesterday" is not an RFC 3339 time`)},
		{"timestamp without AT_TIMESTAMP", "", `  format = "statements"
  start_timestamp = "2026-11-18T00:00:00Z"`,
			wordsRE("start_timestamp:", `applies only to start_position = "AT_TIMESTAMP"`)},
		{"dead_letter without prefix", "", `  format = "statements"
  poison = "dead_letter"`,
			wordsRE("dead_letter:", "is required: a location starting with s3:// or file://")},
		{"dead_letter not a prefix", "", `  format = "statements"
  poison = "dead_letter"
  dead_letter = "/var/dead"`,
			wordsRE("dead_letter:", `"/var/dead" must start with s3:// or file://`)},
		{"dead_letter with stop", "", `  format = "statements"
  dead_letter = "s3://acme/dead/"`,
			wordsRE("dead_letter:", `applies only to poison = "dead_letter"`)},
		{"notify target", "", `  format = "statements"
  poison_notify = ["ops@acme.example"]`,
			wordsRE("poison_notify.0:", `"ops@acme.example" is neither an SNS topic ARN`)},
		{"staging", "", `  format = "statements"
  staging = "acme/staging"`,
			wordsRE("staging:", `"acme/staging" must start with s3:// or file://`)},
		{"poll_interval", "", `  format = "statements"
  poll_interval = "0s"`,
			wordsRE("poll_interval:", `must be more than 0, got "0s"`)},
		{"max_latency", "", `  format = "statements"
  max_latency = "soon"`,
			wordsRE("max_latency:", `"soon"`)},
		{"max_records", "", `  format = "statements"
  max_records = 20000`,
			wordsRE("max_records:", "must be between 1 and 10000 (the most one GetRecords call returns), got 20000")},
		{"max_bytes", "", `  format = "statements"
  max_bytes = 1000`,
			wordsRE("max_bytes:", "must be between 1048576 (one Kinesis record) and 67108864, got 1000")},
		{"key_columns listed twice", "", rows(`  table = "analytics.clicks"
  insert_mode = "KEEP_EXISTING"
  key_columns = ["id", "id"]`),
			wordsRE("key_columns.1:", `column "id" is listed twice`)},
		{"empty key_columns", "", rows(`  table = "analytics.clicks"
  insert_mode = "APPEND"
  key_columns = []`),
			wordsRE("Attribute key_columns list must contain at least 1 elements")},
	}
	var steps []resource.TestStep
	step := func(body string, want *regexp.Regexp) {
		steps = append(steps, resource.TestStep{Config: replicationFileConfig(t, dir, body), PlanOnly: true, ExpectError: want})
	}
	statements := minimalReplication("", `  format = "statements"`)
	step(strings.Replace(statements, replicationARN, "arn:aws:sns:us-east-1:123456789012:changes", 1),
		wordsRE("Invalid stream replication", "with sluice_stream_replication.test", `stream_arn = "arn:aws:sns:us-east-1:123456789012:changes"`,
			"stream_arn:", `"arn:aws:sns:us-east-1:123456789012:changes" is not a Kinesis stream ARN such as`))
	step(strings.Replace(statements, `name       = "bad"`, `name = ".."`, 1),
		wordsRE("Invalid replication name", definition.ValidateName("replication", "..").Error()))
	for _, c := range cases {
		step(minimalReplication(c.replicas, c.extra), c.want)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps:                    steps,
	})
}

// TestAccStreamReplication_UnknownValuesAreCheckedWhenKnown: a stream_arn known only at apply
// does not fail the plan (version and definition_json are unknown there), and is checked once
// it is known, before anything is published.
func TestAccStreamReplication_UnknownValuesAreCheckedWhenKnown(t *testing.T) {
	dir := t.TempDir()
	config := func(arn string) string {
		return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`) + fmt.Sprintf(`
resource "terraform_data" "arn" {
  input = %q
}
resource "sluice_stream_replication" "test" {
  name       = "later"
  stream_arn = terraform_data.arn.output
  replicas   = { a = { connection = "replica_a", region = "us-east-1" } }
  format     = "statements"
}
`, arn)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkReplicationGone(dir, "later"),
		Steps: []resource.TestStep{
			{
				Config:      config("not-an-arn"),
				ExpectError: wordsRE("Error running apply", "stream_arn:", `"not-an-arn" is not a Kinesis stream ARN`),
			},
			{
				// Nothing was published by the failed apply (a Check does not run after an
				// expected error, so look before this step).
				PreConfig: func() {
					if err := checkReplicationGone(dir, "later")(nil); err != nil {
						t.Error(err)
					}
				},
				Config: config(replicationARN),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(replicationAddr, tfjsonpath.New("version")),
					plancheck.ExpectUnknownValue(replicationAddr, tfjsonpath.New("definition_json")),
					plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("read_calls_per_second"), knownvalue.Float64Exact(1)),
				}},
				Check: checkReplicationDoc(dir, "later", func(r *definition.Replication) error {
					if r.StreamARN != replicationARN {
						return fmt.Errorf("stream_arn %q", r.StreamARN)
					}
					return nil
				}),
			},
		},
	})
}

// TestAccStreamReplication_ReadCallsPerSecond: the plan shows the read load of the
// subscribers on each shard: replicas ÷ poll_interval.
func TestAccStreamReplication_ReadCallsPerSecond(t *testing.T) {
	dir := t.TempDir()
	six := `{
    a = { connection = "a", region = "us-east-1" }
    b = { connection = "b", region = "us-east-1" }
    c = { connection = "c", region = "us-east-1" }
    d = { connection = "d", region = "eu-west-1" }
    e = { connection = "e", region = "eu-west-1" }
    f = { connection = "f", region = "eu-west-1" }
  }`
	plan := func(replicas, poll string, want float64) resource.TestStep {
		return resource.TestStep{
			Config:             replicationFileConfig(t, dir, minimalReplication(replicas, "  format = \"statements\"\n  poll_interval = \""+poll+"\"")),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(replicationAddr, tfjsonpath.New("read_calls_per_second"), knownvalue.Float64Exact(want)),
			}},
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			plan(six, "1s", 6),
			plan(six, "2s", 3),
			plan("", "700ms", 1.429),
			plan("", "1m", 0.017),
		},
	})
}

// TestAccStreamReplication_ReadLimitWarningInThePlan runs terraform plan itself (the testing
// framework does not show warnings): six replicas polling every second warn, naming the
// figure, the limit and the fix; two do not.
func TestAccStreamReplication_ReadLimitWarningInThePlan(t *testing.T) {
	acctest.Current(t)
	cli := newTFCLI(t)
	write := func(replicas string) {
		cfg := `
provider "sluice" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  registry                    = "file://` + filepath.Join(cli.dir, "registry") + `"
}
terraform {
  required_providers {
    sluice = { source = "sluice-data/sluice" }
  }
}
resource "sluice_stream_replication" "test" {
` + minimalReplication(replicas, `  format = "statements"`) + `
}
`
		if err := os.WriteFile(filepath.Join(cli.dir, "main.tf"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var replicas []string
	for _, r := range []string{"a", "b", "c", "d", "e", "f"} {
		replicas = append(replicas, fmt.Sprintf(`    %s = { connection = %q, region = "us-east-1" }`, r, r))
	}
	write("{\n" + strings.Join(replicas, "\n") + "\n  }")
	cli.run([]int{0}, "init", "-input=false", "-backend=false")
	_, out := cli.run([]int{0}, "plan", "-input=false")
	want := wordsRE(`Warning: Subscribers would exceed the shard read limit`,
		`Stream replication "bad": with 6 replicas polling every 1s, the subscribers make 6 GetRecords calls per second on every shard of `+replicationARN+`,`,
		`over Kinesis's limit of 5 per shard (shared by all readers of the stream without enhanced fan-out, with 2 MB/s).`,
		`Reads would be throttled and every replica would lag. Set poll_interval to 1.2s or more, or serve fewer replicas from this stream.`)
	if !want.MatchString(out) {
		t.Errorf("plan of 6 replicas polling every 1s does not warn as expected:\n%s", out)
	}
	if !strings.Contains(out, "read_calls_per_second = 6") {
		t.Errorf("plan does not show read_calls_per_second = 6:\n%s", out)
	}

	write("{\n" + strings.Join(replicas[:2], "\n") + "\n  }")
	_, out = cli.run([]int{0}, "plan", "-input=false")
	if strings.Contains(out, "Warning") || !strings.Contains(out, "read_calls_per_second = 2") {
		t.Errorf("plan of 2 replicas polling every 1s: want read_calls_per_second = 2 and no warning:\n%s", out)
	}
}

// TestAccStreamReplication_ScriptInDescriptionRoundTrips: markup in a description is data. It
// is published HTML-escaped (what a status page then shows is text), reads back exactly, and
// never shows as a diff.
func TestAccStreamReplication_ScriptInDescriptionRoundTrips(t *testing.T) {
	dir := t.TempDir()
	const desc = `<script>alert("owned")</script> & <b>bold</b>`
	config := replicationFileConfig(t, dir, rowsReplication("markup", desc))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkReplicationGone(dir, "markup"),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(replicationAddr, "description", desc),
					checkReplicationDoc(dir, "markup", func(r *definition.Replication) error {
						if r.Description != desc {
							return fmt.Errorf("description published as %q", r.Description)
						}
						return nil
					}),
					func(*terraform.State) error {
						data, err := os.ReadFile(replicationDocPath(dir, "markup"))
						if err != nil {
							return err
						}
						const escaped = `"description":"\u003cscript\u003ealert(\"owned\")\u003c/script\u003e \u0026 \u003cb\u003ebold\u003c/b\u003e"`
						if strings.ContainsAny(string(data), "<>&") || !strings.Contains(string(data), escaped) {
							return fmt.Errorf("document is not HTML-escaped as %s:\n%s", escaped, data)
						}
						return nil
					},
				),
			},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{ResourceName: replicationAddr, ImportState: true, ImportStateId: "markup", ImportStateVerify: true},
		},
	})
}

// TestAccStreamReplication_ExistingDocumentIsNotOverwritten: creating a replication whose
// name is already published fails, naming the import command, and leaves the document alone.
func TestAccStreamReplication_ExistingDocumentIsNotOverwritten(t *testing.T) {
	dir := t.TempDir()
	doc := replicationDocPath(dir, "bad")
	const foreign = `{"format":"sluice/replication.v1","name":"bad"}`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			PreConfig: func() {
				if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(doc, []byte(foreign), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Config:      replicationFileConfig(t, dir, minimalReplication("", `  format = "statements"`)),
			ExpectError: wordsRE("Stream replication already exists", `already has a stream replication named "bad"`, "terraform import sluice_stream_replication.<name> bad"),
		}, {
			// A Check does not run after an expected error: look at the document before the
			// next (empty) step instead.
			PreConfig: func() {
				if data, err := os.ReadFile(doc); err != nil || string(data) != foreign {
					t.Errorf("the failed create changed the existing document: %q, %v", data, err)
				}
			},
			Config:   acctest.Current(t).ProviderConfig(`  registry = "file://` + dir + `"`),
			PlanOnly: true,
		}},
	})
}

// TestAccStreamReplication_DocumentOverMaxDocumentSize: the provider's max_document_size applies
// to replications too, at plan time, naming the replication and the limit.
func TestAccStreamReplication_DocumentOverMaxDocumentSize(t *testing.T) {
	dir := t.TempDir()
	config := func(size string) string {
		return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`, `  max_document_size = "`+size+`"`) +
			"\nresource \"sluice_stream_replication\" \"test\" {\n" + minimalReplication("", `  format = "statements"
  description = "`+strings.Repeat("x", 2000)+`"`) + "\n}\n"
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkReplicationGone(dir, "bad"),
		Steps: []resource.TestStep{
			{
				Config: config("1KiB"), PlanOnly: true,
				ExpectError: wordsRE(`stream replication document too large`, `The published document of stream replication "bad" would be`,
					`bytes, over the provider's max_document_size of 1KiB (1024 bytes). Shorten it (its description, its replicas), or raise max_document_size`),
			},
			{Config: config("8KiB"), Check: checkReplicationDoc(dir, "bad", nil)},
		},
	})
}

// TestAccStreamReplication_S3Registry publishes to an s3:// registry on the in-process S3
// stand-in and imports from it.
func TestAccStreamReplication_S3Registry(t *testing.T) {
	stack := acctest.Current(t)
	bucket := stack.S3(t).NewBucket(t)
	client, err := stack.S3(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice/replications/on_s3.json"
	get := func() ([]byte, error) {
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	config := stack.ProviderConfigS3(t, fmt.Sprintf(`  registry = "s3://%s/sluice"`, bucket)) +
		"\nresource \"sluice_stream_replication\" \"test\" {\n" + rowsReplication("on_s3", "on S3") + "\n}\n"
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
					return checkPublishedReplication(s, data, func(r *definition.Replication) error {
						if r.Name != "on_s3" || !slices.Equal(r.ReplicaNames(), []string{"euw1", "use1_a", "use1_b"}) {
							return fmt.Errorf("published %+v", r)
						}
						return nil
					})
				},
			},
			{ResourceName: replicationAddr, ImportState: true, ImportStateId: "on_s3", ImportStateVerify: true},
		},
	})
}

// TestAccStreamReplication_Example applies the documented example: a stream on kinesis-local
// and two replications, one naming the stream's ARN.
func TestAccStreamReplication_Example(t *testing.T) {
	dir := t.TempDir()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkReplicationGone(dir, "warehouse"), checkReplicationGone(dir, "clicks")),
		Steps: []resource.TestStep{{
			Config: exampleConfig(t, dir, "resources/sluice_stream_replication/resource.tf"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("sluice_stream_replication.warehouse", tfjsonpath.New("read_calls_per_second"), knownvalue.Float64Exact(3)),
				plancheck.ExpectUnknownValue("sluice_stream_replication.warehouse", tfjsonpath.New("version")),
				plancheck.ExpectKnownValue("sluice_stream_replication.clicks", tfjsonpath.New("version"), knownvalue.StringRegexp(sha256RE)),
			}},
			Check: func(s *terraform.State) error {
				stream := s.RootModule().Resources["sluice_kinesis_stream.changes"]
				if stream == nil {
					return errors.New("stream not in state")
				}
				for name, want := range map[string]func(*definition.Replication) error{
					"warehouse": func(r *definition.Replication) error {
						if r.StreamARN != stream.Primary.Attributes["arn"] || len(r.Replicas) != 3 || r.Poison.Policy != "stop" ||
							r.Replicas["euw1"].IAMRole != "arn:aws:iam::123456789012:role/redshift-copy-euw1" || r.Replicas["use1_a"].IAMRole != "" {
							return fmt.Errorf("warehouse published %+v (stream %s)", r, stream.Primary.Attributes["arn"])
						}
						return nil
					},
					"clicks": func(r *definition.Replication) error {
						if r.Records.Format != "rows" || r.StartPosition.Timestamp != "2026-11-18T00:00:00Z" || r.Poison.DeadLetter == "" {
							return fmt.Errorf("clicks published %+v", r)
						}
						return nil
					},
				} {
					data, err := os.ReadFile(replicationDocPath(dir, name))
					if err != nil {
						return err
					}
					r, err := definition.DecodeReplication(data)
					if err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
					if err := want(r); err != nil {
						return err
					}
				}
				return nil
			},
		}},
	})
}

// TestAccStreamReplication_ImportErrors: importing a name nobody published, or a document that
// is not a replication, fails and says which.
func TestAccStreamReplication_ImportErrors(t *testing.T) {
	dir := t.TempDir()
	config := replicationFileConfig(t, dir, minimalReplication("", `  format = "statements"`))
	broken := replicationDocPath(dir, "broken")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config, ResourceName: replicationAddr, ImportState: true, ImportStateId: "missing",
				ExpectError: wordsRE("Cannot import non-existent remote object"),
			},
			{
				PreConfig: func() {
					if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(broken, []byte(`{"format":"sluice/pipeline.v1","name":"broken"}`), 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config: config, ResourceName: replicationAddr, ImportState: true, ImportStateId: "broken",
				ExpectError: wordsRE("Reading stream replication failed", "replications/broken.json in registry file://"+dir,
					`is not a readable sluice/replication.v1 document: document is "sluice/pipeline.v1", expected "sluice/replication.v1"`),
			},
		},
	})
}
