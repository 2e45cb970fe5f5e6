package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

var (
	_ resource.Resource                   = (*redshiftGrantResource)(nil)
	_ resource.ResourceWithConfigure      = (*redshiftGrantResource)(nil)
	_ resource.ResourceWithImportState    = (*redshiftGrantResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*redshiftGrantResource)(nil)
	_ resource.ResourceWithValidateConfig = (*redshiftGrantResource)(nil)
)

// NewRedshiftGrantResource is the sluice_redshift_grant resource.
func NewRedshiftGrantResource() resource.Resource { return &redshiftGrantResource{} }

type redshiftGrantResource struct {
	data *providerData
}

type redshiftGrantModel struct {
	ID           types.String `tfsdk:"id"`
	GranteeType  types.String `tfsdk:"grantee_type"`
	Grantee      types.String `tfsdk:"grantee"`
	ObjectType   types.String `tfsdk:"object_type"`
	Database     types.String `tfsdk:"database"`
	Schema       types.String `tfsdk:"schema"`
	Object       types.String `tfsdk:"object"`
	Privileges   types.Set    `tfsdk:"privileges"`
	FutureTables types.Bool   `tfsdk:"future_tables"`
}

func (r *redshiftGrantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_redshift_grant"
}

// privilegesDescription lists the privileges per object type from the constants the validators use.
func privilegesDescription() string {
	var b strings.Builder
	b.WriteString("Privileges the grantee holds on the object — exactly these: privileges granted outside Terraform on the same grantee and object show in the next plan and are revoked on apply. " +
		"Case-insensitive. `ALL` means every privilege listed for the object type (in the connected dialect) and reads back as that list without a diff. Allowed per `object_type`:\n")
	for _, t := range redshift.ObjectTypes() {
		fmt.Fprintf(&b, "  - `%s`: %s\n", t, redshift.PrivilegeHelp(redshift.ObjectType(t)))
	}
	b.WriteString("\nRedshift has no `CONNECT`; sluice manages the table privileges every Redshift version has, so `TRUNCATE` (and Redshift's newer `ALTER` and `DROP`) are not managed there.")
	return b.String()
}

