// Package provider is the Terraform edge of sluice: the provider schema and Configure, and one
// file per resource and data source. It converts between Terraform values and the plain-Go domain
// packages and turns their errors into diagnostics; the algorithms live in the domain packages.
package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider/validate"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

var _ provider.Provider = (*sluiceProvider)(nil)

// New returns a constructor for the provider; version is set by the release build.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &sluiceProvider{version: version} }
}

type sluiceProvider struct {
	version string
}

type providerModel struct {
	Region                    types.String `tfsdk:"region"`
	Profile                   types.String `tfsdk:"profile"`
	AccessKey                 types.String `tfsdk:"access_key"`
	SecretKey                 types.String `tfsdk:"secret_key"`
	Token                     types.String `tfsdk:"token"`
	MaxRetries                types.Int64  `tfsdk:"max_retries"`
	SkipCredentialsValidation types.Bool   `tfsdk:"skip_credentials_validation"`
	AssumeRole                types.Object `tfsdk:"assume_role"`
	Endpoints                 types.Object `tfsdk:"endpoints"`
	DefaultTags               types.Object `tfsdk:"default_tags"`
	Redshift                  types.Object `tfsdk:"redshift"`
	Registry                  types.String `tfsdk:"registry"`
	MaxDocumentSize           types.String `tfsdk:"max_document_size"`
	Prices                    types.String `tfsdk:"prices"`
}

type redshiftModel struct {
	Host     types.String `tfsdk:"host"`
	Port     types.Int64  `tfsdk:"port"`
	Database types.String `tfsdk:"database"`
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
	SSLMode  types.String `tfsdk:"sslmode"`
	IAM      types.Object `tfsdk:"iam"`
	DataAPI  types.Object `tfsdk:"data_api"`
}

type redshiftDataAPIModel struct {
	ClusterIdentifier types.String `tfsdk:"cluster_identifier"`
	WorkgroupName     types.String `tfsdk:"workgroup_name"`
	SecretARN         types.String `tfsdk:"secret_arn"`
	DBUser            types.String `tfsdk:"db_user"`
}

type redshiftIAMModel struct {
	ClusterIdentifier types.String `tfsdk:"cluster_identifier"`
	DBUser            types.String `tfsdk:"db_user"`
	AutoCreate        types.Bool   `tfsdk:"auto_create"`
	DBGroups          types.List   `tfsdk:"db_groups"`
}

type assumeRoleModel struct {
	RoleARN     types.String `tfsdk:"role_arn"`
	SessionName types.String `tfsdk:"session_name"`
	ExternalID  types.String `tfsdk:"external_id"`
	Duration    types.String `tfsdk:"duration"`
}

// providerData is what Configure hands to every resource and data source.
type providerData struct {
	aws         *awsclient.Client
	defaultTags map[string]string
	// redshift is nil when the provider has no redshift block.
	redshift *redshiftConn
	// registryConn is nil when the provider has no registry attribute; see registry().
	registryConn *registryConn
	// maxDocumentSize is max_document_size in bytes: the largest document a resource publishes.
	maxDocumentSize int64
	// costs prices the cost estimates the plan shows.
	costs *costs
}

func (p *sluiceProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "sluice"
	resp.Version = p.version
}

