package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// TestAccRedshift_IAMLogin connects with redshift.iam: the provider calls GetClusterCredentials
// on the redshift endpoint (the test-only fake, which hands out the harness's credentials) and
// logs in to the real PostgreSQL with what it got.
func TestAccRedshift_IAMLogin(t *testing.T) {
	db := newSQLDB(t)
	fake, err := acctest.StartFakeRedshift(db.pg.User, db.pg.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	config := fmt.Sprintf(`
provider "sluice" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  max_retries                 = 1
  endpoints {
    redshift = %q
  }
  redshift {
    host     = %q
    port     = %d
    database = %q
    sslmode  = "disable"
    iam {
      cluster_identifier = "analytics"
      db_user            = "etl_iam"
      auto_create        = true
      db_groups          = ["loaders"]
    }
  }
}
resource "sluice_redshift_schema" "test" { name = "via_iam" }
`, fake.URL, db.pg.Host, db.pg.Port, db.name)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeTestCheckFunc(
				db.expect(schemaOwnerSQL("via_iam"), db.pg.User),
				func(*terraform.State) error {
					calls := fake.Calls()
					if len(calls) == 0 {
						return fmt.Errorf("GetClusterCredentials was never called")
					}
					c := calls[0]
					want := map[string]string{"ClusterIdentifier": "analytics", "DbUser": "etl_iam", "DbName": db.name, "AutoCreate": "true", "DbGroups.DbGroup.1": "loaders"}
					for k, v := range want {
						if c.Get(k) != v {
							return fmt.Errorf("GetClusterCredentials %s = %q, want %q (request %v)", k, c.Get(k), v, c)
						}
					}
					return nil
				},
			),
		}},
	})
}

func TestAccRedshift_IAMConflictsWithPassword(t *testing.T) {
	config := acctest.Current(t).ProviderConfig(`  redshift {
    host     = "127.0.0.1"
    database = "dev"
    password = "x"
    iam {
      cluster_identifier = "analytics"
    }
  }`) + `resource "sluice_redshift_schema" "test" { name = "x" }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)redshift\.password and redshift\.iam are mutually exclusive.*redshift\.iam\.db_user is required`),
		}},
	})
}
