package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/provider/validate"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

var (
	_ resource.Resource                = (*redshiftUserResource)(nil)
	_ resource.ResourceWithConfigure   = (*redshiftUserResource)(nil)
	_ resource.ResourceWithImportState = (*redshiftUserResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*redshiftUserResource)(nil)
)

// NewRedshiftUserResource is the sluice_redshift_user resource.
func NewRedshiftUserResource() resource.Resource { return &redshiftUserResource{} }

type redshiftUserResource struct {
	data *providerData
}

type redshiftUserModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Password        types.String `tfsdk:"password"`
	ConnectionLimit types.Int64  `tfsdk:"connection_limit"`
	ValidUntil      types.String `tfsdk:"valid_until"`
	CreateDatabase  types.Bool   `tfsdk:"create_database"`
	Superuser       types.Bool   `tfsdk:"superuser"`
}

func (r *redshiftUserResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_redshift_user"
}

func (r *redshiftUserResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A database user. On PostgreSQL it is a role with `LOGIN`. The password is hashed before it reaches SQL " +
			"(SCRAM-SHA-256 on PostgreSQL, MD5 on Redshift), so it never appears in statement logs; leave it unset for users who log in through IAM.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The user name."},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "User name. Changing it renames the user in place.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, redshift.Redshift.MaxIdentBytes())},
			},
			"password": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "Password. Unset means no password (IAM or `GetClusterCredentials` logins only). " +
					"A password cannot be read back, so a change made outside Terraform is not detected; changing this value sets it again.",
				Validators: []validator.String{stringvalidator.LengthBetween(8, 64)},
			},
			"connection_limit": schema.Int64Attribute{
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(-1),
				MarkdownDescription: "Most concurrent connections the user may open. `-1`, the default, means unlimited.",
				Validators:          []validator.Int64{int64validator.AtLeast(-1)},
			},
			"valid_until": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "When the password stops working, as an RFC 3339 time such as `2027-01-01T00:00:00Z`. Unset means never.",
				Validators:          []validator.String{validate.RFC3339()},
			},
			"create_database": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether the user may create databases. Default `false`.",
			},
			"superuser": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether the user is a superuser (`CREATEUSER` on Redshift). Default `false`.",
			},
		},
	}
}

func (r *redshiftUserResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan keeps the ID equal to the name, so a rename shows in the plan.
func (r *redshiftUserResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planIDFromName(ctx, req, resp)
}

func (r *redshiftUserResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan redshiftUserModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	st, err := cat.CreateUser(ctx, userFromModel(plan))
	if err != nil {
		resp.Diagnostics.AddError("Creating user failed", err.Error())
		return
	}
	userToModel(&plan, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftUserResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state redshiftUserModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.readCatalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	st, err := cat.User(ctx, state.Name.ValueString())
	if !readFound(ctx, resp, "User", err) {
		return
	}
	userToModel(&state, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *redshiftUserResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state redshiftUserModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	setPassword := !plan.Password.Equal(state.Password)
	st, err := cat.UpdateUser(ctx, state.Name.ValueString(), userFromModel(plan), setPassword)
	if err != nil {
		resp.Diagnostics.AddError("Updating user failed", err.Error())
		return
	}
	userToModel(&plan, st)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *redshiftUserResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state redshiftUserModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := r.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	if err := cat.DropUser(ctx, state.Name.ValueString()); err != nil {
		resp.Diagnostics.AddError("Dropping user failed", err.Error())
	}
}

// ImportState imports a user by name. The password cannot be imported: set it in the
// configuration and the next apply sets it.
func (r *redshiftUserResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, "user", "sluice_redshift_user.loader loader", req, resp)
}

func userFromModel(m redshiftUserModel) redshift.User {
	u := redshift.User{
		Name:            m.Name.ValueString(),
		Password:        m.Password.ValueString(),
		ConnectionLimit: int(m.ConnectionLimit.ValueInt64()),
		CreateDatabase:  m.CreateDatabase.ValueBool(),
		Superuser:       m.Superuser.ValueBool(),
	}
	if v := m.ValidUntil.ValueString(); v != "" {
		u.ValidUntil, _ = time.Parse(time.RFC3339, v) // checked by validate.RFC3339
	}
	return u
}

func userToModel(m *redshiftUserModel, s *redshift.RoleState) {
	m.ID = types.StringValue(s.Name)
	m.Name = types.StringValue(s.Name)
	m.ConnectionLimit = types.Int64Value(int64(s.ConnectionLimit))
	m.CreateDatabase = types.BoolValue(s.CreateDatabase)
	m.Superuser = types.BoolValue(s.Superuser)
	// Keep the configured spelling of the same instant (time zones, fractions); show the
	// database's value when it is a different instant.
	prior, err := time.Parse(time.RFC3339, m.ValidUntil.ValueString())
	switch {
	case s.ValidUntil.IsZero():
		m.ValidUntil = types.StringNull()
	case err == nil && prior.Equal(s.ValidUntil):
	default:
		m.ValidUntil = types.StringValue(s.ValidUntil.UTC().Format(time.RFC3339))
	}
}