func (p *sluiceProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	endpointAttrs := map[string]schema.Attribute{}
	for _, svc := range awsclient.Services() {
		endpointAttrs[string(svc)] = schema.StringAttribute{
			Optional: true,
			MarkdownDescription: fmt.Sprintf("Endpoint URL for %s, e.g. a local stand-in. Overrides `%s`, which overrides `%s` and the shared config file.",
				serviceTitle(svc), svc.EnvVar(), awsclient.GlobalEndpointEnvVar),
			Validators: []validator.String{validate.EndpointURL()},
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The sluice provider declares a data platform on AWS — Kinesis streams, EMR cluster templates, " +
			"Redshift schemas, tables and grants, and ETL pipelines — and publishes pipeline definitions for `sluice-runner`. " +
			"Credentials and region follow the AWS provider's chain: the attributes here, then the environment, then the shared config file.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "AWS region, e.g. `eu-west-1`. Defaults to `AWS_REGION` or the profile's region.",
			},
			"profile": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Named profile from the shared config and credentials files. Defaults to `AWS_PROFILE`.",
			},
			"access_key": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Static access key ID. Set together with `secret_key`; prefer the environment or a profile.",
			},
			"secret_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Static secret access key. Set together with `access_key`.",
			},
			"token": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Session token for temporary static credentials.",
			},
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many times a throttled or transient AWS error is retried, with exponential backoff. Default `%d`. "+
					"A `LimitExceededException` that reports an exhausted quota is never retried.", awsclient.DefaultMaxRetries),
			},
			"registry": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: registryDescription,
				Validators:          []validator.String{validate.RegistryURL()},
			},
			"max_document_size": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Largest definition document `sluice_pipeline`, `sluice_emr_template` and `sluice_stream_replication` publish, e.g. `\"8MiB\"`: " +
					definition.SizeForms + ". Default `" + definition.FormatSize(definition.DefaultMaxDocumentSize) + "`. A larger document is an error at plan time " +
					"naming the resource. `sluice-runner` refuses documents over its own `max_document_size` (same default), so raise both together. " +
					"The bound keeps every runner's memory and status pages small: a runner reads each document at every tick.",
				Validators: []validator.String{validate.Size()},
			},
			"prices": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Path of a price file (format `" + cost.FormatPrices + "`) whose entries replace or add to the embedded, dated price table " +
					"the `estimated_*` attributes are computed from — negotiated rates, or regions and instance types the table lacks. Each entry: `region`, `item` (" +
					quotedList(cost.Items()) + "), `instance_type` for the per-instance items, `usd`, `source` and `as_of` (`YYYY-MM-DD`). " +
					"A bad file is an error at plan time naming the entry. See the Costs guide.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"skip_credentials_validation": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "Skip the `sts:GetCallerIdentity` check at configuration. Set to `true` for local stand-ins that have no STS.",
			},
		},
		Blocks: map[string]schema.Block{
			"assume_role": schema.SingleNestedBlock{
				MarkdownDescription: "Assume an IAM role after the base credentials are found.",
				Attributes: map[string]schema.Attribute{
					"role_arn":     schema.StringAttribute{Optional: true, MarkdownDescription: "ARN of the role to assume."},
					"session_name": schema.StringAttribute{Optional: true, MarkdownDescription: "Session name recorded in CloudTrail."},
					"external_id":  schema.StringAttribute{Optional: true, MarkdownDescription: "External ID the role's trust policy requires."},
					"duration": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Session duration as a Go duration, e.g. `1h`. Default 15 minutes.",
						Validators:          []validator.String{validate.Duration()},
					},
				},
			},
			"endpoints": schema.SingleNestedBlock{
				MarkdownDescription: "Per-service endpoint URLs. Precedence per service: this block, then `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, then the shared config file. Services: " +
					quotedList(awsclient.ServiceNames()) + ".",
				Attributes: endpointAttrs,
			},
			"redshift": schema.SingleNestedBlock{
				MarkdownDescription: "The database that `sluice_redshift_*` resources manage: one database per provider instance; use provider aliases for replicas. " +
					"The connection is opened only when a Redshift resource needs it. PostgreSQL is accepted too (the dialect is detected from `SELECT version()`), which is what local development and the tests use.",
				Attributes: map[string]schema.Attribute{
					"host": schema.StringAttribute{Optional: true, MarkdownDescription: "Cluster endpoint host name, e.g. `analytics.abc123.eu-west-1.redshift.amazonaws.com`. Required in the block."},
					"port": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: fmt.Sprintf("Port. Default `%d`.", defaultRedshiftPort),
						Validators:          []validator.Int64{int64validator.Between(1, 65535)},
					},
					"database": schema.StringAttribute{Optional: true, MarkdownDescription: "Database name. Required in the block."},
					"username": schema.StringAttribute{Optional: true, MarkdownDescription: "User to connect as. Required in the block."},
					"password": schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Password of `username`. Never written to logs, errors or published definitions. Not used with `iam`."},
					"sslmode": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "TLS mode: " + quotedList(sslModes) + ". Default `" + defaultRedshiftSSLMode + "`.",
						Validators:          []validator.String{stringvalidator.OneOf(sslModes...)},
					},
				},
				Blocks: map[string]schema.Block{
					"data_api": schema.SingleNestedBlock{
						MarkdownDescription: "Run every statement through the Redshift Data API (HTTPS to AWS, through the `redshift_data` endpoint) instead of a database connection: " +
							"no network path to the cluster is needed. Set `database`; `host`, `username` and `password` are not used.",
						Attributes: map[string]schema.Attribute{
							"cluster_identifier": schema.StringAttribute{Optional: true, MarkdownDescription: "Provisioned cluster to run on. Exactly one of `cluster_identifier` and `workgroup_name`."},
							"workgroup_name":     schema.StringAttribute{Optional: true, MarkdownDescription: "Redshift Serverless workgroup to run on."},
							"secret_arn":         schema.StringAttribute{Optional: true, MarkdownDescription: "Secrets Manager secret with the database credentials."},
							"db_user":            schema.StringAttribute{Optional: true, MarkdownDescription: "Database user for temporary credentials (provisioned clusters only), instead of `secret_arn`."},
						},
					},
					"iam": schema.SingleNestedBlock{
						MarkdownDescription: "Log in with temporary credentials from `redshift:GetClusterCredentials` (through the `redshift` endpoint and the provider's AWS credentials) instead of a password. " +
							"Credentials are renewed before they expire.",
						Attributes: map[string]schema.Attribute{
							"cluster_identifier": schema.StringAttribute{Optional: true, MarkdownDescription: "Identifier of the provisioned cluster. Required in the block."},
							"db_user":            schema.StringAttribute{Optional: true, MarkdownDescription: "Database user to get credentials for. Required in the block."},
							"auto_create":        schema.BoolAttribute{Optional: true, MarkdownDescription: "Create `db_user` on first login if it does not exist. Default `false`."},
							"db_groups": schema.ListAttribute{
								ElementType: types.StringType, Optional: true,
								MarkdownDescription: "Groups `db_user` joins for the session.",
							},
						},
					},
				},
			},
			"default_tags": schema.SingleNestedBlock{
				MarkdownDescription: "Tags applied to every taggable resource. A resource's own `tags` win on a key conflict; `tags_all` shows the merge.",
				Attributes: map[string]schema.Attribute{
					"tags": schema.MapAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Tags to apply to every resource.",
					},
				},
			},
		},
	}
}

