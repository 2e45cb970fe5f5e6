package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

var _ datasource.DataSourceWithValidateConfig = (*pipelineScheduleDataSource)(nil)

// maxScheduleIntervals caps what sluice_pipeline_schedule lists.
const maxScheduleIntervals = 10000

// NewPipelineScheduleDataSource is the sluice_pipeline_schedule data source.
func NewPipelineScheduleDataSource() datasource.DataSource { return &pipelineScheduleDataSource{} }

// pipelineScheduleDataSource lists a schedule's intervals in a window; it needs no registry.
type pipelineScheduleDataSource struct{}

type pipelineScheduleDataModel struct {
	Cron      types.String `tfsdk:"cron"`
	Every     types.String `tfsdk:"every"`
	Start     types.String `tfsdk:"start"`
	End       types.String `tfsdk:"end"`
	Timezone  types.String `tfsdk:"timezone"`
	From      types.String `tfsdk:"from"`
	To        types.String `tfsdk:"to"`
	Intervals types.List   `tfsdk:"intervals"`
	Count     types.Int64  `tfsdk:"interval_count"`
}

var pipelineIntervalAttrTypes = map[string]attr.Type{"start": types.StringType, "end": types.StringType}

func (d *pipelineScheduleDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline_schedule"
}

func (d *pipelineScheduleDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	opt := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc}
	}
	req := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Required: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the data intervals `[start, end)` of a schedule whose start falls in `[from, to)` — to plan a backfill " +
			"(`sluice-runner backfill --from ... --to ...`) or to see what catchup would run. The schedule attributes mean exactly what they mean in " +
			"`sluice_pipeline`'s `schedule`; pass them from a pipeline resource to list its intervals. Pure computation: no registry or AWS call. " +
			fmt.Sprintf("At most %d intervals are listed.", maxScheduleIntervals),
		Attributes: map[string]schema.Attribute{
			"cron":     opt("5-field cron expression (or `@hourly`, `@daily`, …) evaluated in `timezone` with the same rules as `sluice_pipeline`'s `schedule.cron`, e.g. `0 3 * * *`. Set exactly one of `cron` and `every`."),
			"every":    opt("Fixed period aligned to `start`, e.g. `1h` or `1d`."),
			"start":    req("Start of the schedule's first interval, RFC 3339."),
			"end":      opt("End of the schedule, RFC 3339; unset, never."),
			"timezone": opt("IANA time zone; unset, `UTC`."),
			"from":     req("Window start, RFC 3339: intervals starting at or after it are listed."),
			"to":       req("Window end, RFC 3339: intervals starting before it are listed."),
			"intervals": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The intervals, oldest first, times RFC 3339 in the schedule's time zone.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"start": schema.StringAttribute{Computed: true, MarkdownDescription: "Interval start (inclusive)."},
					"end":   schema.StringAttribute{Computed: true, MarkdownDescription: "Interval end (exclusive): when the interval's run starts."},
				}},
			},
			"interval_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of intervals: the runs a backfill of the window starts. (Named `interval_count` because `count` is reserved by Terraform.)"},
		},
	}
}

func (d *pipelineScheduleDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var m pipelineScheduleDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, v := range []types.String{m.Cron, m.Every, m.Start, m.End, m.Timezone, m.From, m.To} {
		if v.IsUnknown() {
			return
		}
	}
	_, _, _ = m.compute(&resp.Diagnostics)
}

// compute compiles the schedule and parses the window, reporting problems at their attributes.
func (m *pipelineScheduleDataModel) compute(diags *diag.Diagnostics) (*definition.CompiledSchedule, time.Time, time.Time) {
	s := definition.Schedule{
		Cron: m.Cron.ValueString(), Every: m.Every.ValueString(), Start: m.Start.ValueString(), End: m.End.ValueString(),
		Timezone: m.Timezone.ValueString(), MaxActiveRuns: 1,
	}
	c, err := s.Compile()
	if err != nil {
		var probs definition.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				// "schedule.cron" → cron: this data source's attributes are the schedule's.
				diags.AddAttributeError(path.Root(p.Path[len("schedule."):]), "Invalid schedule", p.Path[len("schedule."):]+": "+p.Message)
			}
		} else {
			diags.AddError("Invalid schedule", err.Error())
		}
	}
	parse := func(attr string, v types.String) time.Time {
		t, err := time.Parse(time.RFC3339, v.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root(attr), "Invalid time", fmt.Sprintf("%s: %q is not an RFC 3339 time such as \"2026-03-01T00:00:00Z\"", attr, v.ValueString()))
		}
		return t
	}
	from, to := parse("from", m.From), parse("to", m.To)
	if !diags.HasError() && !to.After(from) {
		diags.AddAttributeError(path.Root("to"), "Invalid window", fmt.Sprintf("to: %s is not after from %s", m.To.ValueString(), m.From.ValueString()))
	}
	return c, from, to
}

func (d *pipelineScheduleDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m pipelineScheduleDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, from, to := m.compute(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	var elems []attr.Value
	for iv := range c.Intervals(from) {
		if !iv.Start.Before(to) {
			break
		}
		if len(elems) == maxScheduleIntervals {
			resp.Diagnostics.AddAttributeError(path.Root("to"), "Too many intervals",
				fmt.Sprintf("The window [%s, %s) holds more than %d intervals; list a shorter window.", m.From.ValueString(), m.To.ValueString(), maxScheduleIntervals))
			return
		}
		elems = append(elems, types.ObjectValueMust(pipelineIntervalAttrTypes, map[string]attr.Value{
			"start": types.StringValue(iv.Start.Format(time.RFC3339)), "end": types.StringValue(iv.End.Format(time.RFC3339)),
		}))
	}
	m.Intervals = types.ListValueMust(types.ObjectType{AttrTypes: pipelineIntervalAttrTypes}, elems)
	m.Count = types.Int64Value(int64(len(elems)))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
