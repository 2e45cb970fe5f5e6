package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/emr"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider/validate"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

var (
	_ resource.Resource                = (*emrTemplateResource)(nil)
	_ resource.ResourceWithConfigure   = (*emrTemplateResource)(nil)
	_ resource.ResourceWithImportState = (*emrTemplateResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*emrTemplateResource)(nil)
)

// NewEMRTemplateResource is the sluice_emr_template resource.
func NewEMRTemplateResource() resource.Resource { return &emrTemplateResource{} }

type emrTemplateResource struct {
	data *providerData
}

type emrTemplateModel struct {
	ID               types.String        `tfsdk:"id"`
	Name             types.String        `tfsdk:"name"`
	ReleaseLabel     types.String        `tfsdk:"release_label"`
	Applications     types.List          `tfsdk:"applications"`
	InstanceGroups   types.Object        `tfsdk:"instance_groups"`
	BootstrapActions types.List          `tfsdk:"bootstrap_actions"`
	Configurations   configurationsValue `tfsdk:"configurations"`
	ServiceRole      types.String        `tfsdk:"service_role"`
	JobFlowRole      types.String        `tfsdk:"job_flow_role"`
	LogURI           types.String        `tfsdk:"log_uri"`
	SubnetIDs        types.List          `tfsdk:"subnet_ids"`
	SecurityGroups   types.Object        `tfsdk:"security_groups"`
	IdleTimeout      types.String        `tfsdk:"idle_timeout"`
	StepConcurrency  types.Int64         `tfsdk:"step_concurrency"`
	Tags             types.Map           `tfsdk:"tags"`
	TagsAll          types.Map           `tfsdk:"tags_all"`
	Version          types.String        `tfsdk:"version"`
	RunJobFlowJSON   types.String        `tfsdk:"run_job_flow_json"`
	NodeCount        types.Int64         `tfsdk:"node_count"`
	CostPerHour      types.Float64       `tfsdk:"estimated_cost_per_hour"`
	CostPerMinRun    types.Float64       `tfsdk:"estimated_cost_per_minimum_run"`
}

type emrGroupsModel struct {
	Master types.Object `tfsdk:"master"`
	Core   types.Object `tfsdk:"core"`
	Task   types.Object `tfsdk:"task"`
}

type emrGroupModel struct {
	InstanceType types.String `tfsdk:"instance_type"`
	Count        types.Int64  `tfsdk:"count"`
	Market       types.String `tfsdk:"market"`
	BidPrice     types.String `tfsdk:"bid_price"`
	EBS          types.List   `tfsdk:"ebs"`
}

type emrEBSModel struct {
	SizeGB             types.Int64  `tfsdk:"size_gb"`
	Type               types.String `tfsdk:"type"`
	VolumesPerInstance types.Int64  `tfsdk:"volumes_per_instance"`
	IOPS               types.Int64  `tfsdk:"iops"`
}

type emrBootstrapModel struct {
	Name types.String `tfsdk:"name"`
	Path types.String `tfsdk:"path"`
	Args types.List   `tfsdk:"args"`
}

type emrSecurityGroupsModel struct {
	EMRManagedMaster types.String `tfsdk:"emr_managed_master"`
	EMRManagedSlave  types.String `tfsdk:"emr_managed_slave"`
	ServiceAccess    types.String `tfsdk:"service_access"`
	AdditionalMaster types.List   `tfsdk:"additional_master"`
	AdditionalSlave  types.List   `tfsdk:"additional_slave"`
}

var (
	emrEBSAttrTypes   = map[string]attr.Type{"size_gb": types.Int64Type, "type": types.StringType, "volumes_per_instance": types.Int64Type, "iops": types.Int64Type}
	emrGroupAttrTypes = map[string]attr.Type{
		"instance_type": types.StringType, "count": types.Int64Type, "market": types.StringType, "bid_price": types.StringType,
		"ebs": types.ListType{ElemType: types.ObjectType{AttrTypes: emrEBSAttrTypes}},
	}
	emrGroupsAttrTypes = map[string]attr.Type{
		"master": types.ObjectType{AttrTypes: emrGroupAttrTypes}, "core": types.ObjectType{AttrTypes: emrGroupAttrTypes}, "task": types.ObjectType{AttrTypes: emrGroupAttrTypes},
	}
	emrBootstrapAttrTypes = map[string]attr.Type{"name": types.StringType, "path": types.StringType, "args": types.ListType{ElemType: types.StringType}}
	emrSGAttrTypes        = map[string]attr.Type{
		"emr_managed_master": types.StringType, "emr_managed_slave": types.StringType, "service_access": types.StringType,
		"additional_master": types.ListType{ElemType: types.StringType}, "additional_slave": types.ListType{ElemType: types.StringType},
	}
)

