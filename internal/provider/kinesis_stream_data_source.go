package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/kinesis"
)

var (
	_ datasource.DataSource              = (*kinesisStreamDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*kinesisStreamDataSource)(nil)
)

// NewKinesisStreamDataSource is the sluice_kinesis_stream data source.
func NewKinesisStreamDataSource() datasource.DataSource { return &kinesisStreamDataSource{} }

type kinesisStreamDataSource struct {
	data *providerData
}

type kinesisStreamDataModel struct {
	ID                types.String `tfsdk:"id"`
	Name              types.String `tfsdk:"name"`
	ARN               types.String `tfsdk:"arn"`
	Status            types.String `tfsdk:"status"`
	StreamMode        types.String `tfsdk:"stream_mode"`
	OpenShardCount    types.Int64  `tfsdk:"open_shard_count"`
	RetentionPeriod   types.Int64  `tfsdk:"retention_period"`
	EncryptionType    types.String `tfsdk:"encryption_type"`
	KMSKeyID          types.String `tfsdk:"kms_key_id"`
	ShardLevelMetrics types.Set    `tfsdk:"shard_level_metrics"`
	ConsumerCount     types.Int64  `tfsdk:"consumer_count"`
	OpenShards        types.List   `tfsdk:"open_shards"`
	ClosedShards      types.List   `tfsdk:"closed_shards"`
	Tags              types.Map    `tfsdk:"tags"`
}

func (d *kinesisStreamDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kinesis_stream"
}

func (d *kinesisStreamDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an existing Kinesis data stream by name — one managed elsewhere, or by another environment.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the stream.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, kinesis.MaxNameLength),
					stringvalidator.RegexMatches(streamNameRE, "may contain only letters, digits, '_', '-' and '.'"),
				},
			},
			"id":              computed("The stream name."),
			"arn":             computed("The stream ARN."),
			"status":          computed("Stream status: `CREATING`, `DELETING`, `ACTIVE` or `UPDATING`."),
			"stream_mode":     computed("Capacity mode: " + quotedList(kinesis.Modes()) + "."),
			"encryption_type": computed("Server-side encryption: " + quotedList(kinesis.EncryptionTypes()) + "."),
			"kms_key_id":      computed("KMS key used for encryption, when `encryption_type` is `KMS`."),
			"open_shard_count": schema.Int64Attribute{
				Computed: true, MarkdownDescription: "Number of open shards.",
			},
			"retention_period": schema.Int64Attribute{
				Computed: true, MarkdownDescription: "Hours records stay readable.",
			},
			"consumer_count": schema.Int64Attribute{
				Computed: true, MarkdownDescription: "Number of registered enhanced fan-out consumers.",
			},
			"shard_level_metrics": schema.SetAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Enabled shard-level CloudWatch metrics, listed one by one.",
			},
			"open_shards": schema.ListAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "IDs of the open shards, sorted.",
			},
			"closed_shards": schema.ListAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "IDs of the closed shards (parents of a reshard still within retention), sorted.",
			},
			"tags": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "All tags of the stream.",
			},
		},
	}
}

func (d *kinesisStreamDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (d *kinesisStreamDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m kinesisStreamDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	mgr := kinesis.NewManager(d.data.aws.Kinesis(), logger(ctx))
	name := m.Name.ValueString()
	s, err := mgr.Get(ctx, name)
	if errors.Is(err, kinesis.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Kinesis stream not found",
			fmt.Sprintf("No stream named %q in region %s.", name, d.data.aws.Region()))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading Kinesis stream failed", err.Error())
		return
	}
	open, closed, err := mgr.Shards(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError("Listing Kinesis shards failed", err.Error())
		return
	}
	m.ID = types.StringValue(s.Name)
	m.ARN = types.StringValue(s.ARN)
	m.Status = types.StringValue(s.Status)
	m.StreamMode = types.StringValue(string(s.Mode))
	m.OpenShardCount = types.Int64Value(int64(s.OpenShardCount))
	m.RetentionPeriod = types.Int64Value(int64(s.RetentionHours))
	m.EncryptionType = types.StringValue(s.EncryptionType)
	m.KMSKeyID = types.StringNull()
	if s.EncryptionType == kinesis.EncryptionKMS {
		m.KMSKeyID = types.StringValue(s.KMSKeyID)
	}
	m.ConsumerCount = types.Int64Value(int64(s.ConsumerCount))
	m.ShardLevelMetrics = stringSet(s.ShardLevelMetrics)
	m.OpenShards = stringList(open)
	m.ClosedShards = stringList(closed)
	m.Tags = stringMap(s.Tags)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
