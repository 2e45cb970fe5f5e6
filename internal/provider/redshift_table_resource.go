package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

var (
	_ resource.Resource                   = (*redshiftTableResource)(nil)
	_ resource.ResourceWithConfigure      = (*redshiftTableResource)(nil)
	_ resource.ResourceWithImportState    = (*redshiftTableResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*redshiftTableResource)(nil)
	_ resource.ResourceWithValidateConfig = (*redshiftTableResource)(nil)
)

// Private state keys.
const (
	// privateDefaults holds redshift.DefaultForms: the database's spelling of each configured
	// column default, recorded at apply, so reads tell a respelling from a change made by hand.
	privateDefaults = "column_defaults"
	// privateReplaceAllowed carries the planned allow_data_loss of a replacement to the Delete
	// half of it, which otherwise only sees the prior state.
	privateReplaceAllowed = "replace_allow_data_loss"
)

// NewRedshiftTableResource is the sluice_redshift_table resource.
func NewRedshiftTableResource() resource.Resource { return &redshiftTableResource{} }

type redshiftTableResource struct {
	data *providerData
}

type redshiftTableModel struct {
	ID            types.String `tfsdk:"id"`
	Schema        types.String `tfsdk:"schema"`
	Name          types.String `tfsdk:"name"`
	Owner         types.String `tfsdk:"owner"`
	Columns       types.List   `tfsdk:"columns"`
	PrimaryKey    types.List   `tfsdk:"primary_key"`
	DistStyle     types.String `tfsdk:"dist_style"`
	DistKey       types.String `tfsdk:"dist_key"`
	SortStyle     types.String `tfsdk:"sort_style"`
	SortKeys      types.List   `tfsdk:"sort_keys"`
	Backup        types.Bool   `tfsdk:"backup"`
	Description   types.String `tfsdk:"description"`
	AllowDataLoss types.Bool   `tfsdk:"allow_data_loss"`
}

type redshiftColumnModel struct {
	Name     types.String `tfsdk:"name"`
	Type     types.String `tfsdk:"type"`
	Nullable types.Bool   `tfsdk:"nullable"`
	Default  types.String `tfsdk:"default"`
	Encode   types.String `tfsdk:"encode"`
	Comment  types.String `tfsdk:"comment"`
}

var columnObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "nullable": types.BoolType,
	"default": types.StringType, "encode": types.StringType, "comment": types.StringType,
}}

func (r *redshiftTableResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_redshift_table"
}

