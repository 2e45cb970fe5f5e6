package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

const streamAddr = "sluice_kinesis_stream.test"

func randomName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9)
}

func kinesisClient(t *testing.T) *awskinesis.Client {
	t.Helper()
	c, err := acctest.Current(t).Kinesis.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkStream compares what AWS reports with what the test expects, behind Terraform's back.
func checkStream(t *testing.T, name, mode string, openShards int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := kinesisClient(t).DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return err
		}
		d := out.StreamDescriptionSummary
		if got := string(d.StreamModeDetails.StreamMode); got != mode {
			return fmt.Errorf("AWS reports mode %s, want %s", got, mode)
		}
		if got := int(aws.ToInt32(d.OpenShardCount)); got != openShards {
			return fmt.Errorf("AWS reports %d open shards, want %d", got, openShards)
		}
		if d.StreamStatus != types.StreamStatusActive {
			return fmt.Errorf("AWS reports status %s, want ACTIVE", d.StreamStatus)
		}
		return nil
	}
}

func checkDestroyed(t *testing.T, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, err := kinesisClient(t).DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("stream %s still exists after destroy (err=%w)", name, err)
	}
}

func steps(vs ...int64) knownvalue.Check {
	checks := make([]knownvalue.Check, len(vs))
	for i, v := range vs {
		checks[i] = knownvalue.Int64Exact(v)
	}
	return knownvalue.ListExact(checks)
}

func streamConfig(t *testing.T, defaultTags, body string) string {
	extra := ""
	if defaultTags != "" {
		extra = "  default_tags {\n    tags = " + defaultTags + "\n  }"
	}
	return acctest.Current(t).ProviderConfig(extra) + "\nresource \"sluice_kinesis_stream\" \"test\" {\n" + body + "\n}\n"
}

// TestAccKinesisStream_Lifecycle walks the path: 2 shards -> 7 (two steps) -> ON_DEMAND
// -> PROVISIONED 3 -> retention, encryption, metrics, tags and default_tags -> import -> destroy,
// with an empty plan after every step (terraform-plugin-testing's default check).
func TestAccKinesisStream_Lifecycle(t *testing.T) {
	name := randomName("acc-life")
	cfg := func(defaultTags, body string) string {
		return streamConfig(t, defaultTags, fmt.Sprintf("  name = %q\n%s", name, body))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{
				Config: cfg(`{ team = "data" }`, `
  shard_count = 2
  tags = { env = "dev" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps()),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("tags_all"), knownvalue.MapExact(map[string]knownvalue.Check{
						"team": knownvalue.StringExact("data"), "env": knownvalue.StringExact("dev"),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("stream_mode"), knownvalue.StringExact("PROVISIONED")),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("open_shard_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("status"), knownvalue.StringExact("ACTIVE")),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("retention_period"), knownvalue.Int64Exact(24)),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("encryption_type"), knownvalue.StringExact("NONE")),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("arn"),
						knownvalue.StringRegexp(regexp.MustCompile(`^arn:aws:kinesis:us-east-1:\d{12}:stream/`+name+`$`))),
				},
				Check: checkStream(t, name, "PROVISIONED", 2),
			},
			{
				Config: cfg(`{ team = "data" }`, `
  shard_count = 7
  tags = { env = "dev" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps(4, 7)),
				}},
				Check: checkStream(t, name, "PROVISIONED", 7),
			},
			{
				Config: cfg(`{ team = "data" }`, `
  stream_mode = "ON_DEMAND"
  tags = { env = "dev" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps()),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("shard_count"), knownvalue.Null()),
				},
				Check: checkStream(t, name, "ON_DEMAND", 7),
			},
			{
				Config: cfg(`{ team = "data" }`, `
  stream_mode = "PROVISIONED"
  shard_count = 3
  tags = { env = "dev" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps(4, 3)),
				}},
				Check: checkStream(t, name, "PROVISIONED", 3),
			},
			{
				Config: cfg(`{ team = "platform", cost = "etl" }`, `
  shard_count         = 3
  retention_period    = 72
  encryption_type     = "KMS"
  kms_key_id          = "alias/aws/kinesis"
  shard_level_metrics = ["IncomingBytes", "OutgoingBytes"]
  tags = { env = "prod", cost = "stream" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("tags_all"), knownvalue.MapExact(map[string]knownvalue.Check{
						"team": knownvalue.StringExact("platform"), "env": knownvalue.StringExact("prod"), "cost": knownvalue.StringExact("stream"),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("retention_period"), knownvalue.Int64Exact(72)),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("encryption_type"), knownvalue.StringExact("KMS")),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("kms_key_id"), knownvalue.StringExact("alias/aws/kinesis")),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("shard_level_metrics"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("IncomingBytes"), knownvalue.StringExact("OutgoingBytes"),
					})),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("tags"), knownvalue.MapExact(map[string]knownvalue.Check{
						"env": knownvalue.StringExact("prod"), "cost": knownvalue.StringExact("stream"),
					})),
				},
				Check: checkTags(t, name, map[string]string{"team": "platform", "env": "prod", "cost": "stream"}),
			},
			{
				// Back to defaults: retention shrinks, encryption stops, metrics and a tag go.
				Config: cfg(`{ team = "platform" }`, `
  shard_count = 3
  tags = { env = "prod" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("retention_period"), knownvalue.Int64Exact(24)),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("encryption_type"), knownvalue.StringExact("NONE")),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("kms_key_id"), knownvalue.Null()),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("shard_level_metrics"), knownvalue.Null()),
				},
				Check: checkTags(t, name, map[string]string{"team": "platform", "env": "prod"}),
			},
			{
				ResourceName:                         streamAddr,
				ImportState:                          true,
				ImportStateId:                        name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// reshard_steps records the last apply's calls, which an import cannot know.
				ImportStateVerifyIgnore: []string{"reshard_steps"},
			},
		},
	})
}

