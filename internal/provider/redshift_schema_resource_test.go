package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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

const schemaAddr = "sluice_redshift_schema.test"

// sqlDB is one test database, for changes and checks made behind Terraform's back.
type sqlDB struct {
	t    *testing.T
	name string
	pg   *acctest.Postgres
}

func newSQLDB(t *testing.T) *sqlDB {
	stack := acctest.Current(t)
	return &sqlDB{t: t, name: stack.NewDatabase(t), pg: stack.Postgres(t)}
}

func (d *sqlDB) exec(sql string) {
	d.t.Helper()
	if err := d.pg.Exec(context.Background(), d.name, sql); err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
}

// value returns the first column of the first row of query, as text ("" for no row).
func (d *sqlDB) value(query string) (string, error) {
	conn, err := pgx.Connect(context.Background(), d.pg.URL(d.name))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var v *string
	err = conn.QueryRow(context.Background(), query).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", nil
	case err != nil:
		return "", err
	case v == nil:
		return "", nil
	}
	return *v, nil
}

func (d *sqlDB) expect(query, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := d.value(query)
		if err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
		if got != want {
			return fmt.Errorf("%s = %q, want %q", query, got, want)
		}
		return nil
	}
}

func (d *sqlDB) config(body string) string {
	stack := acctest.Current(d.t)
	return stack.ProviderConfig(stack.RedshiftBlock(d.t, d.name)) + body
}

func schemaOwnerSQL(name string) string {
	return fmt.Sprintf(`SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = '%s'`, name)
}

func schemaCommentSQL(name string) string {
	return fmt.Sprintf(`SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = '%s'`, name)
}

// TestAccRedshiftSchema_Lifecycle: create, update in place, drift by raw SQL detected and fixed,
// rename in place, import, refusal to drop a non-empty schema, cascade, destroy.
func TestAccRedshiftSchema_Lifecycle(t *testing.T) {
	db := newSQLDB(t)
	db.exec(`CREATE ROLE schema_etl; CREATE ROLE schema_loader`)
	cfg := func(body string) string {
		return db.config(`resource "sluice_redshift_schema" "test" {` + "\n" + body + "\n}\n")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             db.expect(`SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'clicks%'`, ""),
		Steps: []resource.TestStep{
			{
				Config: cfg(`  name        = "clicks"
  owner       = "schema_etl"
  responsible = "web-analytics@acme.example"
  description = "Raw click events. It's big."`),
				Check: resource.ComposeTestCheckFunc(
					db.expect(schemaOwnerSQL("clicks"), "schema_etl"),
					db.expect(schemaCommentSQL("clicks"), "Raw click events. It's big.\n\nresponsible: web-analytics@acme.example"),
				),
			},
			{
				Config: cfg(`  name        = "clicks"
  owner       = "schema_loader"
  responsible = "data-platform"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(schemaOwnerSQL("clicks"), "schema_loader"),
					db.expect(schemaCommentSQL("clicks"), "responsible: data-platform"),
				),
			},
			{
				// Changed by hand: the next plan shows it and the apply puts it back.
				PreConfig: func() {
					db.exec(`ALTER SCHEMA clicks OWNER TO schema_etl; COMMENT ON SCHEMA clicks IS 'edited by hand'`)
				},
				Config: cfg(`  name        = "clicks"
  owner       = "schema_loader"
  responsible = "data-platform"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("owner"), knownvalue.StringExact("schema_loader")),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(schemaOwnerSQL("clicks"), "schema_loader"),
					db.expect(schemaCommentSQL("clicks"), "responsible: data-platform"),
				),
			},
			{
				Config: cfg(`  name        = "clicks \"v2\"; select"
  owner       = "schema_loader"
  responsible = "data-platform"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionUpdate),
				}},
				Check: db.expect(schemaOwnerSQL(`clicks "v2"; select`), "schema_loader"),
			},
			{
				ResourceName:                         schemaAddr,
				ImportState:                          true,
				ImportStateId:                        `clicks "v2"; select`,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				// Destroying a schema that holds a table fails and names the table.
				PreConfig:   func() { db.exec(`CREATE TABLE "clicks ""v2""; select".events (id int)`) },
				Config:      db.config(""),
				ExpectError: regexp.MustCompile(`(?s)Dropping schema failed.*is not empty: it holds 1 object\(s\)\s+\(table\s+"clicks\s+""v2"";\s+select"\."events"\).*drop_cascade\s+=\s+true`),
			},
			{
				Config: cfg(`  name         = "clicks \"v2\"; select"
  owner        = "schema_loader"
  responsible  = "data-platform"
  drop_cascade = true`),
			},
		},
	})
}

func TestAccRedshiftSchema_DefaultOwnerAndRecreateWhenDropped(t *testing.T) {
	db := newSQLDB(t)
	config := db.config(`resource "sluice_redshift_schema" "test" { name = "staging" }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("owner"), knownvalue.StringExact("sluice")),
					statecheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("responsible"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("quota"), knownvalue.Int64Exact(0)),
				},
			},
			{
				PreConfig: func() { db.exec(`DROP SCHEMA staging`) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionCreate),
				}},
				Check: db.expect(schemaOwnerSQL("staging"), "sluice"),
			},
		},
	})
}

