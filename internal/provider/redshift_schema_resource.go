package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

var (
	_ resource.Resource                = (*redshiftSchemaResource)(nil)
	_ resource.ResourceWithConfigure   = (*redshiftSchemaResource)(nil)
	_ resource.ResourceWithImportState = (*redshiftSchemaResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*redshiftSchemaResource)(nil)
)

// NewRedshiftSchemaResource is the sluice_redshift_schema resource.
func NewRedshiftSchemaResource() resource.Resource { return &redshiftSchemaResource{} }

type redshiftSchemaResource struct {
	data *providerData
}

type redshiftSchemaModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Owner       types.String `tfsdk:"owner"`
	Quota       types.Int64  `tfsdk:"quota"`
	Responsible types.String `tfsdk:"responsible"`
	Description types.String `tfsdk:"description"`
	DropCascade types.Bool   `tfsdk:"drop_cascade"`
}

func (r *redshiftSchemaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_redshift_schema"
}

func (r *redshiftSchemaResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A schema in the provider's Redshift (or PostgreSQL) database, with its owner and the contact responsible for its data. " +
			"`responsible` and `description` are stored in the schema's comment, so `sluice_redshift_schemas` — or any SQL client — can report who answers for what.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The schema name.",
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Schema name. Any characters are allowed (it is always quoted); at most 127 bytes on Redshift and 63 on PostgreSQL. " +
					"Changing it renames the schema in place (`ALTER SCHEMA ... RENAME TO`).",
				Validators: []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
			},
			"owner": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "User that owns the schema. Defaults to the provider's user; once set, a change of owner made outside Terraform shows in the plan.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"quota": schema.Int64Attribute{
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(0),
				MarkdownDescription: "Disk quota in MB (Redshift only). `0`, the default, means unlimited. Setting it on PostgreSQL is a plan-time error.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"responsible": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: "Who answers for the data in this schema: a team, a person or an email, on one line. Stored as the last line of the schema comment, `responsible: <value>`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(oneLineRE, "must be one line")},
			},
			"description": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: "What the schema holds. Stored in the schema comment, above the `responsible` line.",
			},
			"drop_cascade": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Drop the schema's objects with it on destroy. Default `false`: destroying a schema that still holds " +
					"tables or views fails, and the error names them.",
			},
		},
	}
}

func (r *redshiftSchemaResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan refuses a quota on PostgreSQL at plan time: the dialect is only known once
// connected, and only resources that set quota pay for the connection here.
func (r *redshiftSchemaResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil || !r.data.redshift.knownAtPlan() {
		return
	}
	planIDFromName(ctx, req, resp)
	var quota types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("quota"), &quota)...)
	if quota.IsUnknown() || quota.ValueInt64() == 0 {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	if cat.Dialect() != redshift.Redshift {
		resp.Diagnostics.AddAttributeError(path.Root("quota"), "Schema quota needs Redshift",
			fmt.Sprintf("quota = %d is a Redshift feature, but the provider's database is PostgreSQL. Remove quota (or set it to 0) for this database.", quota.ValueInt64()))
	}
}

func (r *redshiftSchemaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan redshiftSchemaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	st, err := cat.CreateSchema(ctx, schemaFromModel(plan))
	if err != nil {
		resp.Diagnostics.AddError("Creating schema failed", err.Error())
		return
	}
	schemaToModel(&plan, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftSchemaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state redshiftSchemaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.readCatalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	st, err := cat.Schema(ctx, state.Name.ValueString())
	if !readFound(ctx, resp, "Schema", err) {
		return
	}
	if state.DropCascade.IsNull() {
		state.DropCascade = types.BoolValue(false) // after import
	}
	schemaToModel(&state, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *redshiftSchemaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state redshiftSchemaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	st, err := cat.UpdateSchema(ctx, schemaFromModel(state), schemaFromModel(plan))
	if err != nil {
		// One transaction: nothing changed, and the prior state still holds.
		resp.Diagnostics.AddError("Updating schema failed", err.Error())
		return
	}
	schemaToModel(&plan, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftSchemaResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state redshiftSchemaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	if err := cat.DropSchema(ctx, state.Name.ValueString(), state.DropCascade.ValueBool()); err != nil {
		resp.Diagnostics.AddError("Dropping schema failed", err.Error())
	}
}

// ImportState imports a schema by name: `terraform import sluice_redshift_schema.x analytics`.
func (r *redshiftSchemaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, "schema", "sluice_redshift_schema.clicks clicks", req, resp)
}

func schemaFromModel(m redshiftSchemaModel) redshift.Schema {
	return redshift.Schema{
		Name:        m.Name.ValueString(),
		Owner:       m.Owner.ValueString(), // unknown (not set) reads as "": keep the default owner
		QuotaMB:     m.Quota.ValueInt64(),
		Responsible: m.Responsible.ValueString(),
		Description: m.Description.ValueString(),
	}
}

func schemaToModel(m *redshiftSchemaModel, s *redshift.SchemaState) {
	m.ID = types.StringValue(s.Name)
	m.Name = types.StringValue(s.Name)
	m.Owner = types.StringValue(s.Owner)
	m.Quota = types.Int64Value(s.QuotaMB)
	m.Responsible = types.StringValue(s.Responsible)
	m.Description = types.StringValue(s.Description)
}
