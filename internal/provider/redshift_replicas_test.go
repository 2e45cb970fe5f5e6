package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// The replica test drives the Terraform CLI itself instead of going through resource.Test,
// because terraform-plugin-testing (v1.16) cannot run this configuration:
//
//   - its state shim refuses any state with resources in child modules ("Modules are not
//     supported. Found 2 modules.") after every apply, so a module can never be checked;
//   - it serves the provider in-process and reattaches Terraform to that one server, so the two
//     aliased provider blocks configure the SAME provider instance and the last configuration
//     wins: both modules then write to one database. Terraform starts one provider process per
//     provider configuration only when it launches the provider itself.
//
// So the test builds the provider, puts it in a filesystem mirror named by a CLI configuration of
// its own, and runs init, plan, apply and destroy; plans are checked with plancheck, databases by
// SQL.

// warehouseModuleDir is the example module the replica test applies, as it is in the repository.
const warehouseModuleDir = "../../examples/redshift-replicas/modules/warehouse"

// replica is one database the warehouse module is applied to, through its own provider alias.
type replica struct {
	alias string // provider alias and module name
	db    *sqlDB
	group string // readers group: role names are server-wide, and both databases share a server
}

// tfCLI runs the Terraform binary of the harness in one working directory, against a provider
// built from this repository and installed from a filesystem mirror.
type tfCLI struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

// newTFCLI builds the provider into a filesystem mirror, writes a CLI configuration that installs
// sluice-data/sluice from it (and nothing from the network), and returns a CLI for a new, empty
// working directory.
func newTFCLI(t *testing.T) *tfCLI {
	t.Helper()
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH") // set by acctest.Main
	if bin == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH is not set: run the acceptance tests with TF_ACC=1 (run `make tools` first)")
	}
	root := t.TempDir()
	const version = "0.0.1"
	mirror := filepath.Join(root, "mirror")
	plugin := filepath.Join(mirror, "registry.terraform.io", "sluice-data", "sluice", version,
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-sluice_v"+version)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the provider needs the go command on PATH: %v", err)
	}
	build := exec.CommandContext(t.Context(), goBin, "build", "-o", plugin, "github.com/sluice-data/terraform-provider-sluice")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(root, "terraform.tfrc")
	if err := os.WriteFile(cliConfig, fmt.Appendf(nil, `provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/sluice-data/sluice"]
  }
}
`, mirror), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "TF_CLI_CONFIG_FILE", name == "TF_REATTACH_PROVIDERS", strings.HasPrefix(name, "TF_VAR_"):
		default:
			env = append(env, kv)
		}
	}
	dir := filepath.Join(root, "work")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &tfCLI{t: t, bin: bin, dir: dir, env: env}
}