func (r *redshiftGrantResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The privileges of ONE grantee — a user, a group or `PUBLIC` — on ONE object: a database, a schema, a table, or every table of a schema (`all_tables`). " +
			"The resource is authoritative for that grantee and object: the plan shows any privilege granted or revoked outside Terraform, and apply puts back exactly the declared set. " +
			"Destroying it revokes every privilege of the pair (for `PUBLIC` on a database that includes PostgreSQL's default `CONNECT` and `TEMPORARY`).\n\n" +
			"Privileges are read from the catalog ACLs (`datacl`, `nspacl`, `relacl`, `pg_default_acl`). An object whose ACL was never changed holds the built-in defaults: " +
			"its owner holds everything and, on a database, `PUBLIC` holds `TEMPORARY` (and `CONNECT` on PostgreSQL).\n\n" +
			"For `all_tables`, a privilege reads as held when every table (and view) of the schema has it, and a privilege you did not declare reads as held when any table has it — " +
			"so a grant or revoke by hand on a single table shows as drift. A schema without tables holds whatever you declare. With `future_tables`, tables the provider's user creates in the schema later get the privileges too (`ALTER DEFAULT PRIVILEGES`).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The grant's ID, which is also its import ID: " + redshift.GrantIDFormat + ".",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"grantee_type": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Who receives the privileges: " + quotedList(redshift.GranteeTypes()) + ". On Redshift a `group` is granted to as `GROUP \"name\"`; on PostgreSQL, which has roles only, a group is a role. Changing it replaces the grant.",
				Validators:          []validator.String{stringvalidator.OneOf(redshift.GranteeTypes()...)},
				PlanModifiers:       replace,
			},
			"grantee": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The user or group name (case-sensitive, always quoted). Required for `user` and `group`; must not be set for `public`. Changing it replaces the grant.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
				PlanModifiers:       replace,
			},
			"object_type": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "What the privileges are on: " + quotedList(redshift.ObjectTypes()) + ". `all_tables` is every table and view that exists in `schema` (`GRANT ... ON ALL TABLES IN SCHEMA`), " +
					"and with `future_tables` also those created later. Changing it replaces the grant.",
				Validators:    []validator.String{stringvalidator.OneOf(redshift.ObjectTypes()...)},
				PlanModifiers: replace,
			},
			"database": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "The database granted on, for `object_type = \"database\"`; defaults to the provider's database. " +
					"For other object types it cannot be set and reads as the provider's database, where the schema lives. Changing it replaces the grant.",
				Validators:    []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
			},
			"schema": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The schema granted on (`schema`), or holding the table(s) (`table`, `all_tables`). Required for those object types; must not be set for `database`. Changing it replaces the grant.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
				PlanModifiers:       replace,
			},
			"object": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The table (or view) name, for `object_type = \"table\"` only, where it is required. Changing it replaces the grant.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
				PlanModifiers:       replace,
			},
			"privileges": schema.SetAttribute{
				ElementType:         types.StringType,
				Required:            true,
				MarkdownDescription: privilegesDescription(),
				Validators:          []validator.Set{setvalidator.SizeAtLeast(1)},
			},
			"future_tables": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "For `object_type = \"all_tables\"` only: also grant `privileges` on tables created in the schema later, by `ALTER DEFAULT PRIVILEGES IN SCHEMA ... GRANT ... ON TABLES`. " +
					"Default privileges belong to the role that creates the tables: this covers tables created by the provider's user, not by other users. " +
					"`false` (the default) revokes such default privileges of the grantee in the schema; changing it is done in place.",
			},
		},
	}
}

func (r *redshiftGrantResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks which attributes the grantee and object types need, and the privileges
// per object type, at plan time with the attribute path.
func (r *redshiftGrantResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m redshiftGrantModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.GranteeType.IsUnknown() && !m.GranteeType.IsNull() {
		gt := m.GranteeType.ValueString()
		switch {
		case gt == string(redshift.GranteePublic) && !m.Grantee.IsNull():
			resp.Diagnostics.AddAttributeError(path.Root("grantee"), "grantee must not be set for PUBLIC",
				fmt.Sprintf("grantee = %q was given with grantee_type = \"public\". PUBLIC has no name: remove grantee, or set grantee_type to \"user\" or \"group\".", m.Grantee.ValueString()))
		case gt != string(redshift.GranteePublic) && m.Grantee.IsNull():
			resp.Diagnostics.AddAttributeError(path.Root("grantee"), "Missing grantee",
				fmt.Sprintf("grantee_type = %q needs grantee: the name of the %s.", gt, gt))
		}
	}
	if m.ObjectType.IsUnknown() || m.ObjectType.IsNull() {
		return
	}
	t := redshift.ObjectType(m.ObjectType.ValueString())
	need := func(attr string, v types.String, needed bool, what string) {
		switch {
		case needed && v.IsNull():
			resp.Diagnostics.AddAttributeError(path.Root(attr), "Missing "+attr,
				fmt.Sprintf("object_type = %q needs %s: %s.", t, attr, what))
		case !needed && !v.IsNull():
			resp.Diagnostics.AddAttributeError(path.Root(attr), attr+" does not apply to object_type "+string(t),
				fmt.Sprintf("%s = %q was given, but %s applies to object_type %s only. Remove it.", attr, v.ValueString(), attr, what))
		}
	}
	need("schema", m.Schema, t.NeedsSchema(), map[bool]string{true: "the schema name", false: "schema, table and all_tables"}[t.NeedsSchema()])
	need("object", m.Object, t.NeedsTable(), map[bool]string{true: "the table name", false: "table"}[t.NeedsTable()])
	if t != redshift.ObjectDatabase && !m.Database.IsNull() && !m.Database.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("database"), "database does not apply to object_type "+string(t),
			fmt.Sprintf("database = %q was given, but schemas and tables are always in the provider's database; database applies to object_type database only. Remove it (use a provider alias for another database).", m.Database.ValueString()))
	}
	if t != redshift.ObjectAllTables && m.FutureTables.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("future_tables"), "future_tables needs object_type all_tables",
			fmt.Sprintf("future_tables = true applies to object_type = \"all_tables\" only, not %q. Remove it, or grant on all_tables.", t))
	}
	if m.Privileges.IsUnknown() || m.Privileges.IsNull() {
		return
	}
	var privs []types.String
	resp.Diagnostics.Append(m.Privileges.ElementsAs(ctx, &privs, false)...)
	for _, p := range privs {
		if p.IsUnknown() || p.IsNull() || strings.EqualFold(strings.TrimSpace(p.ValueString()), redshift.AllPrivileges) {
			continue
		}
		if _, err := redshift.ParsePrivilege(t, p.ValueString(), nil); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("privileges"), "Invalid privilege", err.Error()+".")
		}
	}
}

