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

const tableAddr = "sluice_redshift_table.test"

// The table lives under a schema and a name that need quoting: quotes, a semicolon, unicode.
const (
	tblSchema = `raw "clicks"; ü`
	tblName   = "événements;"
	// tblSQL is the table's quoted name for raw SQL.
	tblSQL = `"raw ""clicks""; ü"."événements;"`
)

// tableConfig is a schema and a table with the given body (columns and the rest).
func tableConfig(db *sqlDB, body string) string {
	return db.config(fmt.Sprintf(`
resource "sluice_redshift_schema" "test" {
  name         = %q
  drop_cascade = true
}

resource "sluice_redshift_table" "test" {
  schema = sluice_redshift_schema.test.name
  name   = %q
%s
}
`, tblSchema, tblName, body))
}

func columnSQL(what, column string) string {
	return fmt.Sprintf(`SELECT %s FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attrelid = '%s'::regclass AND a.attname = '%s' AND NOT a.attisdropped`, what, strings.ReplaceAll(tblSQL, "'", "''"), column)
}

func columnsSQL() string {
	return fmt.Sprintf(`SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = '%s'::regclass AND attnum > 0 AND NOT attisdropped`, tblSQL)
}

// TestAccRedshiftTable_Lifecycle: create with a schema, in-place changes, a dropped column, drift
// by raw SQL detected and fixed, a type change planned as a replacement and refused while the
// table holds rows, then allowed, import, a destroy refused for rows, and destroy.
func TestAccRedshiftTable_Lifecycle(t *testing.T) {
	db := newSQLDB(t)
	base := `  description = "Raw events; it's big."
  primary_key = ["id"]
  dist_style  = "KEY"
  dist_key    = "id"
  sort_keys   = ["at"]
  backup      = false
`
	v1 := base + `  columns = [
    { name = "id", type = "bigint", nullable = false, comment = "Event id." },
    { name = "kind", type = "varchar(32)", default = "'view'", encode = "ZSTD" },
    { name = "at", type = "timestamptz", nullable = false, default = "now()" },
  ]`
	v2 := base + `  columns = [
    { name = "id", type = "bigint", nullable = false, comment = "The event's id." },
    { name = "kind", type = "varchar(32)", default = "'click'", encode = "ZSTD" },
    { name = "at", type = "timestamptz", nullable = false, default = "now()" },
    { name = "n", type = "int", default = "0" },
  ]`
	v3 := base + `  columns = [
    { name = "id", type = "bigint", nullable = false, comment = "The event's id." },
    { name = "kind", type = "varchar(32)", default = "'click'", encode = "ZSTD" },
    { name = "at", type = "timestamptz", nullable = false, default = "now()" },
  ]`
	v4 := base + `  columns = [
    { name = "id", type = "bigint", nullable = false, comment = "The event's id." },
    { name = "kind", type = "text", default = "'click'", encode = "ZSTD" },
    { name = "at", type = "timestamptz", nullable = false, default = "now()" },
  ]`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             db.expect(`SELECT relname::text FROM pg_class WHERE relname = 'événements;'`, ""),
		Steps: []resource.TestStep{
			{
				// The step fails on a non-empty plan after apply: varchar(32) against
				// character varying(32) and 'view' against 'view'::character varying never differ.
				Config: tableConfig(db, v1),
				Check: resource.ComposeTestCheckFunc(
					db.expect(columnsSQL(), "id bigint, kind character varying(32), at timestamp with time zone"),
					db.expect(columnSQL("pg_get_expr(ad.adbin, ad.adrelid)", "kind"), "'view'::character varying"),
					db.expect(columnSQL("col_description(a.attrelid, a.attnum)", "id"), "Event id."),
					db.expect(columnSQL("a.attnotnull::text", "at"), "true"),
					db.expect(fmt.Sprintf(`SELECT obj_description('%s'::regclass, 'pg_class')`, tblSQL), "Raw events; it's big."),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tableAddr, tfjsonpath.New("id"), knownvalue.StringExact(tblSchema+"/"+tblName)),
					statecheck.ExpectKnownValue(tableAddr, tfjsonpath.New("owner"), knownvalue.StringExact("sluice")),
					statecheck.ExpectKnownValue(tableAddr, tfjsonpath.New("columns").AtSliceIndex(1).AtMapKey("type"), knownvalue.StringExact("varchar(32)")),
					statecheck.ExpectKnownValue(tableAddr, tfjsonpath.New("columns").AtSliceIndex(0).AtMapKey("encode"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(tableAddr, tfjsonpath.New("dist_key"), knownvalue.StringExact("id")),
				},
			},
			{
				// Add a column, change a default and a comment: in place.
				Config: tableConfig(db, v2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(columnsSQL(), "id bigint, kind character varying(32), at timestamp with time zone, n integer"),
					db.expect(columnSQL("pg_get_expr(ad.adbin, ad.adrelid)", "kind"), "'click'::character varying"),
					db.expect(columnSQL("col_description(a.attrelid, a.attnum)", "id"), "The event's id."),
				),
			},
			{
				// Drop a column: in place.
				Config: tableConfig(db, v3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionUpdate),
				}},
				Check: db.expect(columnsSQL(), "id bigint, kind character varying(32), at timestamp with time zone"),
			},
			{
				// Changed by hand: the plan shows it and the apply puts it back.
				PreConfig: func() {
					db.exec(`ALTER TABLE ` + tblSQL + ` ADD COLUMN extra int; ALTER TABLE ` + tblSQL + ` ALTER COLUMN kind SET DEFAULT 'hand'`)
				},
				Config: tableConfig(db, v3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(tableAddr, tfjsonpath.New("columns").AtSliceIndex(1).AtMapKey("default"), knownvalue.StringExact("'click'")),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(columnsSQL(), "id bigint, kind character varying(32), at timestamp with time zone"),
					db.expect(columnSQL("pg_get_expr(ad.adbin, ad.adrelid)", "kind"), "'click'::character varying"),
				),
			},
			{
				// A type change that is not a VARCHAR widening replaces the table; with rows in
				// it, the plan fails and says how many.
				PreConfig:   func() { db.exec(`INSERT INTO ` + tblSQL + ` (id) VALUES (1), (2)`) },
				Config:      tableConfig(db, v4),
				ExpectError: regexp.MustCompile(`(?s)Replacing the table would delete its rows.*"raw\s+""clicks"";\s+ü"\."événements;"\s+holds\s+2\s+row\(s\).*allow_data_loss\s+=\s+true`),
			},
			{
				Config: tableConfig(db, v4+"\n  allow_data_loss = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					db.expect(columnsSQL(), "id bigint, kind text, at timestamp with time zone"),
					db.expect(`SELECT count(*)::text FROM `+tblSQL, "0"),
				),
			},
			{
				// What the database does not hold cannot be imported: the configured spelling of
				// a default ('click' reads back as 'click'::text) or a type (timestamptz), and on
				// PostgreSQL the Redshift-only attributes (the import records their defaults).
				// The next plan puts the configured values in state by an in-place update that
				// sends no SQL.
				ResourceName:      tableAddr,
				ImportState:       true,
				ImportStateId:     tblSchema + "/" + tblName,
				ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"columns.1.default", "columns.2.type", "allow_data_loss",
					"backup", "dist_style", "dist_key", "sort_keys", "columns.1.encode"},
			},
			{
				// Destroying a table with rows is refused by the plan, with the count and what to do.
				PreConfig: func() { db.exec(`INSERT INTO ` + tblSQL + ` (id) VALUES (1)`) },
				Config:    tableConfig(db, v4),
			},
			{
				Config:      db.config(`resource "sluice_redshift_schema" "test" {` + fmt.Sprintf("\n  name = %q\n  drop_cascade = true\n}\n", tblSchema)),
				ExpectError: regexp.MustCompile(`(?s)Destroying the table would delete its rows.*holds\s+1\s+row\(s\);\s+dropping\s+it\s+would\s+delete\s+them.*allow_data_loss\s+=\s+true`),
			},
			{
				Config: tableConfig(db, v4+"\n  allow_data_loss = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionUpdate),
				}},
			},
		},
	})
}