func (r *emrTemplateResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_emr_template"
}

func emptyStringList() types.List { return types.ListValueMust(types.StringType, []attr.Value{}) }

func (r *emrTemplateResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	groupAttrs := func(role string) map[string]schema.Attribute {
		return map[string]schema.Attribute{
			"instance_type": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "EC2 instance type of the " + role + " nodes, e.g. `m5.xlarge`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"count": schema.Int64Attribute{
				Optional: true,
				Computed: true,
				Default:  int64default.StaticInt64(1),
				MarkdownDescription: "Number of " + role + " nodes. Default `1`. " + map[string]string{
					"master": "`1`, or `3` for high availability.",
					"core":   "At least `1`; omit the core group (and the task group) for a single-node cluster.",
					"task":   "At least `1`; omit the task group for none.",
				}[role],
				Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
			"market": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(definition.MarketOnDemand),
				MarkdownDescription: "Instance market: " + quotedList(definition.Markets()) + ". Default `" + definition.MarketOnDemand + "`.",
				Validators:          []validator.String{stringvalidator.OneOf(definition.Markets()...)},
			},
			"bid_price": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Maximum spot price in USD per instance-hour, as a decimal string such as `\"0.25\"`. Only with `market = \"SPOT\"`; unset bids the on-demand price.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"ebs": schema.ListNestedAttribute{
				Optional:            true,
				Computed:            true,
				Default:             listdefault.StaticValue(types.ListValueMust(types.ObjectType{AttrTypes: emrEBSAttrTypes}, []attr.Value{})),
				MarkdownDescription: "EBS volumes attached to each " + role + " node. Default none.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"size_gb": schema.Int64Attribute{
						Required:            true,
						MarkdownDescription: "Volume size in GiB, at least 1.",
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
					"type": schema.StringAttribute{
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(emr.VolumeGP3),
						MarkdownDescription: "Volume type: " + quotedList(emr.VolumeTypes()) + ". Default `" + emr.VolumeGP3 + "`.",
						Validators:          []validator.String{stringvalidator.OneOf(emr.VolumeTypes()...)},
					},
					"volumes_per_instance": schema.Int64Attribute{
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(1),
						MarkdownDescription: "How many such volumes each node gets. Default `1`.",
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
					"iops": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "Provisioned IOPS: required for `io1`, allowed for `gp3`, not allowed otherwise.",
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
				}},
			},
		}
	}
	stringList := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{
			ElementType:         types.StringType,
			Optional:            true,
			Computed:            true,
			Default:             listdefault.StaticValue(emptyStringList()),
			MarkdownDescription: desc,
		}
	}
	optionalID := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: []validator.String{stringvalidator.LengthAtLeast(1)}}
	}

	resp.Schema = schema.Schema{
		MarkdownDescription: "An EMR cluster template, published to the provider's `registry` as `" + registry.EMRTemplatesPrefix + "<name>.json` " +
			"(format `" + definition.FormatEMRTemplate + "`). Pipelines' `emr_step` activities name it; `sluice-runner` starts a transient cluster from it " +
			"for each run and always terminates it, with `idle_timeout` as the safety net if the runner cannot. Publishing a template starts nothing.\n\n" +
			"Unlike `aws_emr_cluster`, nothing here replaces a cluster: every change is an update of the published document, and `configurations` " +
			"is compared by meaning, so reformatting the JSON (whitespace, key order, `1.0` for `1`) never shows as a change. The plan shows the exact " +
			"RunJobFlow request the runner will send (`run_job_flow_json`), and the template is checked at plan time.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The template name.",
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Template name, which pipelines use to refer to it: " + nameRuleMarkdown + ". " +
					"It is also the registry key (`" + registry.EMRTemplatesPrefix + "<name>.json`). Changing it renames the template in place: the document is published under the new name, " +
					"then the old one is deleted — pipelines that still name the old template fail until they are updated.",
				Validators: []validator.String{validate.Name("EMR template")},
			},
			"release_label": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "EMR release, e.g. `emr-7.2.0` or `emr-6.15.0`.",
			},
			"applications": stringList("Applications to install, e.g. `[\"Spark\", \"Hadoop\"]`. Default none (EMR's default set)."),
			"instance_groups": schema.SingleNestedAttribute{
				Required:            true,
				MarkdownDescription: "The cluster's instance groups. `master` is required; `core` is required unless the cluster is a single node (no `core` and no `task`); `task` needs `core`.",
				Attributes: map[string]schema.Attribute{
					"master": schema.SingleNestedAttribute{Required: true, MarkdownDescription: "The master group.", Attributes: groupAttrs("master")},
					"core":   schema.SingleNestedAttribute{Optional: true, MarkdownDescription: "The core group: nodes that run tasks and store HDFS data.", Attributes: groupAttrs("core")},
					"task":   schema.SingleNestedAttribute{Optional: true, MarkdownDescription: "The task group: compute-only nodes, often on `SPOT`.", Attributes: groupAttrs("task")},
				},
			},
			"bootstrap_actions": schema.ListNestedAttribute{
				Optional:            true,
				Computed:            true,
				Default:             listdefault.StaticValue(types.ListValueMust(types.ObjectType{AttrTypes: emrBootstrapAttrTypes}, []attr.Value{})),
				MarkdownDescription: "Scripts run on every node before applications start, in order. Default none.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the action, shown in the EMR console."},
					"path": schema.StringAttribute{Required: true, MarkdownDescription: "Location of the script, e.g. `s3://bucket/bootstrap.sh`."},
					"args": stringList("Arguments passed to the script. Default none."),
				}},
			},
			"configurations": schema.StringAttribute{
				CustomType: configurationsType{},
				Optional:   true,
				MarkdownDescription: "EMR configuration JSON: an array of objects, each with a `Classification`, optional `Properties` (strings) and optional nested `Configurations` — " +
					"the JSON the EMR console and CLI take. Write it with `jsonencode(...)` or `file(...)`. It is checked at plan time and published normalised; " +
					"a value that differs only in formatting, key order or number spelling is the same value and never shows as a change.",
				PlanModifiers: []planmodifier.String{keepEquivalentConfigurations{}},
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"service_role": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "IAM role EMR assumes to manage the cluster, e.g. `EMR_DefaultRole_V2`.",
			},
			"job_flow_role": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "EC2 instance profile of the cluster's nodes, e.g. `EMR_EC2_DefaultRole`.",
			},
			"log_uri": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "S3 location for the cluster's logs, e.g. `s3://bucket/emr-logs/`. Default: no logs are kept after termination.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"subnet_ids": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     listdefault.StaticValue(emptyStringList()),
				MarkdownDescription: "Subnets to start clusters in, in order of preference, e.g. one per availability zone: the runner starts in the first and " +
					"falls back to the next on a capacity error. The request in `run_job_flow_json` shows the first. Default none (the account's default VPC).",
				Validators: []validator.List{listvalidator.UniqueValues()},
			},
			"security_groups": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Security groups of the cluster. Unset, EMR creates and uses its default managed groups.",
				Attributes: map[string]schema.Attribute{
					"emr_managed_master": optionalID("EMR-managed security group of the master node, e.g. `sg-0123456789abcdef0`."),
					"emr_managed_slave":  optionalID("EMR-managed security group of the core and task nodes."),
					"service_access":     optionalID("Security group for EMR service access, required in private subnets."),
					"additional_master":  stringList("Additional security groups of the master node. Default none."),
					"additional_slave":   stringList("Additional security groups of the core and task nodes. Default none."),
				},
			},
			"idle_timeout": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(emr.DefaultIdleTimeout),
				MarkdownDescription: "How long a cluster may sit idle before EMR terminates it (its auto-termination policy): the safety net in case the runner, " +
					"which always terminates its clusters, cannot. A duration from `60s` to `7d`, such as `30m`, `2h` or `1d`. Default `" + emr.DefaultIdleTimeout + "`.",
			},
			"step_concurrency": schema.Int64Attribute{
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(1),
				MarkdownDescription: fmt.Sprintf("How many steps run at once on a cluster, %d-%d. Default `1`.", emr.MinStepConcurrency, emr.MaxStepConcurrency),
				Validators:          []validator.Int64{int64validator.Between(emr.MinStepConcurrency, emr.MaxStepConcurrency)},
			},
			"tags": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Tags of the clusters started from the template. They win over the provider's `default_tags` on a key conflict.",
			},
			"tags_all": schema.MapAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "All tags of the clusters: the provider's `default_tags` merged with `tags`. This is what is published.",
			},
			"version": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Version of the published document: `sha256:` and the hash of its canonical JSON. Shown at plan time; it changes exactly when " +
					"the published content changes.",
			},
			"run_job_flow_json": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The RunJobFlow request the runner sends to start a transient cluster from this template, shown without steps (the runner " +
					"adds each run's `emr_step` steps to it): the exact JSON body of EMR's API, member names as in the EMR API reference, keys sorted. `Name` shows the template " +
					"name (the runner names each cluster for its run) and `Instances.Ec2SubnetId` the first of `subnet_ids`. `KeepJobFlowAliveWhenNoSteps` is " +
					"`false`: the cluster ends itself when its steps are done, and the runner terminates it on failure, cancellation or timeout; `AutoTerminationPolicy.IdleTimeout` is `idle_timeout` in seconds. Shown at plan time.",
			},
			"node_count": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Number of instances a cluster from this template runs: master, core and task. Shown at plan time.",
			},
			"estimated_cost_per_hour": schema.Float64Attribute{
				Computed: true,
				MarkdownDescription: "What a cluster from this template costs per hour: for every instance, its EC2 on-demand price plus EMR's price for its " +
					"instance type. `SPOT` groups are counted at their `bid_price`, or at the on-demand price when they have none: the most they can cost. " +
					"EBS volumes are not counted." + costDescriptionSuffix,
			},
			"estimated_cost_per_minimum_run": schema.Float64Attribute{
				Computed: true,
				MarkdownDescription: "What the shortest run of a cluster from this template costs: EC2 and EMR bill every instance per second with a " +
					"one-minute minimum, so this is a minute of `estimated_cost_per_hour` — what every transient cluster costs at least." + costDescriptionSuffix,
			},
		},
	}
}

