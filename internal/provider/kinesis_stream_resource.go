package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
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

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/kinesis"
)

var (
	_ resource.Resource                     = (*kinesisStreamResource)(nil)
	_ resource.ResourceWithConfigure        = (*kinesisStreamResource)(nil)
	_ resource.ResourceWithImportState      = (*kinesisStreamResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*kinesisStreamResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*kinesisStreamResource)(nil)
	_ resource.ResourceWithConfigValidators = (*kinesisStreamResource)(nil)
)

// Default timeouts. Resharding waits for ACTIVE after every step, and AWS takes minutes per
// step on large streams, hence the long update timeout (the AWS provider uses the same).
const (
	kinesisCreateTimeout = 10 * time.Minute
	kinesisUpdateTimeout = 120 * time.Minute
	kinesisDeleteTimeout = 120 * time.Minute
)

var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// NewKinesisStreamResource is the sluice_kinesis_stream resource.
func NewKinesisStreamResource() resource.Resource { return &kinesisStreamResource{} }

type kinesisStreamResource struct {
	data *providerData
}

type kinesisStreamModel struct {
	ID                      types.String   `tfsdk:"id"`
	Name                    types.String   `tfsdk:"name"`
	ARN                     types.String   `tfsdk:"arn"`
	StreamMode              types.String   `tfsdk:"stream_mode"`
	ShardCount              types.Int64    `tfsdk:"shard_count"`
	RetentionPeriod         types.Int64    `tfsdk:"retention_period"`
	EncryptionType          types.String   `tfsdk:"encryption_type"`
	KMSKeyID                types.String   `tfsdk:"kms_key_id"`
	ShardLevelMetrics       types.Set      `tfsdk:"shard_level_metrics"`
	EnforceConsumerDeletion types.Bool     `tfsdk:"enforce_consumer_deletion"`
	Tags                    types.Map      `tfsdk:"tags"`
	TagsAll                 types.Map      `tfsdk:"tags_all"`
	Status                  types.String   `tfsdk:"status"`
	OpenShardCount          types.Int64    `tfsdk:"open_shard_count"`
	ReshardSteps            types.List     `tfsdk:"reshard_steps"`
	ExpectedRecordsPerSec   types.Float64  `tfsdk:"expected_records_per_second"`
	AverageRecordBytes      types.Int64    `tfsdk:"average_record_bytes"`
	EstimatedMonthlyCost    types.Float64  `tfsdk:"estimated_monthly_cost"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`
}

func (r *kinesisStreamResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kinesis_stream"
}