// ModifyPlan fills the database and id the plan shows, and refuses PostgreSQL-only privileges on
// Redshift; only grants that name one pay for the connection here.
func (r *redshiftGrantResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil || r.data.redshift == nil || !r.data.redshift.knownAtPlan() {
		return
	}
	var plan redshiftGrantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Database.IsUnknown() {
		plan.Database = types.StringValue(r.data.redshift.database)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("database"), plan.Database)...)
	}
	if g, ok := grantIdentity(plan); ok {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), redshift.GrantID(g))...)
	}
	declared, known := declaredPrivileges(ctx, plan.Privileges)
	if !known || plan.ObjectType.IsUnknown() {
		return
	}
	pgOnly := false
	for _, p := range declared {
		pgOnly = pgOnly || redshift.PostgreSQLOnly(redshift.Privilege(strings.ToUpper(strings.TrimSpace(p))))
	}
	if !pgOnly {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	if _, err := redshift.NormalizePrivileges(redshift.ObjectType(plan.ObjectType.ValueString()), cat.Dialect(), declared); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("privileges"), "Privilege not available on this database", err.Error())
	}
}

func (r *redshiftGrantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan redshiftGrantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.set(ctx, &plan, &resp.State, &resp.Diagnostics, "Granting privileges failed")
}

func (r *redshiftGrantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan redshiftGrantModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// One transaction: on failure nothing changed, and the prior state still holds.
	r.set(ctx, &plan, &resp.State, &resp.Diagnostics, "Updating privileges failed")
}

// set makes the grant hold the planned privileges and stores the read-back.
func (r *redshiftGrantResource) set(ctx context.Context, plan *redshiftGrantModel, state *tfsdk.State, diags *diag.Diagnostics, summary string) {
	cat, err := r.data.redshift.catalog(ctx)
	if err != nil {
		diags.AddError("Cannot connect to the database", err.Error())
		return
	}
	if plan.Database.IsUnknown() || plan.Database.IsNull() {
		plan.Database = types.StringValue(r.data.redshift.database)
	}
	g, _ := grantIdentity(*plan)
	declared, _ := declaredPrivileges(ctx, plan.Privileges)
	g.Privileges, err = redshift.NormalizePrivileges(g.ObjectType, cat.Dialect(), declared)
	if err != nil {
		diags.AddAttributeError(path.Root("privileges"), summary, err.Error())
		return
	}
	g.FutureTables = plan.FutureTables.ValueBool()
	st, err := cat.SetGrant(ctx, g)
	if err != nil {
		diags.AddError(summary, err.Error())
		return
	}
	grantToModel(plan, st, cat.Dialect(), declared)
	diags.Append(state.Set(ctx, plan)...)
}

