package provider_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// Roles are cluster-wide in PostgreSQL, so every role these tests create starts with g_ and is
// used by one test only.

// sqlLit quotes a string literal for the checks below.
func sqlLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// privsSQL lists, comma-separated and sorted, the privileges role holds in one ACL ("" is
// PUBLIC). A NULL ACL is read as the server's defaults (acldefault), as the provider reads it.
func privsSQL(from, acl, where, role string) string {
	return fmt.Sprintf(`SELECT string_agg(DISTINCT a.privilege_type, ',' ORDER BY a.privilege_type) FROM %s, aclexplode(%s) a
WHERE %s AND a.grantee = COALESCE((SELECT oid FROM pg_roles WHERE rolname = %s), 0)`, from, acl, where, sqlLit(role))
}

func tablePrivsSQL(schema, table, role string) string {
	return privsSQL("pg_class c", "COALESCE(c.relacl, acldefault('r', c.relowner))",
		fmt.Sprintf("c.relname = %s AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s)", sqlLit(table), sqlLit(schema)), role)
}

func schemaPrivsSQL(schema, role string) string {
	return privsSQL("pg_namespace n", "COALESCE(n.nspacl, acldefault('n', n.nspowner))", "n.nspname = "+sqlLit(schema), role)
}

func databasePrivsSQL(database, role string) string {
	return privsSQL("pg_database d", "COALESCE(d.datacl, acldefault('d', d.datdba))", "d.datname = "+sqlLit(database), role)
}

func defaultPrivsSQL(schema, role string) string {
	return privsSQL("pg_default_acl da JOIN pg_namespace n ON n.oid = da.defaclnamespace", "da.defaclacl", "n.nspname = "+sqlLit(schema), role)
}

// grantHCL is one sluice_redshift_grant; attrs are HCL lines.
func grantHCL(name string, attrs ...string) string {
	return fmt.Sprintf("resource \"sluice_redshift_grant\" %q {\n  %s\n}\n", name, strings.Join(attrs, "\n  "))
}

// TestAccRedshiftGrant_Table: a table grant to a user with a weird name in a weird schema —
// create, update in place, drift by raw SQL GRANT/REVOKE shown and fixed, import, destroy.
func TestAccRedshiftGrant_Table(t *testing.T) {
	db := newSQLDB(t)
	const (
		user   = `g_we"ird, =/ü`
		schema = "cl:icks"
		table  = `ev"ents`
		addr   = "sluice_redshift_grant.t"
	)
	db.exec(`CREATE ROLE "g_we""ird, =/ü"; CREATE SCHEMA "cl:icks"; CREATE TABLE "cl:icks"."ev""ents" (id int)`)
	cfg := func(privs string) string {
		return db.config(grantHCL("t",
			`grantee_type = "user"`, fmt.Sprintf("grantee = %q", user), `object_type = "table"`,
			fmt.Sprintf("schema = %q", schema), fmt.Sprintf("object = %q", table), "privileges = "+privs))
	}
	check := func(want string) resource.TestCheckFunc { return db.expect(tablePrivsSQL(schema, table, user), want) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             check(""),
		Steps: []resource.TestStep{
			{
				Config: cfg(`["SELECT", "insert"]`),
				Check:  check("INSERT,SELECT"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(`user:g_we"ird, =/ü:table:cl\:icks:ev"ents`)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("database"), knownvalue.StringExact(db.name)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("future_tables"), knownvalue.Bool(false)),
				},
			},
			{
				Config: cfg(`["SELECT", "UPDATE", "DELETE"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: check("DELETE,SELECT,UPDATE"),
			},
			{
				// Granted and revoked by hand: the plan shows both and the apply puts them back.
				PreConfig: func() {
					db.exec(`GRANT TRUNCATE ON "cl:icks"."ev""ents" TO "g_we""ird, =/ü"; REVOKE DELETE ON "cl:icks"."ev""ents" FROM "g_we""ird, =/ü"`)
				},
				Config: cfg(`["SELECT", "UPDATE", "DELETE"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: check("DELETE,SELECT,UPDATE"),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     `user:g_we"ird, =/ü:table:cl\:icks:ev"ents`,
				ImportStateVerify: true,
			},
			{
				// ALL reads back as the explicit list without a diff.
				Config: cfg(`["ALL"]`),
				Check:  check("DELETE,INSERT,REFERENCES,SELECT,TRUNCATE,UPDATE"),
			},
		},
	})
}