func (r *kinesisStreamResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Kinesis data stream. Unlike `aws_kinesis_stream`, it switches between `PROVISIONED` and `ON_DEMAND` " +
			"in place, and makes any `shard_count` change in one apply: the plan shows the sequence of `UpdateShardCount` calls " +
			"(`reshard_steps`), each within AWS's limit of doubling or halving, and the apply waits for the stream to be ACTIVE between them. " +
			fmt.Sprintf("Default timeouts: create %s, update %s, delete %s.", kinesisCreateTimeout, kinesisUpdateTimeout, kinesisDeleteTimeout),
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The stream name.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Stream name, unique per account and region: 1-%d letters, digits, `_`, `-` or `.`. "+
					"Changing it replaces the stream.", kinesis.MaxNameLength),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, kinesis.MaxNameLength),
					stringvalidator.RegexMatches(streamNameRE, "may contain only letters, digits, '_', '-' and '.'"),
				},
			},
			"arn": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The stream ARN.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"stream_mode": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(string(kinesis.ModeProvisioned)),
				MarkdownDescription: "Capacity mode: " + quotedList(kinesis.Modes()) + ". Default `PROVISIONED`. Changes in place; " +
					"AWS allows two switches per stream per 24 hours.",
				Validators: []validator.String{stringvalidator.OneOf(kinesis.Modes()...)},
			},
			"shard_count": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Number of open shards, 1-%d. Required when `stream_mode` is `PROVISIONED`, not allowed when `ON_DEMAND`. "+
					"Any change happens in one apply, in as few `UpdateShardCount` calls as AWS's limits allow (see `reshard_steps`).", kinesis.MaxShards),
				Validators: []validator.Int64{int64validator.Between(1, kinesis.MaxShards)},
			},
			"retention_period": schema.Int64Attribute{
				Optional: true,
				Computed: true,
				Default:  int64default.StaticInt64(kinesis.DefaultRetentionHours),
				MarkdownDescription: fmt.Sprintf("Hours records stay readable, %d-%d. Default `%d`.",
					kinesis.MinRetentionHours, kinesis.MaxRetentionHours, kinesis.DefaultRetentionHours),
				Validators: []validator.Int64{int64validator.Between(kinesis.MinRetentionHours, kinesis.MaxRetentionHours)},
			},
			"encryption_type": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(kinesis.EncryptionNone),
				MarkdownDescription: "Server-side encryption: " + quotedList(kinesis.EncryptionTypes()) + ". Default `NONE`. `KMS` needs `kms_key_id`.",
				Validators:          []validator.String{stringvalidator.OneOf(kinesis.EncryptionTypes()...)},
			},
			"kms_key_id": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "KMS key for `encryption_type = \"KMS\"`: a key ARN, key ID, alias ARN or alias name such as `alias/aws/kinesis`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"shard_level_metrics": schema.SetAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Shard-level CloudWatch metrics to enable: " + quotedList(kinesis.MetricNames()) + ". `ALL` stands alone.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(kinesis.MetricNames()...))},
			},
			"enforce_consumer_deletion": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Delete the stream even when consumers are registered. Default `false`: destroying a stream with consumers fails and says so.",
			},
			"tags": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Tags of the stream. They win over the provider's `default_tags` on a key conflict.",
			},
			"tags_all": schema.MapAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "All tags of the stream: the provider's `default_tags` merged with `tags`.",
			},
			"status": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Stream status as AWS reports it; `ACTIVE` after every apply.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"open_shard_count": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Number of open shards as AWS reports it; for `ON_DEMAND` streams AWS changes it with the load.",
			},
			"reshard_steps": schema.ListAttribute{
				ElementType: types.Int64Type,
				Computed:    true,
				MarkdownDescription: "The shard counts of the `UpdateShardCount` calls the latest shard change took, in order — e.g. `[2, 4, 8, 9]` " +
					"for 1 → 9. Computed at plan time, so the plan shows how many steps a change takes before it is applied; empty when a change needs none.",
			},
			"expected_records_per_second": schema.Float64Attribute{
				Optional: true,
				MarkdownDescription: "Records per second the producers are expected to put, for `estimated_monthly_cost`; set together with `average_record_bytes`. " +
					"Not sent to AWS. Without them a `PROVISIONED` estimate leaves out PUT payload units, and an `ON_DEMAND` estimate (billed per GB) is null.",
				Validators: []validator.Float64{float64validator.AtLeast(0)},
			},
			"average_record_bytes": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Average size of a record in bytes (data plus partition key), for `estimated_monthly_cost`; set together with `expected_records_per_second`. "+
					"`PROVISIONED` bills each record in %d-byte PUT payload units, `ON_DEMAND` per GB with each record rounded up to 1 KiB. Not sent to AWS.", cost.PutPayloadUnitBytes),
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"estimated_monthly_cost": schema.Float64Attribute{
				Computed: true,
				MarkdownDescription: fmt.Sprintf("What the stream costs in a %d-hour month. `PROVISIONED`: shard-hours, extended retention (past 24 hours, per shard-hour), "+
					"and from the expected traffic its PUT payload units and the data kept past 7 days (per GB-month). `ON_DEMAND`: stream-hours, GB written and read "+
					"(each record read once), and retention past 24 hours and past 7 days (per GB-month). Enhanced fan-out is not counted.", cost.HoursPerMonth) + costDescriptionSuffix,
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeoutsBlock(ctx, timeouts.Opts{
				Create: true, Update: true, Delete: true,
				CreateDescription: fmt.Sprintf("How long creating the stream and waiting for it to be ACTIVE may take, as a duration such as `30m`. Default `%s`.", kinesisCreateTimeout),
				UpdateDescription: fmt.Sprintf("How long an update may take, all reshard steps included. Default `%s`.", kinesisUpdateTimeout),
				DeleteDescription: fmt.Sprintf("How long deleting the stream and waiting for it to be gone may take. Default `%s`.", kinesisDeleteTimeout),
			}),
		},
	}
}

