package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

func TestAccProviderRegistry_BadURLIsAPlanTimeError(t *testing.T) {
	stack := acctest.Current(t)
	for _, c := range []struct{ url, want string }{
		{"ftp://x", `registry URL "ftp://x" is not supported: use\s+s3://bucket/prefix,\s+file:///absolute/path\s+or\s+file://relative/path`},
		{"s3://Bad_Bucket/sluice", `bucket name "Bad_Bucket" is not valid`},
		{"s3://acme/a/../b", `prefix "a/../b" has a "\.\." segment`},
	} {
		t.Run(c.url, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: stack.ProviderConfig(fmt.Sprintf(`  registry = %q`, c.url)) +
						`data "sluice_kinesis_stream" "x" { name = "x" }`,
					PlanOnly: true,
					// The diagnostic points at the attribute: Terraform quotes the offending line.
					ExpectError: regexp.MustCompile(`(?s)Invalid registry URL.*registry = "` + regexp.QuoteMeta(c.url) + `".*` + c.want),
				}},
			})
		})
	}
}

// A valid registry is accepted and opens nothing: a plan with no publishing resource neither
// needs the bucket nor creates the directory.
func TestAccProviderRegistry_ValidURLsPlan(t *testing.T) {
	stack := acctest.Current(t)
	for name, url := range map[string]string{
		"s3":   "s3://no-bucket-needed-for-a-plan/sluice",
		"file": "file://" + t.TempDir() + "/registry",
	} {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: stack.ProviderConfigS3(t, fmt.Sprintf(`  registry = %q`, url)) + fmt.Sprintf(`
resource "sluice_kinesis_stream" "x" {
  name        = %q
  shard_count = 1
}
`, randomName("acc-reg")),
					PlanOnly:           true,
					ExpectNonEmptyPlan: true,
				}},
			})
		})
	}
}