// run runs terraform with args and returns its exit code and stdout; any other failure to run,
// or an exit code not in ok, fails the test with the output.
func (c *tfCLI) run(ok []int, args ...string) (int, string) {
	c.t.Helper()
	// Not t.Context(): that is canceled before the cleanup that destroys what a failed test left.
	cmd := exec.CommandContext(context.Background(), c.bin, append(args[:1:1], append([]string{"-no-color"}, args[1:]...)...)...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		c.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	for _, want := range ok {
		if code == want {
			return code, stdout.String()
		}
	}
	c.t.Fatalf("terraform %s: exit code %d\n%s\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, ""
}

// apply applies the configuration with the variable responsible set.
func (c *tfCLI) apply(responsible string) {
	c.t.Helper()
	c.run([]int{0}, "apply", "-input=false", "-auto-approve", "-var", "responsible="+responsible)
}

// expectEmptyPlan fails unless a plan with responsible set has no changes.
func (c *tfCLI) expectEmptyPlan(responsible string) {
	c.t.Helper()
	if code, out := c.run([]int{0, 2}, "plan", "-input=false", "-detailed-exitcode", "-var", "responsible="+responsible); code != 0 {
		c.t.Fatalf("expected an empty plan after apply, got:\n%s", out)
	}
}

// planAndApply makes a plan with responsible set, runs checks on it, and applies that plan.
func (c *tfCLI) planAndApply(responsible string, checks ...plancheck.PlanCheck) {
	c.t.Helper()
	c.run([]int{0}, "plan", "-input=false", "-out=tfplan", "-var", "responsible="+responsible)
	_, planJSON := c.run([]int{0}, "show", "-json", "tfplan")
	// CheckPlanRequest.Plan is a *tfjson.Plan: decoding the JSON plan into the request fills it
	// without importing terraform-json, which go.mod lists as an indirect dependency only.
	var req plancheck.CheckPlanRequest
	if err := json.Unmarshal([]byte(`{"Plan":`+planJSON+`}`), &req); err != nil || req.Plan == nil {
		c.t.Fatalf("reading the plan: %v\n%s", err, planJSON)
	}
	for _, check := range checks {
		var resp plancheck.CheckPlanResponse
		check.CheckPlan(c.t.Context(), req, &resp)
		if resp.Error != nil {
			c.t.Fatalf("plan check: %v", resp.Error)
		}
	}
	c.run([]int{0}, "apply", "-input=false", "tfplan")
}

// outputs returns the root module's outputs, decoded from `terraform output -json`.
func (c *tfCLI) outputs() map[string]any {
	c.t.Helper()
	_, out := c.run([]int{0}, "output", "-json")
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		c.t.Fatalf("terraform output -json: %v\n%s", err, out)
	}
	values := make(map[string]any, len(raw))
	for name, o := range raw {
		values[name] = o.Value
	}
	return values
}

// warehouseRoot is a root module with one aliased provider block per replica, each pointing at
// the local stack and its replica's database, and one call of the warehouse module (by absolute
// path, so the repository's files are the ones applied) per replica; the module input
// `responsible` is the root variable of that name.
func warehouseRoot(t *testing.T, moduleDir string, replicas ...replica) string {
	stack := acctest.Current(t)
	var b strings.Builder
	b.WriteString(`terraform {
  required_providers {
    sluice = {
      source = "sluice-data/sluice"
    }
  }
}

variable "responsible" {
  type = string
}
`)
	for _, r := range replicas {
		b.WriteString(stack.ProviderConfig(fmt.Sprintf("  alias = %q", r.alias), stack.RedshiftBlock(t, r.db.name)))
		fmt.Fprintf(&b, `
module %[1]q {
  source    = %[2]q
  providers = { sluice = sluice.%[1]s }

  schema_name   = "analytics"
  responsible   = var.responsible
  readers_group = %[3]q
}

output "%[1]s_table_ids" {
  value = module.%[1]s.table_ids
}
`, r.alias, moduleDir, r.group)
	}
	return b.String()
}

// check runs SQL checks now; they ignore the Terraform state they are given.
func check(t *testing.T, checks ...resource.TestCheckFunc) {
	t.Helper()
	if err := resource.ComposeAggregateTestCheckFunc(checks...)(nil); err != nil {
		t.Fatal(err)
	}
}

// warehouseChecks checks, by SQL in the replica's database, everything the module declares.
func warehouseChecks(r replica, responsible string) resource.TestCheckFunc {
	const schema = "analytics"
	columns := func(table string) string {
		return fmt.Sprintf(`SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY attnum)
FROM pg_attribute WHERE attrelid = 'analytics.%s'::regclass AND attnum > 0 AND NOT attisdropped`, table)
	}
	primaryKey := func(table string) string {
		return fmt.Sprintf(`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'analytics.%s'::regclass AND contype = 'p'`, table)
	}
	db := r.db
	return resource.ComposeAggregateTestCheckFunc(
		db.expect(schemaCommentSQL(schema), "Tracked events and their daily counts.\n\nresponsible: "+responsible),
		db.expect(columns("events"), "id bigint NOT NULL, occurred_at timestamp without time zone, payload character varying(4096)"),
		db.expect(primaryKey("events"), "PRIMARY KEY (id)"),
		db.expect(columns("daily_counts"), "day date NOT NULL, events bigint NOT NULL"),
		db.expect(primaryKey("daily_counts"), "PRIMARY KEY (day)"),
		db.expect(roleSQL(r.group, "rolcanlogin"), "false"),
		db.expect(groupMembersSQL(r.group), ""),
		db.expect(schemaPrivsSQL(schema, r.group), "USAGE"),
		db.expect(tablePrivsSQL(schema, "events", r.group), "SELECT"),
		db.expect(tablePrivsSQL(schema, "daily_counts", r.group), "SELECT"),
		db.expect(defaultPrivsSQL(schema, r.group), "SELECT"),
		db.expect(fmt.Sprintf(`SELECT (has_schema_privilege(%[1]s, 'analytics', 'USAGE') AND has_table_privilege(%[1]s, 'analytics.events', 'SELECT')
  AND has_table_privilege(%[1]s, 'analytics.daily_counts', 'SELECT'))::text`, sqlLit(r.group)), "true"),
	)
}

// TestAccRedshiftReplicas_OneModuleTwoDatabases applies the example warehouse module, unmodified,
// to two databases through two aliases of the provider: both get the same schema, tables, group
// and grants; a change of a module input reaches both; drift in one replica shows in the plan for
// that replica only and the apply fixes it; destroy removes everything from both.
func TestAccRedshiftReplicas_OneModuleTwoDatabases(t *testing.T) {
	moduleDir, err := filepath.Abs(warehouseModuleDir)
	if err != nil {
		t.Fatal(err)
	}
	primary := replica{alias: "primary", db: newSQLDB(t)}
	eu := replica{alias: "replica_eu", db: newSQLDB(t)}
	// Unique per test run: role names are shared by every database of the server, and so by
	// both replicas here and by the other tests. On real replicas, separate clusters, the group
	// name would be the same everywhere.
	primary.group = "readers_" + primary.db.name
	eu.group = "readers_" + eu.db.name

	tf := newTFCLI(t)
	if err := os.WriteFile(filepath.Join(tf.dir, "main.tf"), []byte(warehouseRoot(t, moduleDir, primary, eu)), 0o600); err != nil {
		t.Fatal(err)
	}
	tf.run([]int{0}, "init", "-input=false")
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			tf.run([]int{0}, "destroy", "-input=false", "-auto-approve", "-var", "responsible=cleanup")
		}
	})
	addr := func(r replica, resourceAddr string) string { return "module." + r.alias + "." + resourceAddr }

	const (
		before = "data-platform@acme.example"
		after  = "warehouse-oncall@acme.example"
	)

	// 1. The same module creates the same objects in both databases.
	tf.apply(before)
	check(t, warehouseChecks(primary, before), warehouseChecks(eu, before))
	tf.expectEmptyPlan(before)
	outputs := tf.outputs()
	wantIDs := map[string]any{"events": "analytics/events", "daily_counts": "analytics/daily_counts"}
	for _, name := range []string{"primary_table_ids", "replica_eu_table_ids"} {
		if got := fmt.Sprint(outputs[name]); got != fmt.Sprint(wantIDs) {
			t.Errorf("output %s = %s, want %s", name, got, fmt.Sprint(wantIDs))
		}
	}

	// 2. One module input changed: both databases follow, in place.
	tf.planAndApply(after,
		plancheck.ExpectResourceAction(addr(primary, "sluice_redshift_schema.this"), plancheck.ResourceActionUpdate),
		plancheck.ExpectResourceAction(addr(eu, "sluice_redshift_schema.this"), plancheck.ResourceActionUpdate),
		plancheck.ExpectResourceAction(addr(primary, "sluice_redshift_grant.readers_select"), plancheck.ResourceActionNoop),
		plancheck.ExpectResourceAction(addr(eu, "sluice_redshift_grant.readers_select"), plancheck.ResourceActionNoop),
	)
	check(t, warehouseChecks(primary, after), warehouseChecks(eu, after))
	tf.expectEmptyPlan(after)

	// 3. SELECT revoked by hand in the replica only: the plan updates the replica's grant and
	// leaves the primary alone; the apply puts the privilege back.
	eu.db.exec(fmt.Sprintf(`REVOKE SELECT ON ALL TABLES IN SCHEMA analytics FROM %q`, eu.group))
	check(t, eu.db.expect(tablePrivsSQL("analytics", "events", eu.group), ""))
	tf.planAndApply(after,
		plancheck.ExpectResourceAction(addr(eu, "sluice_redshift_grant.readers_select"), plancheck.ResourceActionUpdate),
		plancheck.ExpectResourceAction(addr(primary, "sluice_redshift_grant.readers_select"), plancheck.ResourceActionNoop),
		plancheck.ExpectResourceAction(addr(eu, "sluice_redshift_grant.readers_usage"), plancheck.ResourceActionNoop),
		plancheck.ExpectResourceAction(addr(eu, "sluice_redshift_schema.this"), plancheck.ResourceActionNoop),
	)
	check(t, warehouseChecks(primary, after), warehouseChecks(eu, after))
	tf.expectEmptyPlan(after)

	// 4. Destroy removes the schema, tables and group from both databases.
	tf.run([]int{0}, "destroy", "-input=false", "-auto-approve", "-var", "responsible="+after)
	destroyed = true
	for _, r := range []replica{primary, eu} {
		check(t,
			r.db.expect(`SELECT nspname::text FROM pg_namespace WHERE nspname = 'analytics'`, ""),
			r.db.expect(roleSQL(r.group, "rolname"), ""),
		)
	}
}