// ConfigValidators: the expected traffic is declared whole or not at all.
func (r *kinesisStreamResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.RequiredTogether(path.MatchRoot("expected_records_per_second"), path.MatchRoot("average_record_bytes")),
	}
}

func (r *kinesisStreamResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the rules that need several attributes, so they fail at plan time with
// the attribute's path instead of at apply time with AWS's error.
func (r *kinesisStreamResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg kinesisStreamModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.StreamMode.IsUnknown() || cfg.ShardCount.IsUnknown() || cfg.EncryptionType.IsUnknown() ||
		cfg.KMSKeyID.IsUnknown() || cfg.ShardLevelMetrics.IsUnknown() {
		return // checked again once the values are known
	}
	spec := kinesis.Spec{
		Mode:           kinesis.Mode(stringOr(cfg.StreamMode, string(kinesis.ModeProvisioned))),
		ShardCount:     int(cfg.ShardCount.ValueInt64()),
		EncryptionType: stringOr(cfg.EncryptionType, kinesis.EncryptionNone),
		KMSKeyID:       cfg.KMSKeyID.ValueString(),
	}
	resp.Diagnostics.Append(cfg.ShardLevelMetrics.ElementsAs(ctx, &spec.ShardLevelMetrics, true)...)
	for _, p := range spec.CrossFieldProblems() {
		resp.Diagnostics.AddAttributeError(path.Root(p.Field), "Invalid Kinesis stream configuration", p.Field+" "+p.Message)
	}
}

// ModifyPlan computes what the user should see before apply: the merged tags and, for a shard
// or mode change, the exact UpdateShardCount steps.
func (r *kinesisStreamResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan kinesisStreamModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.TagsAll = planTagsAll(ctx, plan.Tags, r.data.defaultTags, &resp.Diagnostics)

	modeKnown := !plan.StreamMode.IsUnknown() && !plan.ShardCount.IsUnknown()
	switch {
	case req.State.Raw.IsNull(): // create
		plan.ReshardSteps = int64List(nil)
		plan.OpenShardCount = types.Int64Unknown()
		if modeKnown && plan.StreamMode.ValueString() == string(kinesis.ModeProvisioned) {
			plan.OpenShardCount = plan.ShardCount
		}
	default:
		var state kinesisStreamModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		switch {
		case !modeKnown:
			plan.ReshardSteps = types.ListUnknown(types.Int64Type)
			plan.OpenShardCount = types.Int64Unknown()
		case plan.StreamMode.Equal(state.StreamMode) && plan.ShardCount.Equal(state.ShardCount):
			plan.ReshardSteps = state.ReshardSteps
			plan.OpenShardCount = state.OpenShardCount
		default:
			spec := kinesis.Spec{Mode: kinesis.Mode(plan.StreamMode.ValueString()), ShardCount: int(plan.ShardCount.ValueInt64())}
			steps, err := kinesis.PlanShardSteps(int(state.OpenShardCount.ValueInt64()), spec)
			if err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("shard_count"), "Cannot plan the shard change", err.Error())
				return
			}
			plan.ReshardSteps = int64List(steps)
			plan.OpenShardCount = types.Int64Unknown()
			if spec.Mode == kinesis.ModeProvisioned {
				plan.OpenShardCount = plan.ShardCount
			}
			if len(steps) > kinesis.MaxScalingOpsPerDay {
				resp.Diagnostics.AddAttributeWarning(path.Root("shard_count"), "Shard change exceeds AWS's default daily scaling limit",
					fmt.Sprintf("Going from %d to %d shards takes %d UpdateShardCount calls, but AWS allows %d per stream per rolling 24 hours by default. "+
						"Request a quota increase first, or the apply stops at the limit (the stream keeps the shards it reached, and a later apply continues).",
						state.OpenShardCount.ValueInt64(), spec.ShardCount, len(steps), kinesis.MaxScalingOpsPerDay))
			}
		}
	}
	plan.EstimatedMonthlyCost = types.Float64Unknown()
	if e, ok := r.estimate(plan); ok {
		plan.EstimatedMonthlyCost = usd(e)
		r.data.costs.warnUnestimated(&resp.Diagnostics, "estimated_monthly_cost", fmt.Sprintf("stream %q", plan.Name.ValueString()), e)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *kinesisStreamResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan kinesisStreamModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, kinesisCreateTimeout)
	resp.Diagnostics.Append(diags...)
	spec := r.spec(ctx, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	stream, err := r.manager(ctx).Create(ctx, spec)
	if stream != nil {
		// The stream exists even if a later step failed: record it, so Terraform taints it
		// instead of losing track of it.
		plan.ReshardSteps = int64List(nil)
		r.fill(ctx, &plan, stream, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addStreamError(&resp.Diagnostics, "Creating Kinesis stream failed", err)
	}
}

func (r *kinesisStreamResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state kinesisStreamModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	stream, err := r.manager(ctx).Get(ctx, state.Name.ValueString())
	if errors.Is(err, kinesis.ErrNotFound) {
		resp.Diagnostics.AddWarning("Kinesis stream is gone",
			fmt.Sprintf("Stream %q no longer exists; it is removed from state and the plan will create it again.", state.Name.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStreamError(&resp.Diagnostics, "Reading Kinesis stream failed", err)
		return
	}
	if state.EnforceConsumerDeletion.IsNull() {
		state.EnforceConsumerDeletion = types.BoolValue(false) // after import
	}
	r.fill(ctx, &state, stream, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *kinesisStreamResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state kinesisStreamModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, kinesisUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	spec := r.spec(ctx, plan, &resp.Diagnostics)
	// The apply must make exactly the shard calls the plan showed: none when the plan kept mode
	// and shard_count (reshard_steps then still shows the previous change), else reshard_steps.
	planned := []int{}
	if !plan.StreamMode.Equal(state.StreamMode) || !plan.ShardCount.Equal(state.ShardCount) {
		planned = nil
		if !plan.ReshardSteps.IsUnknown() && !plan.ReshardSteps.IsNull() {
			resp.Diagnostics.Append(plan.ReshardSteps.ElementsAs(ctx, &planned, false)...)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	stream, err := r.manager(ctx).Update(ctx, spec, planned)
	if stream == nil {
		// Nothing was read back: keep the prior state rather than the plan's unknowns.
		resp.State.Raw = req.State.Raw.Copy()
	} else {
		// Recorded even on failure: a reshard that stopped half-way leaves state telling the
		// truth, and the next plan shows the remaining steps.
		if plan.ReshardSteps.IsUnknown() && planned != nil {
			plan.ReshardSteps = int64List(planned)
		}
		r.fill(ctx, &plan, stream, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addStreamError(&resp.Diagnostics, "Updating Kinesis stream failed", err)
	}
}

func (r *kinesisStreamResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state kinesisStreamModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, kinesisDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.manager(ctx).Delete(ctx, state.Name.ValueString(), state.EnforceConsumerDeletion.ValueBool()); err != nil {
		addStreamError(&resp.Diagnostics, "Deleting Kinesis stream failed", err)
	}
}

// ImportState imports a stream by name: `terraform import sluice_kinesis_stream.x my-stream`.
func (r *kinesisStreamResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := kinesis.ValidateName(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID", "Import a Kinesis stream by its name: "+err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

func (r *kinesisStreamResource) manager(ctx context.Context) *kinesis.Manager {
	return kinesis.NewManager(r.data.aws.Kinesis(), logger(ctx))
}

// spec converts the planned model into the domain's declared stream.
func (r *kinesisStreamResource) spec(ctx context.Context, m kinesisStreamModel, diags *diag.Diagnostics) kinesis.Spec {
	s := kinesis.Spec{
		Name:           m.Name.ValueString(),
		Mode:           kinesis.Mode(m.StreamMode.ValueString()),
		ShardCount:     int(m.ShardCount.ValueInt64()),
		RetentionHours: int(m.RetentionPeriod.ValueInt64()),
		EncryptionType: m.EncryptionType.ValueString(),
		KMSKeyID:       m.KMSKeyID.ValueString(),
		Tags:           map[string]string{},
	}
	diags.Append(m.ShardLevelMetrics.ElementsAs(ctx, &s.ShardLevelMetrics, true)...)
	diags.Append(m.TagsAll.ElementsAs(ctx, &s.Tags, true)...)
	return s
}

// fill copies what AWS reports into the model. Where AWS spells a value differently from the
// configuration but means the same (ALL for every metric), the configuration's spelling is kept,
// so refresh never shows a diff the user did not cause.
func (r *kinesisStreamResource) fill(ctx context.Context, m *kinesisStreamModel, s *kinesis.Stream, diags *diag.Diagnostics) {
	m.ID = types.StringValue(s.Name)
	m.Name = types.StringValue(s.Name)
	m.ARN = types.StringValue(s.ARN)
	m.Status = types.StringValue(s.Status)
	m.StreamMode = types.StringValue(string(s.Mode))
	m.OpenShardCount = types.Int64Value(int64(s.OpenShardCount))
	m.ShardCount = types.Int64Null()
	if s.Mode == kinesis.ModeProvisioned {
		m.ShardCount = types.Int64Value(int64(s.OpenShardCount))
	}
	m.RetentionPeriod = types.Int64Value(int64(s.RetentionHours))
	m.EncryptionType = types.StringValue(s.EncryptionType)
	m.KMSKeyID = types.StringNull()
	if s.EncryptionType == kinesis.EncryptionKMS {
		m.KMSKeyID = types.StringValue(s.KMSKeyID)
	}

	var prior []string
	if !m.ShardLevelMetrics.IsNull() && !m.ShardLevelMetrics.IsUnknown() {
		diags.Append(m.ShardLevelMetrics.ElementsAs(ctx, &prior, false)...)
	}
	if m.ShardLevelMetrics.IsUnknown() || !kinesis.MetricsEqual(prior, s.ShardLevelMetrics) {
		if len(s.ShardLevelMetrics) == 0 {
			m.ShardLevelMetrics = types.SetNull(types.StringType)
		} else {
			m.ShardLevelMetrics = stringSet(s.ShardLevelMetrics)
		}
	}

	m.Tags, m.TagsAll = readTags(ctx, m.Tags, s.Tags, r.data.defaultTags, diags)
	if m.ReshardSteps.IsUnknown() {
		m.ReshardSteps = types.ListNull(types.Int64Type)
	}
	m.EstimatedMonthlyCost = types.Float64Null()
	if e, ok := r.estimate(*m); ok {
		m.EstimatedMonthlyCost = usd(e)
	}
}

// estimate prices the stream as the model declares it; ok is false while an input is unknown.
func (r *kinesisStreamResource) estimate(m kinesisStreamModel) (cost.Estimate, bool) {
	if r.data == nil || r.data.costs == nil || m.StreamMode.IsUnknown() || m.ShardCount.IsUnknown() || m.RetentionPeriod.IsUnknown() ||
		m.ExpectedRecordsPerSec.IsUnknown() || m.AverageRecordBytes.IsUnknown() {
		return cost.Estimate{}, false
	}
	s := cost.Stream{
		Mode:               m.StreamMode.ValueString(),
		Shards:             int(m.ShardCount.ValueInt64()),
		RetentionHours:     int(m.RetentionPeriod.ValueInt64()),
		RecordsPerSecond:   m.ExpectedRecordsPerSec.ValueFloat64(),
		AverageRecordBytes: m.AverageRecordBytes.ValueInt64(),
	}
	return r.data.costs.table.StreamMonthly(r.data.costs.region, s), true
}

func addStreamError(diags *diag.Diagnostics, summary string, err error) {
	var fe kinesis.FieldError
	if errors.As(err, &fe) {
		diags.AddAttributeError(path.Root(fe.Field), summary, err.Error())
		return
	}
	diags.AddError(summary, err.Error())
}
