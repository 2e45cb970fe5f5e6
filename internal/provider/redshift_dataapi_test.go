package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// TestAccRedshift_DataAPI manages a schema and a group through the Data API: the provider talks
// to the redshift_data endpoint (the test-only fake, which runs each statement on the real
// PostgreSQL), polls statements to completion, pages through results, and batches changes.
func TestAccRedshift_DataAPI(t *testing.T) {
	db := newSQLDB(t)
	fake, err := acctest.StartFakeDataAPI(db.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	cfg := func(responsible string) string {
		return fmt.Sprintf(`
provider "sluice" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  max_retries                 = 1
  endpoints {
    redshift_data = %q
  }
  redshift {
    database = %q
    data_api {
      cluster_identifier = "analytics"
      secret_arn         = "arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse"
    }
  }
}
resource "sluice_redshift_schema" "test" {
  name        = "through_data_api"
  responsible = %q
}
resource "sluice_redshift_group" "test" { name = "data_api_readers" }
`, fake.URL, db.name, responsible)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             db.expect(`SELECT nspname::text FROM pg_namespace WHERE nspname = 'through_data_api'`, ""),
		Steps: []resource.TestStep{
			{
				Config: cfg("team-a"),
				Check: resource.ComposeTestCheckFunc(
					db.expect(schemaCommentSQL("through_data_api"), "responsible: team-a"),
					db.expect(roleSQL("data_api_readers", "rolcanlogin"), "false"),
				),
			},
			{
				PreConfig: func() { db.exec(`COMMENT ON SCHEMA through_data_api IS 'responsible: someone-else'`) },
				Config:    cfg("team-a"),
				Check: resource.ComposeTestCheckFunc(
					db.expect(schemaCommentSQL("through_data_api"), "responsible: team-a"),
					func(*terraform.State) error {
						for _, op := range []string{"ExecuteStatement", "BatchExecuteStatement", "DescribeStatement", "GetStatementResult"} {
							if fake.Count(op) == 0 {
								return fmt.Errorf("the provider never called %s", op)
							}
						}
						if fake.Count("DescribeStatement") <= fake.Count("ExecuteStatement")+fake.Count("BatchExecuteStatement") {
							return fmt.Errorf("statements were never polled past STARTED")
						}
						return nil
					},
				),
			},
			{
				ResourceName:      "sluice_redshift_schema.test",
				ImportState:       true,
				ImportStateId:     "through_data_api",
				ImportStateVerify: true,
			},
		},
	})
}

func TestAccRedshift_DataAPIBadSettings(t *testing.T) {
	config := acctest.Current(t).ProviderConfig(`  redshift {
    database = "dev"
    data_api {
      cluster_identifier = "analytics"
      workgroup_name     = "serverless"
    }
  }`) + `resource "sluice_redshift_schema" "test" { name = "x" }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid Redshift Data API settings.*exactly one of cluster_identifier or workgroup_name`),
		}},
	})
}