func (p *sluiceProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]attr.Value{
		"region": cfg.Region, "profile": cfg.Profile, "access_key": cfg.AccessKey, "secret_key": cfg.SecretKey,
		"token": cfg.Token, "endpoints": cfg.Endpoints, "assume_role": cfg.AssumeRole, "default_tags": cfg.DefaultTags,
		"redshift": cfg.Redshift, "registry": cfg.Registry, "prices": cfg.Prices,
	} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Provider configuration not known at plan time",
				fmt.Sprintf("%s depends on a value that is only known after apply. The provider must be configured with known values: "+
					"use a literal, a variable, or apply the resource it depends on first with -target.", name))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	settings := awsclient.Settings{
		Region:                    cfg.Region.ValueString(),
		Profile:                   cfg.Profile.ValueString(),
		AccessKey:                 cfg.AccessKey.ValueString(),
		SecretKey:                 cfg.SecretKey.ValueString(),
		Token:                     cfg.Token.ValueString(),
		MaxRetries:                int(cfg.MaxRetries.ValueInt64()),
		SkipCredentialsValidation: cfg.SkipCredentialsValidation.ValueBool(),
		Endpoints:                 map[awsclient.Service]string{},
	}
	if !cfg.Endpoints.IsNull() {
		for name, v := range cfg.Endpoints.Attributes() {
			if s, ok := v.(basetypes.StringValue); ok && !s.IsNull() {
				settings.Endpoints[awsclient.Service(name)] = s.ValueString()
			}
		}
	}
	if !cfg.AssumeRole.IsNull() {
		var ar assumeRoleModel
		resp.Diagnostics.Append(cfg.AssumeRole.As(ctx, &ar, basetypes.ObjectAsOptions{})...)
		if ar.RoleARN.ValueString() != "" {
			var d time.Duration
			if v := ar.Duration.ValueString(); v != "" {
				d, _ = time.ParseDuration(v) // checked by validate.Duration at plan time
			}
			settings.AssumeRole = &awsclient.AssumeRole{
				RoleARN: ar.RoleARN.ValueString(), SessionName: ar.SessionName.ValueString(),
				ExternalID: ar.ExternalID.ValueString(), Duration: d,
			}
		}
	}
	defaultTags := map[string]string{}
	if !cfg.DefaultTags.IsNull() {
		if tags, ok := cfg.DefaultTags.Attributes()["tags"].(basetypes.MapValue); ok && !tags.IsNull() {
			resp.Diagnostics.Append(tags.ElementsAs(ctx, &defaultTags, false)...)
		}
	}
	settings.Logger = logger(ctx)
	client, err := awsclient.New(ctx, settings)
	if err != nil {
		resp.Diagnostics.AddError("Invalid AWS configuration", err.Error())
		return
	}
	rs := configureRedshift(ctx, cfg.Redshift, client, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	account, err := client.Validate(ctx)
	if err != nil {
		resp.Diagnostics.AddError("AWS credentials rejected", err.Error())
		return
	}
	tflog.Debug(ctx, "configured sluice provider", map[string]any{"region": client.Region(), "account": account})

	maxSize := definition.DefaultMaxDocumentSize
	if v := cfg.MaxDocumentSize; !v.IsNull() && !v.IsUnknown() {
		n, err := definition.ParseSize(v.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("max_document_size"), "Invalid size", err.Error())
			return
		}
		maxSize = n
	}
	prices := cost.Embedded()
	if v := cfg.Prices; !v.IsNull() {
		over, err := cost.Load(v.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("prices"), "Invalid price file", err.Error())
			return
		}
		prices = prices.Merge(over)
	}
	data := &providerData{aws: client, defaultTags: defaultTags, redshift: rs, registryConn: configureRegistry(cfg.Registry, client, maxSize), maxDocumentSize: maxSize,
		costs: newCosts(prices, client.Region())}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *sluiceProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewKinesisStreamResource,
		NewRedshiftSchemaResource,
		NewRedshiftTableResource,
		NewRedshiftGrantResource,
		NewRedshiftUserResource,
		NewRedshiftGroupResource,
		NewEMRTemplateResource,
		NewPipelineResource,
		NewStreamReplicationResource,
	}
}