func (r *emrTemplateResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan checks the template and computes what the plan shows: id, tags_all, version,
// run_job_flow_json and node_count. Values that depend on something unknown until apply stay
// unknown.
func (r *emrTemplateResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan emrTemplateModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = plan.Name
	plan.TagsAll = types.MapUnknown(types.StringType)
	if r.data != nil {
		plan.TagsAll = planTagsAll(ctx, plan.Tags, r.data.defaultTags, &resp.Diagnostics)
	}
	if req.Config.Raw.IsFullyKnown() && !plan.TagsAll.IsUnknown() {
		if doc := r.compute(ctx, &plan, &resp.Diagnostics); doc != nil {
			r.data.checkDocumentSize("EMR template", plan.Name.ValueString(), doc, &resp.Diagnostics)
		}
		if e, ok := r.estimate(ctx, plan); ok {
			r.data.costs.warnUnestimated(&resp.Diagnostics, "estimated_cost_per_hour", fmt.Sprintf("EMR template %q", plan.Name.ValueString()), e)
		}
	} else {
		plan.Version = types.StringUnknown()
		plan.RunJobFlowJSON = types.StringUnknown()
		plan.NodeCount = types.Int64Unknown()
		plan.CostPerHour = types.Float64Unknown()
		plan.CostPerMinRun = types.Float64Unknown()
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *emrTemplateResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan emrTemplateModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	doc := r.compute(ctx, &plan, &resp.Diagnostics)
	reg := r.registry(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || reg == nil {
		return
	}
	key := registry.EMRTemplateKey(plan.Name.ValueString())
	if !r.keyFree(ctx, reg, key, plan.Name.ValueString(), &resp.Diagnostics) {
		return
	}
	if err := reg.Put(ctx, key, doc); err != nil {
		resp.Diagnostics.AddError("Publishing EMR template failed", fmt.Sprintf("Writing %s to registry %s: %v", key, reg.URL(), err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *emrTemplateResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state emrTemplateModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	doc, ok := readPublished(ctx, r.data, name, registry.EMRTemplateKey, "EMR template", resp)
	if !ok {
		return
	}
	data := doc.Data
	tpl, err := definition.DecodeEMRTemplate(data)
	switch {
	case err == nil:
	case errors.Is(err, definition.ErrVersionMismatch):
		// Edited by hand after publishing. Read the content as it is: the plan shows the
		// difference with the configuration, and the stored version — which is not the hash of
		// the configuration — makes the next apply republish even if the content matches.
		resp.Diagnostics.AddWarning("Published EMR template was edited outside Terraform",
			fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, err))
	case state.ReleaseLabel.IsNull():
		// Importing: there is no prior content to fall back on.
		resp.Diagnostics.AddError("Reading EMR template failed", fmt.Sprintf("%s in registry %s is not a readable EMR template: %v", doc.Key, doc.URL, err))
		return
	default:
		// Unreadable (broken JSON, unknown fields, another format): keep the prior content and
		// clear the version, so the plan shows an update and the apply publishes a good document.
		resp.Diagnostics.AddWarning("Published EMR template is unreadable",
			fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, err))
		state.Version = types.StringValue("")
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	r.fill(ctx, &state, tpl, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *emrTemplateResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state emrTemplateModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	doc := r.compute(ctx, &plan, &resp.Diagnostics)
	reg := r.registry(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || reg == nil {
		return
	}
	newName, oldName := plan.Name.ValueString(), state.Name.ValueString()
	key := registry.EMRTemplateKey(newName)
	if newName != oldName && !r.keyFree(ctx, reg, key, newName, &resp.Diagnostics) {
		return
	}
	if err := reg.Put(ctx, key, doc); err != nil {
		resp.Diagnostics.AddError("Publishing EMR template failed", fmt.Sprintf("Writing %s to registry %s: %v", key, reg.URL(), err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if newName != oldName {
		// Renamed: the new document is in place, so pipelines never see neither; now retire the old one.
		oldKey := registry.EMRTemplateKey(oldName)
		if err := reg.Delete(ctx, oldKey); err != nil {
			resp.Diagnostics.AddWarning("Old EMR template not deleted",
				fmt.Sprintf("The template was published as %s, but deleting the old %s from registry %s failed: %v. Delete it by hand.", key, oldKey, reg.URL(), err))
		}
	}
}

func (r *emrTemplateResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deletePublished(ctx, r.data, req.State, registry.EMRTemplateKey, "EMR template", &resp.Diagnostics)
}

// ImportState imports a published template by name: `terraform import sluice_emr_template.x spark_small`.
func (r *emrTemplateResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importPublishedByName(ctx, req, resp, "EMR template", "sluice_emr_template.spark spark_small", emr.ValidateName)
}

func (r *emrTemplateResource) registry(ctx context.Context, diags *diag.Diagnostics) registry.Registry {
	return r.data.registry(ctx, diags) // nil-safe: says there is no registry
}

// keyFree refuses to publish over a document this resource does not manage.
func (r *emrTemplateResource) keyFree(ctx context.Context, reg registry.Registry, key, name string, diags *diag.Diagnostics) bool {
	_, err := reg.Get(ctx, key)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return true
	case err != nil:
		diags.AddError("Reading EMR template failed", fmt.Sprintf("Checking whether %s exists in registry %s: %v", key, reg.URL(), err))
	default:
		diags.AddAttributeError(path.Root("name"), "EMR template already exists",
			fmt.Sprintf("Registry %s already has an EMR template named %q (%s). Choose another name, or import it: terraform import sluice_emr_template.<name> %s", reg.URL(), name, key, name))
	}
	return false
}

// compute checks the planned template and fills the values derived from it: id, version,
// run_job_flow_json and node_count. It returns the document to publish, nil if the template is
// invalid (the problems are in diags, at their attribute paths).
func (r *emrTemplateResource) compute(ctx context.Context, m *emrTemplateModel, diags *diag.Diagnostics) []byte {
	if m.TagsAll.IsUnknown() && r.data != nil {
		m.TagsAll = planTagsAll(ctx, m.Tags, r.data.defaultTags, diags)
	}
	tpl := templateFromModel(ctx, *m, diags)
	if diags.HasError() {
		return nil
	}
	problems := emr.Validate(tpl)
	for _, p := range problems {
		diags.AddAttributeError(emrProblemPath(p.Path), "Invalid EMR template", p.Message)
	}
	if len(problems) > 0 {
		return nil
	}
	request, err := emr.RunJobFlowJSON(tpl, tpl.Name, "")
	if err != nil {
		diags.AddError("Building the RunJobFlow request failed", err.Error())
		return nil
	}
	doc, err := definition.Encode(tpl)
	if err != nil {
		diags.AddError("Encoding EMR template failed", err.Error())
		return nil
	}
	m.ID = types.StringValue(tpl.Name)
	m.Version = types.StringValue(tpl.Version)
	m.RunJobFlowJSON = types.StringValue(request)
	m.NodeCount = types.Int64Value(int64(emr.NodeCount(tpl)))
	r.setEstimates(m, tpl)
	if r.data != nil && r.data.costs != nil {
		r.data.costs.plan(tpl) // for the pipelines planned after this template; see costs
	}
	return doc
}

// setEstimates fills the estimate attributes from a template.
func (r *emrTemplateResource) setEstimates(m *emrTemplateModel, tpl *definition.EMRTemplate) {
	m.CostPerHour, m.CostPerMinRun = types.Float64Null(), types.Float64Null()
	if r.data == nil || r.data.costs == nil {
		return
	}
	c := r.data.costs
	groups := cost.Groups(tpl)
	m.CostPerHour = usd(c.table.ClusterHour(c.region, groups))
	m.CostPerMinRun = usd(c.table.Cluster(c.region, groups, cost.EMRMinimumBilled))
}

// estimate returns the hourly estimate of the model's template, for its warning; ok is false when
// the template cannot be built.
func (r *emrTemplateResource) estimate(ctx context.Context, m emrTemplateModel) (cost.Estimate, bool) {
	if r.data == nil || r.data.costs == nil {
		return cost.Estimate{}, false
	}
	var diags diag.Diagnostics
	tpl := templateFromModel(ctx, m, &diags)
	if diags.HasError() {
		return cost.Estimate{}, false
	}
	return r.data.costs.table.ClusterHour(r.data.costs.region, cost.Groups(tpl)), true
}

// templateFromModel converts the planned model into the published document (version unset).
// Invalid configurations JSON is kept as written, for Validate to report.
func templateFromModel(ctx context.Context, m emrTemplateModel, diags *diag.Diagnostics) *definition.EMRTemplate {
	t := &definition.EMRTemplate{
		Format:          definition.FormatEMRTemplate,
		Name:            m.Name.ValueString(),
		ReleaseLabel:    m.ReleaseLabel.ValueString(),
		ServiceRole:     m.ServiceRole.ValueString(),
		JobFlowRole:     m.JobFlowRole.ValueString(),
		LogURI:          m.LogURI.ValueString(),
		IdleTimeout:     m.IdleTimeout.ValueString(),
		StepConcurrency: int(m.StepConcurrency.ValueInt64()),
	}
	t.Applications = listStrings(ctx, m.Applications, diags)
	t.SubnetIDs = listStrings(ctx, m.SubnetIDs, diags)

	var groups emrGroupsModel
	diags.Append(m.InstanceGroups.As(ctx, &groups, basetypes.ObjectAsOptions{})...)
	if g := groupFromModel(ctx, groups.Master, diags); g != nil {
		t.InstanceGroups.Master = *g
	}
	t.InstanceGroups.Core = groupFromModel(ctx, groups.Core, diags)
	t.InstanceGroups.Task = groupFromModel(ctx, groups.Task, diags)

	var bas []emrBootstrapModel
	diags.Append(m.BootstrapActions.ElementsAs(ctx, &bas, false)...)
	for _, b := range bas {
		t.BootstrapActions = append(t.BootstrapActions, definition.BootstrapAction{
			Name: b.Name.ValueString(), Path: b.Path.ValueString(), Args: listStrings(ctx, b.Args, diags),
		})
	}
	if raw := m.Configurations.ValueString(); raw != "" {
		if c, err := emr.NormaliseConfigurations(raw); err == nil {
			t.Configurations = c
		} else {
			t.Configurations = []byte(raw)
		}
	}
	if !m.SecurityGroups.IsNull() {
		var sg emrSecurityGroupsModel
		diags.Append(m.SecurityGroups.As(ctx, &sg, basetypes.ObjectAsOptions{})...)
		t.SecurityGroups = &definition.SecurityGroups{
			EMRManagedMaster: sg.EMRManagedMaster.ValueString(),
			EMRManagedSlave:  sg.EMRManagedSlave.ValueString(),
			ServiceAccess:    sg.ServiceAccess.ValueString(),
			AdditionalMaster: listStrings(ctx, sg.AdditionalMaster, diags),
			AdditionalSlave:  listStrings(ctx, sg.AdditionalSlave, diags),
		}
	}
	if !m.TagsAll.IsNull() {
		diags.Append(m.TagsAll.ElementsAs(ctx, &t.Tags, false)...)
		if len(t.Tags) == 0 {
			t.Tags = nil
		}
	}
	return t
}

func groupFromModel(ctx context.Context, obj types.Object, diags *diag.Diagnostics) *definition.InstanceGroup {
	if obj.IsNull() || obj.IsUnknown() {
		return nil
	}
	var gm emrGroupModel
	diags.Append(obj.As(ctx, &gm, basetypes.ObjectAsOptions{})...)
	g := &definition.InstanceGroup{
		InstanceType: gm.InstanceType.ValueString(),
		Count:        int(gm.Count.ValueInt64()),
		Market:       gm.Market.ValueString(),
		BidPrice:     gm.BidPrice.ValueString(),
	}
	var vols []emrEBSModel
	diags.Append(gm.EBS.ElementsAs(ctx, &vols, false)...)
	for _, v := range vols {
		g.EBS = append(g.EBS, definition.EBSVolume{
			SizeGB: int(v.SizeGB.ValueInt64()), Type: v.Type.ValueString(),
			VolumesPerInstance: int(v.VolumesPerInstance.ValueInt64()), IOPS: int(v.IOPS.ValueInt64()),
		})
	}
	return g
}

// fill sets the model from a published template. configurations keeps the prior spelling when
// it means the same; tags are split into tags and tags_all as for AWS resources.
func (r *emrTemplateResource) fill(ctx context.Context, m *emrTemplateModel, t *definition.EMRTemplate, diags *diag.Diagnostics) {
	m.ID = types.StringValue(t.Name)
	m.Name = types.StringValue(t.Name)
	m.ReleaseLabel = types.StringValue(t.ReleaseLabel)
	m.Applications = stringList(t.Applications)
	m.ServiceRole = types.StringValue(t.ServiceRole)
	m.JobFlowRole = types.StringValue(t.JobFlowRole)
	m.LogURI = optionalString(t.LogURI)
	m.SubnetIDs = stringList(t.SubnetIDs)
	m.IdleTimeout = types.StringValue(t.IdleTimeout)
	m.StepConcurrency = types.Int64Value(int64(t.StepConcurrency))
	m.Version = types.StringValue(t.Version)
	r.setEstimates(m, t)

	groups := emrGroupsModel{
		Master: groupObject(ctx, &t.InstanceGroups.Master, diags),
		Core:   groupObject(ctx, t.InstanceGroups.Core, diags),
		Task:   groupObject(ctx, t.InstanceGroups.Task, diags),
	}
	obj, d := types.ObjectValueFrom(ctx, emrGroupsAttrTypes, groups)
	diags.Append(d...)
	m.InstanceGroups = obj

	bas := make([]emrBootstrapModel, len(t.BootstrapActions))
	for i, b := range t.BootstrapActions {
		bas[i] = emrBootstrapModel{Name: types.StringValue(b.Name), Path: types.StringValue(b.Path), Args: stringList(b.Args)}
	}
	list, d := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: emrBootstrapAttrTypes}, bas)
	diags.Append(d...)
	m.BootstrapActions = list

	published := configurationsValue{StringValue: types.StringNull()}
	if len(t.Configurations) > 0 {
		published = configurationsValue{StringValue: types.StringValue(string(t.Configurations))}
	}
	if eq, _ := m.Configurations.StringSemanticEquals(ctx, published); !eq {
		m.Configurations = published
	}

	m.SecurityGroups = types.ObjectNull(emrSGAttrTypes)
	if sg := t.SecurityGroups; sg != nil {
		obj, d := types.ObjectValueFrom(ctx, emrSGAttrTypes, emrSecurityGroupsModel{
			EMRManagedMaster: optionalString(sg.EMRManagedMaster),
			EMRManagedSlave:  optionalString(sg.EMRManagedSlave),
			ServiceAccess:    optionalString(sg.ServiceAccess),
			AdditionalMaster: stringList(sg.AdditionalMaster),
			AdditionalSlave:  stringList(sg.AdditionalSlave),
		})
		diags.Append(d...)
		m.SecurityGroups = obj
	}

	var defaults map[string]string
	if r.data != nil {
		defaults = r.data.defaultTags
	}
	m.Tags, m.TagsAll = readTags(ctx, m.Tags, t.Tags, defaults, diags)

	// What the runner would send for the published content, so state always matches it.
	if request, err := emr.RunJobFlowJSON(t, t.Name, ""); err == nil {
		m.RunJobFlowJSON = types.StringValue(request)
	} else {
		m.RunJobFlowJSON = types.StringValue("")
		diags.AddWarning("Published EMR template is not valid", fmt.Sprintf("Template %q as published: %v. The next apply publishes the configuration again.", t.Name, err))
	}
	m.NodeCount = types.Int64Value(int64(emr.NodeCount(t)))
}

func groupObject(ctx context.Context, g *definition.InstanceGroup, diags *diag.Diagnostics) types.Object {
	if g == nil {
		return types.ObjectNull(emrGroupAttrTypes)
	}
	vols := make([]emrEBSModel, len(g.EBS))
	for i, v := range g.EBS {
		vols[i] = emrEBSModel{
			SizeGB: types.Int64Value(int64(v.SizeGB)), Type: types.StringValue(v.Type),
			VolumesPerInstance: types.Int64Value(int64(v.VolumesPerInstance)), IOPS: types.Int64Null(),
		}
		if v.IOPS != 0 {
			vols[i].IOPS = types.Int64Value(int64(v.IOPS))
		}
	}
	ebs, d := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: emrEBSAttrTypes}, vols)
	diags.Append(d...)
	obj, d := types.ObjectValueFrom(ctx, emrGroupAttrTypes, emrGroupModel{
		InstanceType: types.StringValue(g.InstanceType),
		Count:        types.Int64Value(int64(g.Count)),
		Market:       types.StringValue(g.Market),
		BidPrice:     optionalString(g.BidPrice),
		EBS:          ebs,
	})
	diags.Append(d...)
	return obj
}

func listStrings(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(l.ElementsAs(ctx, &out, false)...)
	if len(out) == 0 {
		return nil
	}
	return out
}

func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// emrProblemPath turns a domain problem path such as "instance_groups.core.ebs[0].size_gb" into
// an attribute path.
func emrProblemPath(p string) path.Path {
	var out path.Path
	for i, part := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if i == 0 {
			out = path.Root(name)
		} else {
			out = out.AtName(name)
		}
		for _, idx := range emrProblemIndexRE.FindAllStringSubmatch("["+rest, -1) {
			n, _ := strconv.Atoi(idx[1])
			out = out.AtListIndex(n)
		}
	}
	return out
}

var emrProblemIndexRE = regexp.MustCompile(`\[([0-9]+)\]`)

// configurationsType is the type of the configurations attribute: a string holding EMR
// configuration JSON, where two values are the same when they normalise to the same JSON
// (emr.NormaliseConfigurations). The framework uses that to keep the user's spelling after
// apply and refresh; keepEquivalentConfigurations does the same at plan time.
type configurationsType struct {
	basetypes.StringType
}

var _ basetypes.StringTypable = configurationsType{}

func (t configurationsType) Equal(o attr.Type) bool {
	_, ok := o.(configurationsType)
	return ok
}

func (t configurationsType) String() string { return "configurationsType" }

func (t configurationsType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return configurationsValue{StringValue: in}, nil
}

func (t configurationsType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("configurations: %w", err)
	}
	s, ok := v.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", v)
	}
	return configurationsValue{StringValue: s}, nil
}

func (t configurationsType) ValueType(context.Context) attr.Value { return configurationsValue{} }

// configurationsValue is a value of configurationsType.
type configurationsValue struct {
	basetypes.StringValue
}

var _ basetypes.StringValuableWithSemanticEquals = configurationsValue{}

func (v configurationsValue) Type(context.Context) attr.Type { return configurationsType{} }

func (v configurationsValue) Equal(o attr.Value) bool {
	other, ok := o.(configurationsValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

// StringSemanticEquals reports whether both values normalise to the same JSON. Invalid JSON is
// equal only to the identical text.
func (v configurationsValue) StringSemanticEquals(_ context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	other, ok := newValuable.(configurationsValue)
	if !ok {
		return false, nil
	}
	return configurationsEquivalent(v.StringValue, other.StringValue), nil
}

func configurationsEquivalent(a, b basetypes.StringValue) bool {
	if a.IsNull() || a.IsUnknown() || b.IsNull() || b.IsUnknown() {
		return a.Equal(b)
	}
	if a.ValueString() == b.ValueString() {
		return true
	}
	na, errA := emr.NormaliseConfigurations(a.ValueString())
	nb, errB := emr.NormaliseConfigurations(b.ValueString())
	return errA == nil && errB == nil && bytes.Equal(na, nb)
}

// keepEquivalentConfigurations plans the prior configurations when the configuration's value
// means the same, so reformatting the JSON plans no change. (Terraform accepts a planned value
// that differs from the configuration when it is the unchanged prior value.)
type keepEquivalentConfigurations struct{}

func (keepEquivalentConfigurations) Description(context.Context) string {
	return "keeps the prior value when the new one is the same JSON written differently"
}

func (m keepEquivalentConfigurations) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (keepEquivalentConfigurations) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.StateValue.IsNull() || req.PlanValue.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	if configurationsEquivalent(req.StateValue, req.PlanValue) {
		resp.PlanValue = req.StateValue
	}
}
