package provider_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

const userAddr = "sluice_redshift_user.test"

// canLogin checks a password by logging in with it: the proof that the hash sluice sent is the
// one the server verifies.
func (d *sqlDB) canLogin(user, password string) error {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: net.JoinHostPort(d.pg.Host, strconv.Itoa(d.pg.Port)), Path: "/" + d.name, RawQuery: "sslmode=disable"}
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		return err
	}
	return conn.Close(context.Background())
}

func (d *sqlDB) expectLogin(user, password string, ok bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		err := d.canLogin(user, password)
		switch {
		case ok && err != nil:
			return fmt.Errorf("login as %s should work: %w", user, err)
		case !ok && err == nil:
			return fmt.Errorf("login as %s with that password should fail", user)
		}
		return nil
	}
}

func roleSQL(name, col string) string {
	return fmt.Sprintf(`SELECT (%s)::text FROM pg_roles WHERE rolname = '%s'`, col, name)
}

func TestAccRedshiftUser_Lifecycle(t *testing.T) {
	db := newSQLDB(t)
	cfg := func(body string) string {
		return db.config(`resource "sluice_redshift_user" "test" {` + "\n" + body + "\n}\n")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             db.expect(`SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'loader%'`, ""),
		Steps: []resource.TestStep{
			{
				Config: cfg(`  name             = "loader"
  password         = "correct-horse-1"
  connection_limit = 5
  valid_until      = "2030-01-01T01:00:00+01:00"
  create_database  = true`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("valid_until"), knownvalue.StringExact("2030-01-01T01:00:00+01:00")),
				},
				Check: resource.ComposeTestCheckFunc(
					db.expectLogin("loader", "correct-horse-1", true),
					db.expect(roleSQL("loader", "rolconnlimit"), "5"),
					db.expect(roleSQL("loader", "rolcreatedb"), "true"),
					db.expect(roleSQL("loader", "rolvaliduntil AT TIME ZONE 'UTC'"), "2030-01-01 00:00:00"),
				),
			},
			{
				Config: cfg(`  name     = "loader"
  password = "battery-staple-2"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expectLogin("loader", "battery-staple-2", true),
					db.expectLogin("loader", "correct-horse-1", false),
					db.expect(roleSQL("loader", "rolconnlimit"), "-1"),
					db.expect(roleSQL("loader", "rolcreatedb"), "false"),
					db.expect(roleSQL("loader", "rolvaliduntil"), "infinity"),
				),
			},
			{
				PreConfig: func() { db.exec(`ALTER ROLE loader CONNECTION LIMIT 10 CREATEDB`) },
				Config: cfg(`  name     = "loader"
  password = "battery-staple-2"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(userAddr, tfjsonpath.New("connection_limit"), knownvalue.Int64Exact(-1)),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(roleSQL("loader", "rolconnlimit"), "-1"),
					db.expect(roleSQL("loader", "rolcreatedb"), "false"),
					// Only the changed options were sent: the password still works.
					db.expectLogin("loader", "battery-staple-2", true),
				),
			},
			{
				Config: cfg(`  name     = "loader \"two\""
  password = "battery-staple-2"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionUpdate),
				}},
				Check: db.expect(roleSQL(`loader "two"`, "rolcanlogin"), "true"),
			},
			{
				ResourceName:                         userAddr,
				ImportState:                          true,
				ImportStateId:                        `loader "two"`,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"password"},
			},
		},
	})
}

func TestAccRedshiftUser_OwnerCannotBeDroppedSilently(t *testing.T) {
	db := newSQLDB(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: db.config(`resource "sluice_redshift_user" "test" { name = "owner_u" }`)},
			{
				PreConfig:   func() { db.exec(`CREATE TABLE owned (id int); ALTER TABLE owned OWNER TO owner_u`) },
				Config:      db.config(""),
				ExpectError: regexp.MustCompile(`(?s)Dropping user failed.*owner of table owned`),
			},
			{
				PreConfig: func() { db.exec(`DROP TABLE owned`) },
				Config:    db.config(""),
				Check:     db.expect(roleSQL("owner_u", "rolname"), ""),
			},
		},
	})
}

func TestAccRedshiftUser_PlanTimeErrors(t *testing.T) {
	db := newSQLDB(t)
	cases := []struct{ name, body, want string }{
		{"short password", `name = "u"
  password = "short"`, `(?s)password.*length must be between 8 and 64`},
		{"bad valid_until", `name = "u"
  valid_until = "next year"`, `(?s)valid_until.*not an RFC 3339 time`},
		{"connection_limit below -1", `name = "u"
  connection_limit = -2`, `(?s)connection_limit.*at least -1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      db.config(`resource "sluice_redshift_user" "test" {` + "\n  " + c.body + "\n}\n"),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(c.want),
				}},
			})
		})
	}
}

const groupAddr = "sluice_redshift_group.test"

func groupMembersSQL(group string) string {
	return fmt.Sprintf(`SELECT string_agg(m.rolname, ',' ORDER BY m.rolname)::text FROM pg_auth_members am
JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member WHERE g.rolname = '%s'`, group)
}

func TestAccRedshiftGroup_Lifecycle(t *testing.T) {
	db := newSQLDB(t)
	users := `
resource "sluice_redshift_user" "a" { name = "analyst_a" }
resource "sluice_redshift_user" "b" { name = "analyst_b" }
`
	cfg := func(members string) string {
		return db.config(users + fmt.Sprintf(`
resource "sluice_redshift_group" "test" {
  name    = "readers"
  members = %s
}
`, members))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             db.expect(roleSQL("readers", "rolname"), ""),
		Steps: []resource.TestStep{
			{
				Config: cfg(`[sluice_redshift_user.a.name, sluice_redshift_user.b.name]`),
				Check: resource.ComposeTestCheckFunc(
					db.expect(groupMembersSQL("readers"), "analyst_a,analyst_b"),
					db.expect(roleSQL("readers", "rolcanlogin"), "false"),
				),
			},
			{
				Config: cfg(`[sluice_redshift_user.b.name]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(groupAddr, plancheck.ResourceActionUpdate),
				}},
				Check: db.expect(groupMembersSQL("readers"), "analyst_b"),
			},
			{
				PreConfig: func() { db.exec(`GRANT readers TO analyst_a`) },
				Config:    cfg(`[sluice_redshift_user.b.name]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(groupAddr, plancheck.ResourceActionUpdate),
				}},
				Check: db.expect(groupMembersSQL("readers"), "analyst_b"),
			},
			{
				ResourceName:                         groupAddr,
				ImportState:                          true,
				ImportStateId:                        "readers",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
		},
	})
}

func TestAccRedshiftGroup_EmptyPlansEmpty(t *testing.T) {
	db := newSQLDB(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: db.config(`resource "sluice_redshift_group" "test" { name = "nobody" }`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(groupAddr, tfjsonpath.New("members"), knownvalue.SetSizeExact(0)),
			},
		}},
	})
}
