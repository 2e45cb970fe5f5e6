package provider

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ datasource.DataSource              = (*redshiftSchemasDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*redshiftSchemasDataSource)(nil)
)

// NewRedshiftSchemasDataSource is the sluice_redshift_schemas data source.
func NewRedshiftSchemasDataSource() datasource.DataSource { return &redshiftSchemasDataSource{} }

type redshiftSchemasDataSource struct {
	data *providerData
}

var schemaReportType = map[string]attr.Type{
	"name": types.StringType, "owner": types.StringType, "responsible": types.StringType,
	"description": types.StringType, "table_count": types.Int64Type,
}

func (d *redshiftSchemasDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_redshift_schemas"
}

func (d *redshiftSchemasDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Every user schema of the provider's database with its owner, responsible contact and table count — " +
			"the \"who is responsible for what\" report. System schemas (`pg_*`, `information_schema`) are left out.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Always `schemas`."},
			"schemas": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The schemas, sorted by name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Schema name."},
					"owner":       schema.StringAttribute{Computed: true, MarkdownDescription: "Owning user."},
					"responsible": schema.StringAttribute{Computed: true, MarkdownDescription: "Contact from the schema comment's `responsible:` line; empty when none."},
					"description": schema.StringAttribute{Computed: true, MarkdownDescription: "The rest of the schema comment."},
					"table_count": schema.Int64Attribute{Computed: true, MarkdownDescription: "Number of tables in the schema."},
				}},
			},
		},
	}
}

func (d *redshiftSchemasDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (d *redshiftSchemasDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	cat := d.data.catalog(ctx, &resp.Diagnostics)
	if cat == nil {
		return
	}
	snap, err := cat.Snapshot(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Reading schemas failed", err.Error())
		return
	}
	names := make([]string, 0, len(snap.Schemas))
	for n := range snap.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	elems := make([]attr.Value, 0, len(names))
	for _, n := range names {
		s := snap.Schemas[n]
		elems = append(elems, types.ObjectValueMust(schemaReportType, map[string]attr.Value{
			"name": types.StringValue(s.Name), "owner": types.StringValue(s.Owner),
			"responsible": types.StringValue(s.Responsible), "description": types.StringValue(s.Description),
			"table_count": types.Int64Value(int64(s.Tables)),
		}))
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), "schemas")...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("schemas"),
		types.ListValueMust(types.ObjectType{AttrTypes: schemaReportType}, elems))...)
}