func TestAccRedshiftSchema_PlanTimeErrors(t *testing.T) {
	db := newSQLDB(t)
	cases := []struct{ name, config, want string }{
		{"quota on PostgreSQL", db.config(`resource "sluice_redshift_schema" "test" {
  name  = "q"
  quota = 100
}`), `(?s)Schema quota needs Redshift.*database is PostgreSQL`},
		{"multi-line responsible", db.config(`resource "sluice_redshift_schema" "test" {
  name        = "q"
  responsible = "a\nb"
}`), `(?s)responsible.*must be one line`},
		{"empty name", db.config(`resource "sluice_redshift_schema" "test" { name = "" }`), `(?s)name.*length must be between 1 and 127`},
		{"no redshift block", acctest.Current(t).ProviderConfig() + `resource "sluice_redshift_schema" "test" {
  name  = "q"
  quota = 5
}`, `(?s)needs a database: add a redshift`},
		{"redshift block without host", acctest.Current(t).ProviderConfig(`  redshift {
    database = "x"
    username = "u"
  }`) + `resource "sluice_redshift_schema" "test" { name = "q" }`, `(?s)redshift\.host is required`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: c.config, PlanOnly: true, ExpectError: regexp.MustCompile(c.want)}},
			})
		})
	}
}

func TestAccRedshiftSchema_WrongPasswordDoesNotLeakIt(t *testing.T) {
	db := newSQLDB(t)
	stack := acctest.Current(t)
	pg := stack.Postgres(t)
	config := stack.ProviderConfig(fmt.Sprintf(`  redshift {
    host     = %q
    port     = %d
    database = %q
    username = %q
    password = "not-the-password-8c1f"
    sslmode  = "disable"
  }`, pg.Host, pg.Port, db.name, pg.User)) + `resource "sluice_redshift_schema" "test" { name = "x" }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Cannot connect to the database.*password authentication failed`),
		}},
	})
	// The error text itself is checked by the unit test of the connection code; here the point
	// is that a wrong password is a clear, early error.
}

func TestAccRedshiftSchemasDataSource(t *testing.T) {
	db := newSQLDB(t)
	const ds = "data.sluice_redshift_schemas.all"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: db.config(`
resource "sluice_redshift_schema" "clicks" {
  name        = "clicks"
  responsible = "web-analytics"
  description = "Raw clicks."
}
resource "sluice_redshift_schema" "finance" {
  name        = "finance"
  responsible = "finance-eng@acme.example"
}
`),
			},
			{
				PreConfig: func() {
					db.exec(`CREATE TABLE clicks.a (id int); CREATE TABLE clicks.b (id int); CREATE VIEW clicks.v AS SELECT 1 AS x`)
				},
				Config: db.config(`
resource "sluice_redshift_schema" "clicks" {
  name        = "clicks"
  responsible = "web-analytics"
  description = "Raw clicks."
  drop_cascade = true
}
resource "sluice_redshift_schema" "finance" {
  name        = "finance"
  responsible = "finance-eng@acme.example"
}
data "sluice_redshift_schemas" "all" {
  depends_on = [sluice_redshift_schema.clicks, sluice_redshift_schema.finance]
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("schemas"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"name": knownvalue.StringExact("clicks"), "owner": knownvalue.StringExact("sluice"),
							"responsible": knownvalue.StringExact("web-analytics"), "description": knownvalue.StringExact("Raw clicks."),
							"table_count": knownvalue.Int64Exact(2),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"name": knownvalue.StringExact("finance"), "owner": knownvalue.StringExact("sluice"),
							"responsible": knownvalue.StringExact("finance-eng@acme.example"), "description": knownvalue.StringExact(""),
							"table_count": knownvalue.Int64Exact(0),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"name": knownvalue.StringExact("public"), "owner": knownvalue.NotNull(),
							"responsible": knownvalue.StringExact(""), "description": knownvalue.NotNull(),
							"table_count": knownvalue.Int64Exact(0),
						}),
					})),
				},
			},
		},
	})
}

// TestAccRedshift_NoRedshiftResourceNeverConnects points the redshift block at a closed port: a
// configuration without Redshift resources plans and applies without touching it.
func TestAccRedshift_NoRedshiftResourceNeverConnects(t *testing.T) {
	stack := acctest.Current(t)
	port, err := acctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	config := stack.ProviderConfig(fmt.Sprintf(`  redshift {
    host     = "127.0.0.1"
    port     = %d
    database = "nowhere"
    username = "nobody"
    password = "never-used-1"
    sslmode  = "disable"
  }`, port)) + fmt.Sprintf(`resource "sluice_kinesis_stream" "test" {
  name        = %q
  shard_count = 1
}`, randomName("acc-noredshift"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		// Plan, apply, refresh and destroy all succeed: nothing tried the closed port.
		Steps: []resource.TestStep{{Config: config}},
	})
}