func checkTags(t *testing.T, name string, want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := kinesisClient(t).ListTagsForStream(context.Background(), &awskinesis.ListTagsForStreamInput{StreamName: aws.String(name)})
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, tag := range out.Tags {
			got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("AWS has tags %v, want %v", got, want)
		}
		return nil
	}
}

// TestAccKinesisStream_OneToNineThenModes is the README's walk-through: 1 -> 9 shards in one
// apply (four calls, shown in the plan), then ON_DEMAND and back.
func TestAccKinesisStream_OneToNineThenModes(t *testing.T) {
	name := randomName("acc-nine")
	cfg := func(body string) string { return streamConfig(t, "", fmt.Sprintf("  name = %q\n%s", name, body)) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{Config: cfg(`  shard_count = 1`), Check: checkStream(t, name, "PROVISIONED", 1)},
			{
				Config: cfg(`  shard_count = 9`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps(2, 4, 8, 9)),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("open_shard_count"), knownvalue.Int64Exact(9)),
				}},
				Check: checkStream(t, name, "PROVISIONED", 9),
			},
			{Config: cfg(`  stream_mode = "ON_DEMAND"`), Check: checkStream(t, name, "ON_DEMAND", 9)},
			{
				Config: cfg(`  shard_count = 9`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps()),
				}},
				Check: checkStream(t, name, "PROVISIONED", 9),
			},
		},
	})
}

// TestAccKinesisStream_DriftIsDetectedAndRepaired changes the stream behind Terraform's back:
// a reshard shows as an update with the steps back, and a deleted stream is created again.
func TestAccKinesisStream_DriftIsDetectedAndRepaired(t *testing.T) {
	name := randomName("acc-drift")
	config := streamConfig(t, "", fmt.Sprintf(`  name = %q
  shard_count = 2
  tags = { owner = "etl" }`, name))
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					c := kinesisClient(t)
					if _, err := c.UpdateShardCount(ctx, &awskinesis.UpdateShardCountInput{
						StreamName: aws.String(name), TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling,
					}); err != nil {
						t.Fatal(err)
					}
					waitActive(t, name)
					if _, err := c.AddTagsToStream(ctx, &awskinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: map[string]string{"rogue": "1", "owner": "someone-else"}}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(streamAddr, tfjsonpath.New("reshard_steps"), steps(2)),
				}},
				Check: resource.ComposeTestCheckFunc(checkStream(t, name, "PROVISIONED", 2), checkTags(t, name, map[string]string{"owner": "etl"})),
			},
			{
				PreConfig: func() {
					if _, err := kinesisClient(t).DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
						t.Fatal(err)
					}
					waitGone(t, name)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(streamAddr, plancheck.ResourceActionCreate),
				}},
				Check: checkStream(t, name, "PROVISIONED", 2),
			},
		},
	})
}