func (r *redshiftTableResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	emptyList := listdefault.StaticValue(types.ListValueMust(types.StringType, nil))
	resp.Schema = schema.Schema{
		MarkdownDescription: "A table in the provider's Redshift (or PostgreSQL) database: columns, primary key, distribution and sort keys, comments.\n\n" +
			"Changes are made in place where the database can (add or drop a column, widen a `VARCHAR`, comments, owner, rename, distribution and compound sort key on Redshift; " +
			"defaults and nullability on PostgreSQL); anything else replaces the table, the plan says why in a warning, " +
			"and a table that holds rows is only dropped or replaced with `allow_data_loss = true`: otherwise `terraform plan` fails, naming the table and its row count, " +
			"before anything of the plan is applied.\n\n" +
			"`dist_style`, `dist_key`, `sort_style`, `sort_keys`, `backup` and `encode` are Redshift physical attributes: " +
			"on PostgreSQL (local development) they are accepted and recorded in state but not applied, so the same configuration plans the same on both.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<schema>/<table>`, the import ID.",
			},
			"schema": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Schema the table is in (reference a `sluice_redshift_schema`'s `name`). " +
					"Changing it moves the table in place on PostgreSQL (`ALTER TABLE ... SET SCHEMA`) and replaces it on Redshift; " +
					"renaming the schema resource itself moves nothing and changes nothing here.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Table name. Any characters are allowed (it is always quoted); at most 127 bytes on Redshift and 63 on PostgreSQL. " +
					"Changing it renames the table in place (`ALTER TABLE ... RENAME TO`), keeping its rows.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
			},
			"owner": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "User that owns the table. Defaults to the provider's user; once set, a change of owner made outside Terraform shows in the plan.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"columns": schema.ListNestedAttribute{
				Required: true,
				MarkdownDescription: "The columns, in table order. New columns are added after the existing ones; inserting a column before an existing one, " +
					"or reordering columns, replaces the table. Removing a column drops it with its data (the plan warns).",
				Validators: []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Column name; unique within the table. Renaming a column is a drop and an add: its data is lost.",
						Validators:          []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
					},
					"type": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "SQL type, e.g. `bigint`, `varchar(64)`, `numeric(12,2)`, `timestamptz`. Aliases are the same type: " +
							"`varchar(32)` never differs from `character varying(32)`, nor `int` from `integer`. " +
							"Making a `varchar` longer is done in place; any other type change replaces the table (Redshift cannot do it in place, and PostgreSQL follows Redshift here).",
					},
					"nullable": schema.BoolAttribute{
						Optional:            true,
						Computed:            true,
						Default:             booldefault.StaticBool(true),
						MarkdownDescription: "Whether the column accepts NULL. Default `true`; primary key columns must set `false`. A change is in place on PostgreSQL and replaces the table on Redshift.",
					},
					"default": schema.StringAttribute{
						Optional: true,
						Computed: true,
						Default:  stringdefault.StaticString(""),
						MarkdownDescription: "Default value as a **SQL expression**, written as SQL: `0`, `'n/a'` (a string needs its quotes), `now()`, `getdate()`. " +
							"`\"\"` (the default) means none. The database may spell it differently (`'n/a'::text`); that is not a change, but an edit made outside Terraform is. " +
							"A change is in place on PostgreSQL and replaces the table on Redshift.",
					},
					"encode": schema.StringAttribute{
						Optional: true,
						Computed: true,
						MarkdownDescription: "Redshift compression encoding, one of " + quotedList(redshift.Encodings()) +
							". Unset lets Redshift choose and reports its choice. Changed in place. Recorded, not applied, on PostgreSQL.",
						Validators: []validator.String{stringvalidator.OneOf(redshift.Encodings()...)},
					},
					"comment": schema.StringAttribute{
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(""),
						MarkdownDescription: "Column comment (`COMMENT ON COLUMN`).",
					},
				}},
			},
			"primary_key": schema.ListAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             emptyList,
				MarkdownDescription: "Columns of the primary key, in order. Each must be declared in `columns` with `nullable = false`. Changed in place.",
			},
			"dist_style": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(redshift.DistAuto),
				MarkdownDescription: "Redshift distribution style, one of " + quotedList(redshift.DistStyles()) + "; default `" + redshift.DistAuto + "`. " +
					"`" + redshift.DistKey + "` needs `dist_key`. Changed in place (`ALTER DISTSTYLE`). Recorded, not applied, on PostgreSQL.",
				Validators: []validator.String{stringvalidator.OneOf(redshift.DistStyles()...)},
			},
			"dist_key": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: "Distribution key column, with `dist_style = \"" + redshift.DistKey + "\"` only. Changed in place (`ALTER DISTKEY`). Recorded, not applied, on PostgreSQL.",
			},
			"sort_style": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(redshift.SortCompound),
				MarkdownDescription: "Redshift sort key style, one of " + quotedList(redshift.SortStyles()) + "; default `" + redshift.SortCompound + "`. " +
					"A compound sort key changes in place; changing an interleaved one replaces the table. Recorded, not applied, on PostgreSQL.",
				Validators: []validator.String{stringvalidator.OneOf(redshift.SortStyles()...)},
			},
			"sort_keys": schema.ListAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             emptyList,
				MarkdownDescription: "Sort key columns, in order. Recorded, not applied, on PostgreSQL.",
			},
			"backup": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Whether Redshift includes the table in snapshots; `false` creates it with `BACKUP NO`. Default `true`. " +
					"A change replaces the table. Recorded, not applied, on PostgreSQL.",
			},
			"description": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: "Table comment (`COMMENT ON TABLE`).",
			},
			"allow_data_loss": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Allow dropping the table while it holds rows. Default `false`: a plan that replaces a table holding rows fails " +
					"with the row count, and so does destroying one. For a replacement, set it in the same change; for a destroy, apply it first " +
					"(a destroy only sees what is in state).",
			},
		},
	}
}

