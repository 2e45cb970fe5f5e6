package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

func TestAccKinesisStreamDataSource(t *testing.T) {
	name := randomName("acc-ds")
	const ds = "data.sluice_kinesis_stream.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             checkDestroyed(t, name),
		Steps: []resource.TestStep{
			{
				Config: acctest.Current(t).ProviderConfig(`  default_tags {
    tags = { team = "data" }
  }`) + fmt.Sprintf(`
resource "sluice_kinesis_stream" "test" {
  name        = %q
  shard_count = 2
  tags        = { env = "dev" }
}

data "sluice_kinesis_stream" "test" {
  name = sluice_kinesis_stream.test.name
}
`, name),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("stream_mode"), knownvalue.StringExact("PROVISIONED")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("open_shard_count"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("open_shards"), knownvalue.ListSizeExact(2)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("closed_shards"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("retention_period"), knownvalue.Int64Exact(24)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("tags"), knownvalue.MapExact(map[string]knownvalue.Check{
						"team": knownvalue.StringExact("data"), "env": knownvalue.StringExact("dev"),
					})),
				},
				Check: resource.TestCheckResourceAttrPair(ds, "arn", streamAddr, "arn"),
			},
		},
	})
}

func TestAccKinesisStreamDataSource_Missing(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      acctest.Current(t).ProviderConfig() + `data "sluice_kinesis_stream" "x" { name = "no-such-stream" }`,
			ExpectError: regexp.MustCompile(`(?s)Kinesis stream not found.*no-such-stream`),
		}},
	})
}