// TestAccRedshiftTable_RenameAndRecreateWhenDropped: a rename keeps the rows; a table dropped
// by hand is planned for creation again.
func TestAccRedshiftTable_RenameAndRecreateWhenDropped(t *testing.T) {
	db := newSQLDB(t)
	cfg := func(name string) string {
		return db.config(fmt.Sprintf(`
resource "sluice_redshift_table" "test" {
  schema  = "public"
  name    = %q
  columns = [{ name = "a", type = "int4" }, { name = "b", type = "numeric(10)", default = "1.5" }]
}
`, name))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("t1")},
			{
				PreConfig: func() { db.exec(`INSERT INTO public.t1 VALUES (7)`) },
				Config:    cfg(`t2 "renamed"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(tableAddr, tfjsonpath.New("id"), knownvalue.StringExact(`public/t2 "renamed"`)),
				}},
				Check: db.expect(`SELECT a::text FROM public."t2 ""renamed"""`, "7"),
			},
			{
				PreConfig: func() { db.exec(`DROP TABLE public."t2 ""renamed"""`) },
				Config:    cfg(`t2 "renamed"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tableAddr, plancheck.ResourceActionCreate),
				}},
				Check: db.expect(`SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public."t2 ""renamed"""'::regclass AND attname = 'b'`, "numeric(10,0)"),
			},
		},
	})
}