func (r *redshiftTableResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// problemPath turns a domain problem location into an attribute path.
func problemPath(attribute string, index int, field string) path.Path {
	p := path.Root(attribute)
	if index >= 0 {
		p = p.AtListIndex(index)
	}
	if field != "" {
		p = p.AtName(field)
	}
	return p
}

// ValidateConfig reports, with attribute paths, what needs no database: duplicate columns,
// primary_key / dist_key / sort_keys naming undeclared columns, dist_key without KEY, malformed
// types and defaults. Values still unknown are checked at apply.
func (r *redshiftTableResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg redshiftTableModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	t, known := tableFromModel(ctx, cfg, &resp.Diagnostics)
	if !known || resp.Diagnostics.HasError() {
		return
	}
	// Redshift's identifier limit here; PostgreSQL's shorter one is checked at apply.
	for _, p := range redshift.Redshift.Problems(t) {
		// Enum values are reported by the attributes' own validators.
		if p.Attribute == "dist_style" || p.Attribute == "sort_style" || p.Field == "encode" {
			continue
		}
		// The detail repeats the location: Terraform points at the resource, not at a list element.
		resp.Diagnostics.AddAttributeError(problemPath(p.Attribute, p.Index, p.Field), "Invalid table definition", p.Error())
	}
}

// ModifyPlan shows the ID, keeps the encodings Redshift chose for columns that do not set one,
// and decides what the database cannot change in place: those changes replace the table, each
// with a warning that says why. A replacement or a destroy of a table that holds rows fails
// here, at plan time, with the row count, unless allow_data_loss is set: nothing of the plan is
// applied (Delete checks again, the last guard). While the connection settings are unknown
// (the cluster is not created yet) nothing can be read, and the checks wait for apply.
func (r *redshiftTableResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil || !r.data.redshift.knownAtPlan() {
		return
	}
	if req.Plan.Raw.IsNull() {
		r.refuseDestroyWithRows(ctx, req, resp)
		return
	}
	var plan redshiftTableModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Schema.IsUnknown() && !plan.Name.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), tableID(plan.Schema.ValueString(), plan.Name.ValueString()))...)
	}
	if req.State.Raw.IsNull() {
		return // create (also the create half of a replacement: keep the private flag)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplaceAllowed, nil)...)
	var state redshiftTableModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	want, known := tableFromModel(ctx, plan, &resp.Diagnostics)
	cur, _ := tableFromModel(ctx, state, &resp.Diagnostics)
	if !known || resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	d := cat.Dialect()

	// A column without a configured encoding keeps the one it has; a new one gets Redshift's
	// choice (unknown until apply) or, on PostgreSQL, nothing.
	var cols []redshiftColumnModel
	resp.Diagnostics.Append(plan.Columns.ElementsAs(ctx, &cols, false)...)
	changed := false
	for i := range cols {
		if !cols[i].Encode.IsUnknown() {
			continue
		}
		changed = true
		if c := cur.Column(cols[i].Name.ValueString()); c != nil {
			cols[i].Encode = types.StringValue(c.Encode)
			want.Columns[i].Encode = c.Encode
		} else if d != redshift.Redshift {
			cols[i].Encode = types.StringValue("")
		}
	}
	if changed {
		list, diags := types.ListValueFrom(ctx, columnObjectType, cols)
		resp.Diagnostics.Append(diags...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("columns"), list)...)
	}

	for _, c := range cur.Columns {
		if want.Column(c.Name) == nil {
			resp.Diagnostics.AddAttributeWarning(path.Root("columns"), "Column will be dropped",
				fmt.Sprintf("Column %s of table %s is no longer declared: it will be dropped with its data.", redshift.QuoteIdent(c.Name), cur.Key()))
		}
	}

	reasons := d.ReplaceReasons(cur, want)
	if len(reasons) == 0 {
		return
	}
	for _, rr := range reasons {
		p := path.Root(rr.Attribute)
		if rr.Column != "" {
			for i, c := range want.Columns {
				if c.Name == rr.Column {
					p = path.Root("columns").AtListIndex(i).AtName(rr.Attribute)
				}
			}
		}
		resp.RequiresReplace = append(resp.RequiresReplace, p)
		resp.Diagnostics.AddAttributeWarning(p, "Table will be replaced",
			fmt.Sprintf("%s; the table %s will be replaced (dropped and created again).", rr.Reason, cur.Key()))
	}
	rows, err := cat.RowCount(ctx, cur.Key())
	if err != nil && !errors.Is(err, redshift.ErrNotFound) {
		resp.Diagnostics.AddError("Counting rows failed", err.Error())
		return
	}
	allow := plan.AllowDataLoss.ValueBool()
	if rows > 0 && !allow {
		resp.Diagnostics.AddAttributeError(path.Root("allow_data_loss"), "Replacing the table would delete its rows",
			(&redshift.DataLossError{Table: cur.Key(), Rows: rows, Replacing: true}).Error()+".")
		return
	}
	if allow {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplaceAllowed, []byte("true"))...)
	}
}