func waitActive(t *testing.T, name string) {
	t.Helper()
	for range 200 {
		out, err := kinesisClient(t).DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("stream %s did not become ACTIVE", name)
}

func waitGone(t *testing.T, name string) {
	t.Helper()
	for range 200 {
		_, err := kinesisClient(t).DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("stream %s was not deleted", name)
}

// TestAccKinesisStream_OnDemandAllMetricsAndImport creates an ON_DEMAND stream with every metric
// and imports it. ALL comes back from AWS as the seven metric names, which the import shows.
func TestAccKinesisStream_OnDemandAllMetricsAndImport(t *testing.T) {
	name := randomName("acc-od")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{
				Config: streamConfig(t, "", fmt.Sprintf(`  name = %q
  stream_mode         = "ON_DEMAND"
  shard_level_metrics = ["ALL"]
  enforce_consumer_deletion = true`, name)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("shard_level_metrics"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("ALL")})),
					statecheck.ExpectKnownValue(streamAddr, tfjsonpath.New("shard_count"), knownvalue.Null()),
				},
				Check: resource.TestCheckResourceAttrSet(streamAddr, "open_shard_count"),
			},
			{
				ResourceName:                         streamAddr,
				ImportState:                          true,
				ImportStateId:                        name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"reshard_steps", "shard_level_metrics", "enforce_consumer_deletion"},
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					if n := s[0].Attributes["shard_level_metrics.#"]; n != "7" {
						return fmt.Errorf("imported shard_level_metrics has %s entries, want the 7 metrics ALL stands for", n)
					}
					return nil
				},
			},
		},
	})
}

// TestAccKinesisStream_TimeoutLosesNothing makes an update hit its timeout, then applies again
// without it: the stream was kept, state was kept, and the second apply finishes the change.
func TestAccKinesisStream_TimeoutLosesNothing(t *testing.T) {
	name := randomName("acc-timeout")
	cfg := func(body string) string { return streamConfig(t, "", fmt.Sprintf("  name = %q\n%s", name, body)) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{Config: cfg(`  shard_count = 1`)},
			{
				Config: cfg(`  shard_count = 4
  timeouts {
    update = "1ms"
  }`),
				ExpectError: regexp.MustCompile(`(?s)Updating Kinesis stream failed.*context deadline exceeded`),
			},
			{
				Config: cfg(`  shard_count = 4`),
				Check:  checkStream(t, name, "PROVISIONED", 4),
			},
		},
	})
}

