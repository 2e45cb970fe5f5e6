package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

var (
	_ resource.Resource                = (*redshiftGroupResource)(nil)
	_ resource.ResourceWithConfigure   = (*redshiftGroupResource)(nil)
	_ resource.ResourceWithImportState = (*redshiftGroupResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*redshiftGroupResource)(nil)
)

// NewRedshiftGroupResource is the sluice_redshift_group resource.
func NewRedshiftGroupResource() resource.Resource { return &redshiftGroupResource{} }

type redshiftGroupResource struct {
	data *providerData
}

type redshiftGroupModel struct {
	ID      types.String `tfsdk:"id"`
	Name    types.String `tfsdk:"name"`
	Members types.Set    `tfsdk:"members"`
}

func (r *redshiftGroupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_redshift_group"
}

func (r *redshiftGroupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A group of users, the usual grantee of `sluice_redshift_grant`. On PostgreSQL it is a role without `LOGIN` " +
			"whose members are granted the role. Membership is authoritative: a member added or removed outside Terraform shows in the next plan.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The group name."},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Group name. Changing it renames the group in place.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
			},
			"members": schema.SetAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Names of the users in the group — exactly these. Default: none.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
		},
	}
}

func (r *redshiftGroupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan keeps the ID equal to the name, so a rename shows in the plan.
func (r *redshiftGroupResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planIDFromName(ctx, req, resp)
}

func (r *redshiftGroupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan redshiftGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	g := redshift.Group{Name: plan.Name.ValueString()}
	resp.Diagnostics.Append(plan.Members.ElementsAs(ctx, &g.Members, false)...)
	st, err := cat.CreateGroup(ctx, g)
	if err != nil {
		resp.Diagnostics.AddError("Creating group failed", err.Error())
		return
	}
	groupToModel(&plan, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftGroupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state redshiftGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.readCatalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	st, err := cat.Group(ctx, state.Name.ValueString())
	if !readFound(ctx, resp, "Group", err) {
		return
	}
	groupToModel(&state, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *redshiftGroupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state redshiftGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	cur := &redshift.RoleState{Name: state.Name.ValueString()}
	want := redshift.Group{Name: plan.Name.ValueString()}
	resp.Diagnostics.Append(state.Members.ElementsAs(ctx, &cur.Members, false)...)
	resp.Diagnostics.Append(plan.Members.ElementsAs(ctx, &want.Members, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	st, err := cat.UpdateGroup(ctx, cur, want)
	if err != nil {
		resp.Diagnostics.AddError("Updating group failed", err.Error())
		return
	}
	groupToModel(&plan, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftGroupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state redshiftGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	if err := cat.DropGroup(ctx, state.Name.ValueString()); err != nil {
		resp.Diagnostics.AddError("Dropping group failed", err.Error())
	}
}

// ImportState imports a group by name.
func (r *redshiftGroupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, "group", "sluice_redshift_group.readers readers", req, resp)
}

func groupToModel(m *redshiftGroupModel, s *redshift.RoleState) {
	m.ID = types.StringValue(s.Name)
	m.Name = types.StringValue(s.Name)
	m.Members = stringSet(s.Members)
}