// refuseDestroyWithRows fails a destroy plan of a table that holds rows unless the state has
// allow_data_loss (a destroy has no configuration to set it in: it is applied first). The error
// names the table as the configuration wrote it and the count.
func (r *redshiftTableResource) refuseDestroyWithRows(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state redshiftTableModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || state.AllowDataLoss.ValueBool() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	key := redshift.TableKey{Schema: state.Schema.ValueString(), Name: state.Name.ValueString()}
	rows, err := cat.RowCount(ctx, key)
	switch {
	case errors.Is(err, redshift.ErrNotFound):
		return // already gone: nothing to lose
	case err != nil:
		resp.Diagnostics.AddError("Counting rows failed", fmt.Sprintf("before destroying table %s: %s", key, err))
		return
	case rows > 0:
		resp.Diagnostics.AddError("Destroying the table would delete its rows",
			fmt.Sprintf("sluice_redshift_table with schema = %q and name = %q: %s.", key.Schema, key.Name,
				(&redshift.DataLossError{Table: key, Rows: rows}).Error()))
	}
}

func (r *redshiftTableResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan redshiftTableModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	want, _ := tableFromModel(ctx, plan, &resp.Diagnostics)
	st, err := cat.CreateTable(ctx, want)
	if err != nil {
		resp.Diagnostics.AddError("Creating table failed", err.Error())
		return
	}
	// The replacement flag served its purpose (the Delete half ran before this).
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateReplaceAllowed, nil)...)
	r.applied(ctx, cat.Dialect(), &plan, want, st, resp.Private, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// privateSetter is the part of private state Create and Update write.
type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// applied records the database's spelling of the defaults just set and turns the read-back into
// the model.
func (r *redshiftTableResource) applied(ctx context.Context, d redshift.Dialect, m *redshiftTableModel, want redshift.Table, st *redshift.TableState, private privateSetter, diags *diag.Diagnostics) {
	forms := redshift.RecordDefaults(want, *st)
	b, err := json.Marshal(forms)
	if err != nil {
		diags.AddError("Recording column defaults failed", err.Error())
		return
	}
	diags.Append(private.SetKey(ctx, privateDefaults, b)...)
	tableToModel(ctx, m, d.ReadBack(want, *st, forms), diags)
}

func (r *redshiftTableResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state redshiftTableModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.readCatalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	declared, _ := tableFromModel(ctx, state, &resp.Diagnostics)
	st, err := cat.Table(ctx, declared.Key())
	if !readFound(ctx, resp, "Table", err) {
		return
	}
	var forms redshift.DefaultForms
	raw, diags := req.Private.GetKey(ctx, privateDefaults)
	resp.Diagnostics.Append(diags...)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &forms); err != nil {
			forms = nil // unreadable: compare spellings instead
		}
	}
	if state.AllowDataLoss.IsNull() {
		state.AllowDataLoss = types.BoolValue(false) // after import
	}
	tableToModel(ctx, &state, cat.Dialect().ReadBack(declared, *st, forms), &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *redshiftTableResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state redshiftTableModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	cur, _ := tableFromModel(ctx, state, &resp.Diagnostics)
	want, _ := tableFromModel(ctx, plan, &resp.Diagnostics)
	st, err := cat.UpdateTable(ctx, cur, want)
	if err != nil {
		// One transaction: nothing changed, and the prior state still holds.
		resp.Diagnostics.AddError("Updating table failed", err.Error())
		return
	}
	r.applied(ctx, cat.Dialect(), &plan, want, st, resp.Private, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftTableResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state redshiftTableModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	// A replacement's plan carries its own allow_data_loss (checked at plan time); a destroy
	// has only the state's.
	allow := state.AllowDataLoss.ValueBool()
	if flag, diags := req.Private.GetKey(ctx, privateReplaceAllowed); !diags.HasError() && string(flag) == "true" {
		allow = true
	}
	key := redshift.TableKey{Schema: state.Schema.ValueString(), Name: state.Name.ValueString()}
	if err := cat.DropTable(ctx, key, allow); err != nil {
		resp.Diagnostics.AddError("Dropping table failed", err.Error())
	}
}

// tableID is the ID and import ID: schema and table joined by "/". Import splits on the first
// "/", so table names may hold any character (dots and slashes too), schema names anything but a
// slash.
func tableID(schema, name string) types.String { return types.StringValue(schema + "/" + name) }

// ImportState imports a table by `<schema>/<table>`.
func (r *redshiftTableResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	schemaName, name, ok := strings.Cut(req.ID, "/")
	if !ok || schemaName == "" || name == "" {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import a table by `<schema>/<table>` (split on the first slash), e.g. `terraform import sluice_redshift_table.events clicks/events`; got %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("schema"), schemaName)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), tableID(schemaName, name))...)
}