func TestAccKinesisStream_ConsumersBlockDestroyUnlessEnforced(t *testing.T) {
	name := randomName("acc-consumer")
	var arn string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{
				Config: streamConfig(t, "", fmt.Sprintf("  name = %q\n  shard_count = 1", name)),
				Check: func(s *terraform.State) error {
					arn = s.RootModule().Resources[streamAddr].Primary.Attributes["arn"]
					_, err := kinesisClient(t).RegisterStreamConsumer(context.Background(), &awskinesis.RegisterStreamConsumerInput{
						StreamARN: aws.String(arn), ConsumerName: aws.String("reader"),
					})
					return err
				},
			},
			{
				Config:      streamConfig(t, "", fmt.Sprintf("  name = %q\n  shard_count = 1", name)),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)registered consumers.*enforce_consumer_deletion = true`),
			},
			{
				// kinesis-local sometimes deletes the stream even as it refuses (a stand-in
				// quirk; AWS keeps it), so this step only clears the consumer for cleanup.
				PreConfig: func() {
					_, _ = kinesisClient(t).DeregisterStreamConsumer(context.Background(), &awskinesis.DeregisterStreamConsumerInput{
						StreamARN: aws.String(arn), ConsumerName: aws.String("reader"),
					})
					time.Sleep(time.Second)
				},
				Config: streamConfig(t, "", fmt.Sprintf("  name = %q\n  shard_count = 1", name)),
			},
		},
	})
}

// TestAccKinesisStream_PlanTimeErrors proves each impossible configuration fails at plan time
// with the attribute named, before anything is created.
func TestAccKinesisStream_PlanTimeErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"shard_count with ON_DEMAND", `name = "x"
  stream_mode = "ON_DEMAND"
  shard_count = 2`, `(?s)shard_count.*must not be set when stream_mode is ON_DEMAND`},
		{"PROVISIONED without shard_count", `name = "x"`, `(?s)shard_count.*is required when stream_mode is PROVISIONED`},
		{"retention below range", `name = "x"
  shard_count = 1
  retention_period = 23`, `(?s)retention_period.*between 24 and 8760, got: 23`},
		{"retention above range", `name = "x"
  shard_count = 1
  retention_period = 9000`, `(?s)retention_period.*between 24 and 8760, got: 9000`},
		{"kms_key_id without KMS", `name = "x"
  shard_count = 1
  kms_key_id = "alias/aws/kinesis"`, `(?s)kms_key_id.*encryption_type is NONE`},
		{"KMS without kms_key_id", `name = "x"
  shard_count = 1
  encryption_type = "KMS"`, `(?s)kms_key_id.*is required when encryption_type is KMS`},
		{"invalid name", `name = "bad name!"
  shard_count = 1`, `(?s)name.*may contain only letters, digits`},
		{"name too long", `name = "` + strings.Repeat("n", 129) + `"
  shard_count = 1`, `(?s)name.*length must be between 1 and 128`},
		{"unknown mode", `name = "x"
  stream_mode = "FAST"
  shard_count = 1`, `(?s)stream_mode.*value must be one of`},
		{"unknown metric", `name = "x"
  shard_count = 1
  shard_level_metrics = ["Bytes"]`, `(?s)shard_level_metrics.*value must be one of`},
		{"ALL with another metric", `name = "x"
  shard_count = 1
  shard_level_metrics = ["ALL", "IncomingBytes"]`, `(?s)shard_level_metrics.*ALL already enables every metric`},
		{"shard_count zero", `name = "x"
  shard_count = 0`, `(?s)shard_count.*between 1 and 10000, got: 0`},
		{"bad timeout", `name = "x"
  shard_count = 1
  timeouts {
    create = "soon"
  }`, `(?s)create = "soon".*must be a string containing a sequence of decimal numbers`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      streamConfig(t, "", "  "+c.body),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(c.want),
				}},
			})
		})
	}
}

// TestAccKinesisStream_AlreadyExistsSaysImport creates a stream outside Terraform, then declares
// it: the apply fails with advice to import, and the import then adopts it.
func TestAccKinesisStream_AlreadyExistsSaysImport(t *testing.T) {
	name := randomName("acc-exists")
	config := streamConfig(t, "", fmt.Sprintf("  name = %q\n  shard_count = 1", name))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if _, err := kinesisClient(t).CreateStream(context.Background(), &awskinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
						t.Fatal(err)
					}
					waitActive(t, name)
				},
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)already exists.*terraform import`),
			},
			{
				Config:             config,
				ResourceName:       streamAddr,
				ImportState:        true,
				ImportStateId:      name,
				ImportStatePersist: true,
			},
			{Config: config, Check: checkStream(t, name, "PROVISIONED", 1)},
		},
	})
}

// TestAccKinesisStream_ShardQuotaIsAClearError asks for more shards than the account may have
// (kinesis-local runs with a 1000-shard limit): the apply fails at once with AWS's reason and
// what to do, instead of retrying, and nothing is left in state.
func TestAccKinesisStream_ShardQuotaIsAClearError(t *testing.T) {
	name := randomName("acc-quota")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{{
			Config:      streamConfig(t, "", fmt.Sprintf("  name = %q\n  shard_count = 2000", name)),
			ExpectError: regexp.MustCompile(`(?s)Creating Kinesis stream failed.*LimitExceededException.*quota increase`),
		}},
	})
}
