package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

func TestMain(m *testing.M) { acctest.Main(m) }

func TestAccProvider_BadEndpointIsAPlanTimeError(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "sluice" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  endpoints {
    kinesis = "127.0.0.1:4568"
  }
}
data "sluice_kinesis_stream" "x" { name = "x" }
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid endpoint URL.*must start with http:// or https://`),
		}},
	})
}

func TestAccProvider_BadAssumeRoleDuration(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "sluice" {
  region = "us-east-1"
  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/x"
    duration = "forever"
  }
}
data "sluice_kinesis_stream" "x" { name = "x" }
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid duration.*"forever" is not a positive duration`),
		}},
	})
}

func TestAccProvider_HalfStaticCredentials(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "sluice" {
  region                      = "us-east-1"
  access_key                  = "only-the-key"
  skip_credentials_validation = true
}
data "sluice_kinesis_stream" "x" { name = "x" }
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`access_key and secret_key must be set together`),
		}},
	})
}

// TestAccProvider_CredentialsAreValidatedUnlessSkipped points STS at a closed port: without
// skip_credentials_validation the plan fails and says how to skip the check for local stand-ins.
func TestAccProvider_CredentialsAreValidatedUnlessSkipped(t *testing.T) {
	port, err := acctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "sluice" {
  region      = "us-east-1"
  access_key  = "test"
  secret_key  = "test"
  max_retries = 1
  endpoints {
    sts = "http://127.0.0.1:%d"
  }
}
data "sluice_kinesis_stream" "x" { name = "x" }
`, port),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)AWS credentials rejected.*sts:GetCallerIdentity.*skip_credentials_validation`),
		}},
	})
}