func (p *sluiceProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewKinesisStreamDataSource,
		NewRedshiftSchemasDataSource,
		NewPipelineDataSource,
		NewPipelineScheduleDataSource,
		NewCostEstimateDataSource,
	}
}

func serviceTitle(s awsclient.Service) string {
	switch s {
	case awsclient.RedshiftData:
		return "the Redshift Data API"
	case awsclient.Kinesis, awsclient.Redshift:
		return strings.ToUpper(string(s[:1])) + string(s[1:])
	default:
		return strings.ToUpper(string(s))
	}
}

func quotedList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

// configureRedshift reads the redshift block; nil when the block is absent.
func configureRedshift(ctx context.Context, obj types.Object, client *awsclient.Client, diags *diag.Diagnostics) *redshiftConn {
	if obj.IsNull() {
		return nil
	}
	var m redshiftModel
	diags.Append(obj.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return nil
	}
	// A connection setting that depends on a resource not yet created (a cluster's endpoint) is
	// unknown while planning: the conn remembers which, so plan-time checks that need the
	// database are skipped instead of failing on a "missing" value; apply configures again with
	// every value known.
	var unknown []string
	for name, v := range map[string]attr.Value{
		"host": m.Host, "port": m.Port, "database": m.Database, "username": m.Username, "password": m.Password,
		"sslmode": m.SSLMode, "iam": m.IAM, "data_api": m.DataAPI,
	} {
		if v.IsUnknown() {
			unknown = append(unknown, "redshift."+name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &redshiftConn{unknown: unknown}
	}
	c := &redshiftConn{
		host: m.Host.ValueString(), database: m.Database.ValueString(), username: m.Username.ValueString(),
		password: m.Password.ValueString(), sslmode: stringOr(m.SSLMode, defaultRedshiftSSLMode), port: defaultRedshiftPort,
	}
	if !m.Port.IsNull() {
		c.port = int(m.Port.ValueInt64())
	}
	required := map[string]string{"host": c.host, "database": c.database, "username": c.username}
	if !m.IAM.IsNull() {
		var iam redshiftIAMModel
		diags.Append(m.IAM.As(ctx, &iam, basetypes.ObjectAsOptions{})...)
		c.iam = &redshift.IAMAuth{
			API:               client.Redshift(),
			ClusterIdentifier: iam.ClusterIdentifier.ValueString(),
			DBUser:            iam.DBUser.ValueString(),
			Database:          c.database,
			AutoCreate:        iam.AutoCreate.ValueBool(),
		}
		if !iam.DBGroups.IsNull() {
			diags.Append(iam.DBGroups.ElementsAs(ctx, &c.iam.DBGroups, false)...)
		}
		if c.password != "" {
			diags.AddAttributeError(path.Root("redshift").AtName("password"), "Conflicting Redshift credentials",
				"redshift.password and redshift.iam are mutually exclusive: iam fetches a temporary password. Remove one.")
		}
		delete(required, "username")
		c.username = c.iam.DBUser // replaced by the temporary credentials on every connection
		for name, v := range map[string]string{"cluster_identifier": c.iam.ClusterIdentifier, "db_user": c.iam.DBUser} {
			if v == "" {
				diags.AddAttributeError(path.Root("redshift").AtName("iam").AtName(name), "Missing Redshift IAM setting",
					fmt.Sprintf("redshift.iam.%s is required when the iam block is present.", name))
			}
		}
	}
	if !m.DataAPI.IsNull() {
		var da redshiftDataAPIModel
		diags.Append(m.DataAPI.As(ctx, &da, basetypes.ObjectAsOptions{})...)
		c.dataAPI = &redshift.DataAPITarget{
			ClusterIdentifier: da.ClusterIdentifier.ValueString(), WorkgroupName: da.WorkgroupName.ValueString(),
			SecretARN: da.SecretARN.ValueString(), DBUser: da.DBUser.ValueString(), Database: c.database,
		}
		c.dataAPIClient = client.RedshiftData()
		required = map[string]string{"database": c.database}
		if err := c.dataAPI.Validate(); err != nil && c.database != "" {
			diags.AddAttributeError(path.Root("redshift").AtName("data_api"), "Invalid Redshift Data API settings", err.Error())
		}
		if !m.IAM.IsNull() || c.password != "" || c.host != "" {
			diags.AddAttributeError(path.Root("redshift").AtName("data_api"), "Conflicting Redshift connection settings",
				"redshift.data_api runs statements through AWS and takes no host, password or iam block; remove them or remove data_api.")
		}
	}
	for name, v := range required {
		if v == "" {
			diags.AddAttributeError(path.Root("redshift").AtName(name), "Missing Redshift connection setting",
				fmt.Sprintf("redshift.%s is required when the redshift block is present.", name))
		}
	}
	return c
}