func TestAccRedshiftTable_PlanTimeErrors(t *testing.T) {
	db := newSQLDB(t)
	table := func(body string) string {
		return db.config(`resource "sluice_redshift_table" "test" {
  schema = "public"
  name   = "t"
` + body + "\n}\n")
	}
	cases := []struct{ name, config, want string }{
		{"no columns", table(`  columns = []`), `(?s)columns.*list must contain at least 1 elements`},
		{"duplicate column", table(`  columns = [{ name = "a", type = "int" }, { name = "a", type = "text" }]`),
			`(?s)columns\[1\]\.name.*column "a" is declared twice`},
		{"primary key names an unknown column", table(`  columns     = [{ name = "a", type = "int", nullable = false }]
  primary_key = ["a", "b"]`), `(?s)primary_key\[1\].*"b" is not a declared column`},
		{"nullable primary key", table(`  columns     = [{ name = "a", type = "int" }]
  primary_key = ["a"]`), `(?s)columns\[0\]\.nullable.*set nullable = false`},
		{"dist_key without KEY", table(`  columns  = [{ name = "a", type = "int" }]
  dist_key = "a"`), `(?s)dist_key.*dist_style is "AUTO"; set dist_style = "KEY"`},
		{"sort key names an unknown column", table(`  columns   = [{ name = "a", type = "int" }]
  sort_keys = ["zz"]`), `(?s)sort_keys\[0\].*"zz" is not a declared column`},
		{"unknown encode", table(`  columns = [{ name = "a", type = "int", encode = "GZIP" }]`), `(?s)columns\[0\]\.encode.*value must be one of`},
		{"unknown dist_style", table(`  columns    = [{ name = "a", type = "int" }]
  dist_style = "RANDOM"`), `(?s)dist_style.*value must be one of`},
		{"unknown sort_style", table(`  columns    = [{ name = "a", type = "int" }]
  sort_style = "SIDEWAYS"`), `(?s)sort_style.*value must be one of`},
		{"type with SQL in it", table(`  columns = [{ name = "a", type = "int; DROP TABLE x" }]`), `(?s)columns\[0\]\.type.*is not a SQL type name`},
		{"default with a statement", table(`  columns = [{ name = "a", type = "int", default = "0; DROP TABLE x" }]`), `(?s)columns\[0\]\.default.*not statements`},
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

// TestAccRedshiftTable_DestroyWithRowsRefusedAtPlan: removing a table that holds rows, and the
// grant on it, from the configuration fails at plan time, naming the table as configured and the
// row count, so nothing of the plan is applied: the grant (destroyed first, as it depends on the
// table) is still there afterwards. With allow_data_loss applied first, the destroy goes through.
func TestAccRedshiftTable_DestroyWithRowsRefusedAtPlan(t *testing.T) {
	db := newSQLDB(t)
	const role = `g_plan_reader "x"`
	db.exec(`CREATE ROLE "g_plan_reader ""x"""`)
	body := `  columns = [{ name = "id", type = "bigint" }]`
	grant := grantHCL("read", `grantee_type = "user"`, fmt.Sprintf("grantee = %q", role), `object_type = "table"`,
		"schema = sluice_redshift_table.test.schema", "object = sluice_redshift_table.test.name", `privileges = ["SELECT"]`)
	schemaOnly := db.config(`resource "sluice_redshift_schema" "test" {` + fmt.Sprintf("\n  name = %q\n  drop_cascade = true\n}\n", tblSchema))
	granted := db.expect(tablePrivsSQL(tblSchema, tblName, role), "SELECT")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		CheckDestroy:             db.expect(`SELECT relname::text FROM pg_class WHERE relname = 'événements;'`, ""),
		Steps: []resource.TestStep{
			{
				Config: tableConfig(db, body) + grant,
				Check:  granted,
			},
			{
				PreConfig:   func() { db.exec(`INSERT INTO ` + tblSQL + ` (id) VALUES (1), (2), (3)`) },
				Config:      schemaOnly,
				ExpectError: regexp.MustCompile(`(?s)Destroying the table would delete its rows.*sluice_redshift_table with schema\s+=\s+"raw \\"clicks\\"; ü"\s+and\s+name\s+=\s+"événements;".*holds\s+3\s+row\(s\)`),
			},
			{
				// The refused plan changed nothing: the grant and the rows are there, the plan is empty.
				Config: tableConfig(db, body) + grant,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: resource.ComposeTestCheckFunc(granted, db.expect(`SELECT count(*)::text FROM `+tblSQL, "3")),
			},
			{
				// `terraform destroy` is refused the same way.
				Config:      tableConfig(db, body) + grant,
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)Destroying the table would delete its rows.*holds\s+3\s+row\(s\)`),
			},
			{
				Config: tableConfig(db, body+"\n  allow_data_loss = true") + grant,
				Check:  granted,
			},
			{
				Config: schemaOnly,
				Check:  db.expect(`SELECT relname::text FROM pg_class WHERE relname = 'événements;'`, ""),
			},
		},
	})
}

// TestAccRedshiftTable_DestroyWithUnknownConnection: when the redshift block's host is only known
// after apply, the plan cannot count rows and does not fail for it (nor report the host as
// missing); the apply, connected, refuses the drop as the last guard.
func TestAccRedshiftTable_DestroyWithUnknownConnection(t *testing.T) {
	db := newSQLDB(t)
	stack := acctest.Current(t)
	pg := stack.Postgres(t)
	body := `  columns = [{ name = "id", type = "bigint" }]`
	unknownHost := `
resource "terraform_data" "host" {
  input = ` + fmt.Sprintf("%q", pg.Host) + `
}
`
	block := strings.Replace(stack.RedshiftBlock(t, db.name), fmt.Sprintf("host     = %q", pg.Host), "host = terraform_data.host.output", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: tableConfig(db, body)},
			{
				PreConfig:   func() { db.exec(`INSERT INTO ` + tblSQL + ` (id) VALUES (1)`) },
				Config:      stack.ProviderConfig(block) + unknownHost,
				ExpectError: regexp.MustCompile(`(?s)Dropping table failed.*holds\s+1\s+row\(s\)`),
			},
			{
				Config: tableConfig(db, body+"\n  allow_data_loss = true"),
				Check:  db.expect(`SELECT count(*)::text FROM `+tblSQL, "1"),
			},
		},
	})
}