// tableFromModel converts the model to the domain table. Null values (after import) read as the
// attribute defaults. known is false when a value the table's shape depends on is unknown.
func tableFromModel(ctx context.Context, m redshiftTableModel, diags *diag.Diagnostics) (t redshift.Table, known bool) {
	known = !m.Schema.IsUnknown() && !m.Name.IsUnknown() && !m.Columns.IsUnknown() && !m.PrimaryKey.IsUnknown() &&
		!m.DistStyle.IsUnknown() && !m.DistKey.IsUnknown() && !m.SortStyle.IsUnknown() && !m.SortKeys.IsUnknown() && !m.Backup.IsUnknown()
	t = redshift.Table{
		Schema:      m.Schema.ValueString(),
		Name:        m.Name.ValueString(),
		Owner:       m.Owner.ValueString(), // unknown (not set) reads as "": keep the default owner
		DistStyle:   stringOr(m.DistStyle, redshift.DistAuto),
		DistKey:     m.DistKey.ValueString(),
		SortStyle:   stringOr(m.SortStyle, redshift.SortCompound),
		Backup:      m.Backup.IsNull() || m.Backup.IsUnknown() || m.Backup.ValueBool(),
		Description: m.Description.ValueString(),
	}
	if !m.PrimaryKey.IsNull() && !m.PrimaryKey.IsUnknown() {
		diags.Append(m.PrimaryKey.ElementsAs(ctx, &t.PrimaryKey, false)...)
	}
	if !m.SortKeys.IsNull() && !m.SortKeys.IsUnknown() {
		diags.Append(m.SortKeys.ElementsAs(ctx, &t.SortKeys, false)...)
	}
	if m.Columns.IsNull() || m.Columns.IsUnknown() {
		return t, known
	}
	var cols []redshiftColumnModel
	diags.Append(m.Columns.ElementsAs(ctx, &cols, false)...)
	for _, c := range cols {
		if c.Name.IsUnknown() || c.Type.IsUnknown() || c.Nullable.IsUnknown() || c.Default.IsUnknown() {
			known = false
		}
		t.Columns = append(t.Columns, redshift.Column{
			Name:     c.Name.ValueString(),
			Type:     c.Type.ValueString(),
			Nullable: c.Nullable.IsNull() || c.Nullable.IsUnknown() || c.Nullable.ValueBool(),
			Default:  c.Default.ValueString(),
			Encode:   c.Encode.ValueString(),
			Comment:  c.Comment.ValueString(),
		})
	}
	return t, known
}

func tableToModel(ctx context.Context, m *redshiftTableModel, t redshift.Table, diags *diag.Diagnostics) {
	m.ID = tableID(t.Schema, t.Name)
	m.Schema = types.StringValue(t.Schema)
	m.Name = types.StringValue(t.Name)
	m.Owner = types.StringValue(t.Owner)
	cols := make([]redshiftColumnModel, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = redshiftColumnModel{
			Name: types.StringValue(c.Name), Type: types.StringValue(c.Type), Nullable: types.BoolValue(c.Nullable),
			Default: types.StringValue(c.Default), Encode: types.StringValue(c.Encode), Comment: types.StringValue(c.Comment),
		}
	}
	list, d := types.ListValueFrom(ctx, columnObjectType, cols)
	diags.Append(d...)
	m.Columns = list
	m.PrimaryKey = stringList(t.PrimaryKey)
	m.DistStyle = types.StringValue(t.DistStyle)
	m.DistKey = types.StringValue(t.DistKey)
	m.SortStyle = types.StringValue(t.SortStyle)
	m.SortKeys = stringList(t.SortKeys)
	m.Backup = types.BoolValue(t.Backup)
	m.Description = types.StringValue(t.Description)
}