func (r *redshiftGrantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state redshiftGrantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.readCatalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	if state.Database.IsNull() || state.Database.IsUnknown() { // after import
		state.Database = types.StringValue(r.data.redshift.database)
	}
	g, _ := grantIdentity(state)
	declared, _ := declaredPrivileges(ctx, state.Privileges)
	g.Privileges, _ = redshift.NormalizePrivileges(g.ObjectType, cat.Dialect(), declared) // as declared; invalid ones were refused at plan time
	g.FutureTables = state.FutureTables.ValueBool()
	st, err := cat.Grant(ctx, g)
	if errors.Is(err, redshift.ErrNotFound) {
		resp.Diagnostics.AddWarning("Granted object is gone",
			fmt.Sprintf("%s; the grant is removed from state and the plan will grant again (which needs the object to exist).", err))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading privileges failed", err.Error())
		return
	}
	grantToModel(&state, st, cat.Dialect(), declared)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *redshiftGrantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state redshiftGrantModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	g, _ := grantIdentity(state)
	if err := cat.RevokeGrant(ctx, g); err != nil {
		resp.Diagnostics.AddError("Revoking privileges failed", err.Error())
	}
}

// ImportState imports a grant by its ID, e.g.
// `terraform import sluice_redshift_grant.x user:alice:table:clicks:events`.
func (r *redshiftGrantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	g, err := redshift.ParseGrantID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error()+". See the resource documentation: "+redshift.GrantIDFormat+".")
		return
	}
	set := func(attr, v string) {
		if v != "" {
			resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
		}
	}
	set("id", redshift.GrantID(g))
	set("grantee_type", string(g.GranteeType))
	set("grantee", g.Grantee)
	set("object_type", string(g.ObjectType))
	set("database", g.Database)
	set("schema", g.Schema)
	set("object", g.Table)
}

// grantIdentity is the grantee and object of a model; ok is false while any is unknown.
func grantIdentity(m redshiftGrantModel) (redshift.Grant, bool) {
	for _, v := range []types.String{m.GranteeType, m.Grantee, m.ObjectType, m.Database, m.Schema, m.Object} {
		if v.IsUnknown() {
			return redshift.Grant{}, false
		}
	}
	return redshift.Grant{
		GranteeType: redshift.GranteeType(m.GranteeType.ValueString()),
		Grantee:     m.Grantee.ValueString(),
		ObjectType:  redshift.ObjectType(m.ObjectType.ValueString()),
		Database:    m.Database.ValueString(),
		Schema:      m.Schema.ValueString(),
		Table:       m.Object.ValueString(),
	}, true
}

// declaredPrivileges are the privileges as written; known is false while any is unknown.
func declaredPrivileges(ctx context.Context, s types.Set) (declared []string, known bool) {
	if s.IsUnknown() {
		return nil, false
	}
	if s.IsNull() {
		return nil, true
	}
	var vs []types.String
	_ = s.ElementsAs(ctx, &vs, false)
	for _, v := range vs {
		if v.IsUnknown() {
			return nil, false
		}
		declared = append(declared, v.ValueString())
	}
	return declared, true
}

// grantToModel stores a read-back. The privileges keep the spelling declared (ALL, TEMP,
// lower case) when they mean exactly what is held, so an unchanged configuration plans empty;
// otherwise they are the privileges held, which the plan shows as drift.
func grantToModel(m *redshiftGrantModel, st *redshift.GrantState, d redshift.Dialect, declared []string) {
	m.ID = types.StringValue(redshift.GrantID(st.Grant))
	if want, err := redshift.NormalizePrivileges(st.ObjectType, d, declared); declared == nil || err != nil || want != st.Privileges {
		m.Privileges = stringSet(st.Privileges.Strings())
	}
	m.FutureTables = types.BoolValue(st.FutureTables)
}
