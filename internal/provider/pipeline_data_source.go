package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider/validate"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

var (
	_ datasource.DataSource              = (*pipelineDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*pipelineDataSource)(nil)
)

// NewPipelineDataSource is the sluice_pipeline data source.
func NewPipelineDataSource() datasource.DataSource { return &pipelineDataSource{} }

type pipelineDataSource struct {
	data *providerData
}

type pipelineDataModel struct {
	ID             types.String `tfsdk:"id"`
	Name           types.String `tfsdk:"name"`
	Version        types.String `tfsdk:"version"`
	Description    types.String `tfsdk:"description"`
	Owner          types.String `tfsdk:"owner"`
	Enabled        types.Bool   `tfsdk:"enabled"`
	Schedule       types.Object `tfsdk:"schedule"`
	Parameters     types.Map    `tfsdk:"parameters"`
	ActivityIDs    types.List   `tfsdk:"activity_ids"`
	DefinitionJSON types.String `tfsdk:"definition_json"`
}

var pipelineScheduleAttrTypes = map[string]attr.Type{
	"cron": types.StringType, "every": types.StringType, "start": types.StringType, "end": types.StringType,
	"timezone": types.StringType, "catchup": types.BoolType, "max_active_runs": types.Int64Type,
}

func (d *pipelineDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline"
}

func (d *pipelineDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a pipeline published in the provider's `registry` (`" + registry.PipelinesPrefix + "<name>.json`). With a provider " +
			"alias it reads another environment's registry — e.g. to check that staging and production run the same `version`.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the pipeline: " + nameRuleMarkdown + ".",
				Validators:          []validator.String{validate.Name("pipeline")},
			},
			"id":          computed("The pipeline name."),
			"version":     computed("Version of the published document: `sha256:` and the hash of its canonical JSON."),
			"description": computed("What the pipeline does."),
			"owner":       computed("Who is responsible for the pipeline."),
			"enabled":     schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the runner schedules the pipeline."},
			"schedule": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The pipeline's schedule, as in `sluice_pipeline`.",
				Attributes: map[string]schema.Attribute{
					"cron":            computed("5-field cron expression, or null."),
					"every":           computed("Fixed period, or null."),
					"start":           computed("Start of the first interval, RFC 3339."),
					"end":             computed("End of the schedule, RFC 3339, or null when it never ends."),
					"timezone":        computed("IANA time zone the schedule is evaluated in."),
					"catchup":         schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether past intervals since `start` are run."},
					"max_active_runs": schema.Int64Attribute{Computed: true, MarkdownDescription: "How many runs may be active at once."},
				},
			},
			"parameters": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The pipeline's template parameters.",
			},
			"activity_ids": schema.ListAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Ids of the pipeline's activities, sorted.",
			},
			"definition_json": computed("The published document, byte for byte."),
		},
	}
}

func (d *pipelineDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (d *pipelineDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m pipelineDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	reg := d.data.registry(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || reg == nil {
		return
	}
	key := registry.PipelineKey(m.Name.ValueString())
	data, err := reg.Get(ctx, key)
	if errors.Is(err, registry.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Pipeline not found",
			fmt.Sprintf("Registry %s has no pipeline named %q (%s).", reg.URL(), m.Name.ValueString(), key))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading pipeline failed", fmt.Sprintf("Reading %s from registry %s: %v", key, reg.URL(), err))
		return
	}
	p, err := definition.DecodePipeline(data)
	switch {
	case err == nil:
	case errors.Is(err, definition.ErrVersionMismatch):
		resp.Diagnostics.AddWarning("Published pipeline was edited outside Terraform", fmt.Sprintf("%s in registry %s: %v", key, reg.URL(), err))
	default:
		resp.Diagnostics.AddError("Reading pipeline failed", fmt.Sprintf("%s in registry %s is not a readable pipeline: %v", key, reg.URL(), err))
		return
	}
	m.ID = types.StringValue(m.Name.ValueString())
	m.Version = types.StringValue(p.Version)
	m.Description = optionalString(p.Description)
	m.Owner = optionalString(p.Owner)
	m.Enabled = types.BoolValue(p.Enabled)
	s := p.Schedule
	sched, diags := types.ObjectValue(pipelineScheduleAttrTypes, map[string]attr.Value{
		"cron": optionalString(s.Cron), "every": optionalString(s.Every), "start": types.StringValue(s.Start), "end": optionalString(s.End),
		"timezone": types.StringValue(orUTC(s.Timezone)), "catchup": types.BoolValue(s.Catchup), "max_active_runs": types.Int64Value(int64(s.MaxActiveRuns)),
	})
	resp.Diagnostics.Append(diags...)
	m.Schedule = sched
	if !p.HasSchedule() {
		m.Schedule = types.ObjectNull(pipelineScheduleAttrTypes) // only a trigger
	}
	m.Parameters = stringMap(p.Parameters)
	m.ActivityIDs = stringList(sortedMapKeys(p.Activities))
	m.DefinitionJSON = types.StringValue(string(data))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func orUTC(tz string) string {
	if tz == "" {
		return defaultTimezone
	}
	return tz
}