// TestAccRedshiftGrant_DatabaseSchemaPublicGroup: grants on a database and a schema, to PUBLIC
// and to a group; the TEMP alias and ALL plan empty; PUBLIC's default database privileges are
// read from the NULL ACL; drift on PUBLIC is fixed; import of a PUBLIC grant.
func TestAccRedshiftGrant_DatabaseSchemaPublicGroup(t *testing.T) {
	db := newSQLDB(t)
	db.exec(`CREATE ROLE g_bi; CREATE SCHEMA mart`)
	config := db.config(
		grantHCL("db_group", `grantee_type = "group"`, `grantee = "g_bi"`, `object_type = "database"`, `privileges = ["CREATE", "TEMP"]`) +
			grantHCL("db_public", `grantee_type = "public"`, `object_type = "database"`, `privileges = ["CONNECT"]`) +
			grantHCL("schema_group", `grantee_type = "group"`, `grantee = "g_bi"`, `object_type = "schema"`, `schema = "mart"`, `privileges = ["ALL"]`) +
			grantHCL("schema_public", `grantee_type = "public"`, `object_type = "schema"`, `schema = "mart"`, `privileges = ["USAGE"]`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			db.expect(databasePrivsSQL(db.name, "g_bi"), ""),
			db.expect(databasePrivsSQL(db.name, ""), ""), // destroy revokes PUBLIC's defaults too, as documented
			db.expect(schemaPrivsSQL("mart", "g_bi"), ""),
			db.expect(schemaPrivsSQL("mart", ""), ""),
		),
		Steps: []resource.TestStep{
			{
				// Before apply, PUBLIC holds the defaults of a database whose ACL is NULL.
				PreConfig: func() {
					if got, err := db.value(`SELECT COALESCE(datacl::text, 'NULL') FROM pg_database WHERE datname = ` + sqlLit(db.name)); err != nil || got != "NULL" {
						t.Fatalf("fresh database ACL = %q, %v; want NULL", got, err)
					}
				},
				Config: config,
				Check: resource.ComposeTestCheckFunc(
					db.expect(databasePrivsSQL(db.name, "g_bi"), "CREATE,TEMPORARY"),
					db.expect(databasePrivsSQL(db.name, ""), "CONNECT"),
					db.expect(schemaPrivsSQL("mart", "g_bi"), "CREATE,USAGE"),
					db.expect(schemaPrivsSQL("mart", ""), "USAGE"),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("sluice_redshift_grant.db_public", tfjsonpath.New("id"), knownvalue.StringExact("public::database:"+db.name)),
					statecheck.ExpectKnownValue("sluice_redshift_grant.db_public", tfjsonpath.New("database"), knownvalue.StringExact(db.name)),
					statecheck.ExpectKnownValue("sluice_redshift_grant.schema_group", tfjsonpath.New("privileges"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("ALL")})),
				},
			},
			{
				PreConfig: func() {
					db.exec(`GRANT TEMPORARY ON DATABASE ` + `"` + db.name + `"` + ` TO PUBLIC; REVOKE CREATE ON SCHEMA mart FROM g_bi`)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("sluice_redshift_grant.db_public", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("sluice_redshift_grant.schema_group", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("sluice_redshift_grant.db_group", plancheck.ResourceActionNoop),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(databasePrivsSQL(db.name, ""), "CONNECT"),
					db.expect(schemaPrivsSQL("mart", "g_bi"), "CREATE,USAGE"),
				),
			},
			{
				ResourceName:      "sluice_redshift_grant.db_public",
				ImportState:       true,
				ImportStateId:     "public::database:" + db.name,
				ImportStateVerify: true,
			},
			{
				ResourceName:      "sluice_redshift_grant.schema_public",
				ImportState:       true,
				ImportStateId:     "public::schema:mart",
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccRedshiftGrant_AllTablesFutureTables: every table of a schema, and tables created later;
// drift on one table of the schema is shown and fixed; turning future_tables off revokes the
// default privileges in place.
func TestAccRedshiftGrant_AllTablesFutureTables(t *testing.T) {
	db := newSQLDB(t)
	const addr = "sluice_redshift_grant.all"
	db.exec(`CREATE ROLE g_reader; CREATE SCHEMA lake; CREATE TABLE lake.a (id int); CREATE TABLE lake.b (id int)`)
	cfg := func(privs string, future bool) string {
		return db.config(grantHCL("all", `grantee_type = "user"`, `grantee = "g_reader"`, `object_type = "all_tables"`,
			`schema = "lake"`, "privileges = "+privs, fmt.Sprintf("future_tables = %t", future)))
	}
	tables := func(want string, names ...string) resource.TestCheckFunc {
		var checks []resource.TestCheckFunc
		for _, n := range names {
			checks = append(checks, db.expect(tablePrivsSQL("lake", n, "g_reader"), want))
		}
		return resource.ComposeTestCheckFunc(checks...)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			tables("", "a", "b", "c"),
			db.expect(defaultPrivsSQL("lake", "g_reader"), ""),
		),
		Steps: []resource.TestStep{
			{
				Config: cfg(`["SELECT"]`, true),
				Check: resource.ComposeTestCheckFunc(
					tables("SELECT", "a", "b"),
					db.expect(defaultPrivsSQL("lake", "g_reader"), "SELECT"),
				),
			},
			{
				// A table created after the apply gets the grant: nothing to do.
				PreConfig: func() { db.exec(`CREATE TABLE lake.c (id int)`) },
				Config:    cfg(`["SELECT"]`, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: tables("SELECT", "a", "b", "c"),
			},
			{
				// Revoked from one table, granted extra on another: drift, fixed.
				PreConfig: func() { db.exec(`REVOKE SELECT ON lake.a FROM g_reader; GRANT INSERT ON lake.b TO g_reader`) },
				Config:    cfg(`["SELECT"]`, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: tables("SELECT", "a", "b", "c"),
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     "user:g_reader:all_tables:lake",
				ImportStateVerify: true,
			},
			{
				Config: cfg(`["SELECT", "UPDATE"]`, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					tables("SELECT,UPDATE", "a", "b", "c"),
					db.expect(defaultPrivsSQL("lake", "g_reader"), ""),
				),
			},
			{
				// Default privileges added by hand show as future_tables drift and are revoked.
				PreConfig: func() { db.exec(`ALTER DEFAULT PRIVILEGES IN SCHEMA lake GRANT SELECT ON TABLES TO g_reader`) },
				Config:    cfg(`["SELECT", "UPDATE"]`, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("future_tables"), knownvalue.Bool(false)),
				}},
				Check: db.expect(defaultPrivsSQL("lake", "g_reader"), ""),
			},
		},
	})
}

func TestAccRedshiftGrant_PlanTimeErrors(t *testing.T) {
	db := newSQLDB(t)
	cases := []struct {
		name  string
		attrs []string
		want  string
	}{
		{"privilege not valid for the object type",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "schema"`, `schema = "s"`, `privileges = ["USAGE", "SELECT"]`},
			`(?s)Invalid privilege.*"SELECT" does not apply to object_type "schema";\s+allowed:\s+CREATE,\s+USAGE,\s+or\s+ALL`},
		{"object given for a schema",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "schema"`, `schema = "s"`, `object = "t"`, `privileges = ["USAGE"]`},
			`(?s)object does not apply to object_type schema.*object = "t" was given`},
		{"grantee set with public",
			[]string{`grantee_type = "public"`, `grantee = "u"`, `object_type = "schema"`, `schema = "s"`, `privileges = ["USAGE"]`},
			`(?s)grantee must not be set for PUBLIC`},
		{"grantee missing for a user",
			[]string{`grantee_type = "user"`, `object_type = "schema"`, `schema = "s"`, `privileges = ["USAGE"]`},
			`(?s)Missing grantee.*grantee_type = "user" needs grantee`},
		{"future_tables without all_tables",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "table"`, `schema = "s"`, `object = "t"`, `privileges = ["SELECT"]`, `future_tables = true`},
			`(?s)future_tables needs object_type all_tables`},
		{"table without schema and object",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "table"`, `privileges = ["SELECT"]`},
			`(?s)Missing schema.*Missing object|Missing object.*Missing schema`},
		{"database given for a schema",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "schema"`, `schema = "s"`, `database = "other"`, `privileges = ["USAGE"]`},
			`(?s)database does not apply to object_type schema`},
		{"unknown object type",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "view"`, `schema = "s"`, `privileges = ["SELECT"]`},
			`(?s)object_type.*value must be one of`},
		{"no privileges",
			[]string{`grantee_type = "user"`, `grantee = "u"`, `object_type = "schema"`, `schema = "s"`, `privileges = []`},
			`(?s)privileges.*set must contain at least 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      db.config(grantHCL("bad", c.attrs...)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(c.want),
				}},
			})
		})
	}
}

func TestAccRedshiftGrant_MissingObjectAndBadImportID(t *testing.T) {
	db := newSQLDB(t)
	db.exec(`CREATE ROLE g_nobody`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: db.config(grantHCL("t", `grantee_type = "user"`, `grantee = "g_nobody"`, `object_type = "table"`,
					`schema = "public"`, `object = "nope"`, `privileges = ["SELECT"]`)),
				ExpectError: regexp.MustCompile(`(?s)Granting privileges failed.*table\s+"public"\."nope":\s+not\s+found;\s+create\s+it\s+first`),
			},
			{
				Config: db.config(grantHCL("t", `grantee_type = "user"`, `grantee = "g_missing_role"`, `object_type = "schema"`,
					`schema = "public"`, `privileges = ["USAGE"]`)),
				ExpectError: regexp.MustCompile(`(?s)the\s+grantee\s+does\s+not\s+exist;\s+create\s+the\s+user\s+"g_missing_role"\s+first`),
			},
			{
				Config:        db.config(grantHCL("t", `grantee_type = "public"`, `object_type = "schema"`, `schema = "public"`, `privileges = ["USAGE"]`)),
				ResourceName:  "sluice_redshift_grant.t",
				ImportState:   true,
				ImportStateId: "user:alice:table:clicks",
				ExpectError:   regexp.MustCompile(`(?s)Invalid import ID.*object_type table takes 5 fields,\s+got 4`),
			},
		},
	})
}
