package provider

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
)

var _ datasource.DataSource = (*costEstimateDataSource)(nil)

// NewCostEstimateDataSource is the sluice_cost_estimate data source.
func NewCostEstimateDataSource() datasource.DataSource { return &costEstimateDataSource{} }

// costEstimateDataSource sums estimates; pure computation, it needs no provider data.
type costEstimateDataSource struct{}

type costEstimateModel struct {
	Items       types.Map     `tfsdk:"items"`
	Total       types.Float64 `tfsdk:"total"`
	Unestimated types.List    `tfsdk:"unestimated"`
}

func (d *costEstimateDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cost_estimate"
}

func (d *costEstimateDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Sums a set of cost estimates — the `estimated_*` attributes of `sluice_kinesis_stream`, `sluice_emr_template` and " +
			"`sluice_pipeline`, scaled as you need — into one figure the plan shows, e.g. what a platform costs a month. An item that is null " +
			"(its estimate is unknown) makes the total null and is listed in `unestimated`: a total is never a guess. Pure computation, no AWS call.",
		Attributes: map[string]schema.Attribute{
			"items": schema.MapAttribute{
				ElementType: types.Float64Type,
				Required:    true,
				MarkdownDescription: "What to sum, by a label of your choice, in US dollars: e.g. `{ events = sluice_kinesis_stream.events.estimated_monthly_cost, " +
					"daily = sluice_pipeline.daily.estimated_cost_per_run * 30 }`. Negative amounts are refused.",
			},
			"total": schema.Float64Attribute{
				Computed:            true,
				MarkdownDescription: "The sum of `items`, rounded to a hundredth of a cent; null when any item is null.",
			},
			"unestimated": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "Labels of the items that are null, sorted: what the total lacks.",
			},
		},
	}
}

func (d *costEstimateDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m costEstimateModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	items := map[string]types.Float64{}
	resp.Diagnostics.Append(m.Items.ElementsAs(ctx, &items, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	labels := sortedMapKeys(items)
	var sum float64
	missing := []string{}
	for _, k := range labels {
		v := items[k]
		if v.IsNull() {
			missing = append(missing, k)
			continue
		}
		x := v.ValueFloat64()
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			resp.Diagnostics.AddAttributeError(path.Root("items").AtMapKey(k), "Invalid cost",
				fmt.Sprintf("items[%q] is %v: a cost is an amount in US dollars, 0 or more.", k, x))
			continue
		}
		sum += x
	}
	if resp.Diagnostics.HasError() {
		return
	}
	sort.Strings(missing)
	m.Total = types.Float64Value(cost.Round(sum))
	if len(missing) > 0 {
		m.Total = types.Float64Null()
		resp.Diagnostics.AddAttributeWarning(path.Root("total"), "Cost total not estimated",
			fmt.Sprintf("total is null: %s %s null (their estimates are unknown; the warnings on those resources say why).",
				quotedList(missing), map[bool]string{true: "is", false: "are"}[len(missing) == 1]))
	}
	m.Unestimated = stringList(missing)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
