package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/provider/validate"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

var (
	_ resource.Resource                   = (*streamReplicationResource)(nil)
	_ resource.ResourceWithConfigure      = (*streamReplicationResource)(nil)
	_ resource.ResourceWithImportState    = (*streamReplicationResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*streamReplicationResource)(nil)
	_ resource.ResourceWithValidateConfig = (*streamReplicationResource)(nil)
)

// NewStreamReplicationResource is the sluice_stream_replication resource.
func NewStreamReplicationResource() resource.Resource { return &streamReplicationResource{} }

type streamReplicationResource struct {
	data *providerData
}

// replicationKind names the resource in diagnostics and in the document size check.
const replicationKind = "stream replication"

func (r *streamReplicationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_stream_replication"
}

func (r *streamReplicationResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	optional := func(desc string) schema.StringAttribute {
		// Never "": the document leaves empty strings out, and "" would read back as null.
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: []validator.String{stringvalidator.LengthAtLeast(1)}}
	}
	enum := func(desc string, allowed []string, def string) schema.StringAttribute {
		a := schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: desc + " One of " + quotedList(allowed) + ".",
			Validators:          []validator.String{stringvalidator.OneOf(allowed...)},
		}
		if def != "" {
			a.Computed, a.Default = true, stringdefault.StaticString(def)
			a.MarkdownDescription += " Default `" + def + "`."
		}
		return a
	}
	duration := func(desc, def string) schema.StringAttribute {
		return schema.StringAttribute{
			Optional: true, Computed: true, Default: stringdefault.StaticString(def),
			MarkdownDescription: desc + " A duration such as `200ms`, `1s`, `30s` or `1m`, more than zero. Default `" + def + "`.",
		}
	}
	stringsList := func(desc string, more ...validator.List) schema.ListAttribute {
		return schema.ListAttribute{
			ElementType: types.StringType, Optional: true, MarkdownDescription: desc,
			// Never []: the document leaves empty lists out, and [] would read back as null.
			Validators: append([]validator.List{listvalidator.SizeAtLeast(1)}, more...),
		}
	}
	location := "An `s3://` (or, for local development, `file://`) prefix."

	resp.Schema = schema.Schema{
		MarkdownDescription: "A stream replication: identical, independent warehouse replicas kept equal from one Kinesis stream. Every change is put " +
			"into the stream; each replica has its own subscriber in `sluice-runner`, running in the replica's region, which applies the records in " +
			"sequence order (AWS's design for multi-AZ and multi-region Redshift clusters). " +
			"Published to the provider's `registry` as `" + registry.ReplicationsPrefix + "<name>.json` (format `" + definition.FormatReplication + "`). " +
			"Everything is checked at plan time; the plan shows the replicas, the exact document (`definition_json`), its `version`, and the read load " +
			"the subscribers put on each shard (`read_calls_per_second`), with a warning when it is over Kinesis's shared limit of " +
			fmt.Sprint(definition.ShardReadCallsPerSecond) + " GetRecords calls per second per shard. Publishing starts nothing by itself: runners " +
			"serve the replicas they are configured for.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The replication name.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Replication name: " + nameRuleMarkdown + ". It is the registry key (`" + registry.ReplicationsPrefix +
					"<name>.json`) and the name runners know the replication by. Changing it replaces the replication: the old document is deleted " +
					"and the new one published, and runners treat it as a new replication.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{validate.Name("replication")},
			},
			"description": optional("What the replication keeps equal, shown by `sluice-runner status`."),
			"owner":       optional("Who is responsible for the replication, e.g. a team or an e-mail address; shown in status and alerts."),
			"stream_arn": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "ARN of the Kinesis stream that carries the changes, `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`, e.g. " +
					"`sluice_kinesis_stream.changes.arn`. It carries the stream's region: subscribers in other regions read it across regions.",
			},
			"replicas": schema.MapNestedAttribute{
				Required: true,
				MarkdownDescription: "The replicas, keyed by replica name (`" + definition.ReplicaNamePattern + "`). Each replica has its own " +
					"subscriber per shard and its own checkpoint, so one replica that is down only lags; the others go on. Two replicas may not " +
					"name the same connection: that database would apply every change twice.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"connection": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "The replica database, as a connection **name** (`" + definition.ConnectionNamePattern + "`), never a " +
							"URL or a secret: the runner that serves the replica resolves it from its own configuration, e.g. `SLUICE_CONN_WAREHOUSE_EU`.",
					},
					"region": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "AWS region the replica (and so its subscriber) runs in, e.g. `eu-west-1`: a runner serves the replicas it is configured " +
							"for, typically one runner per region.",
					},
					"iam_role": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "IAM role ARN a Redshift replica assumes to COPY the files of a `" + definition.FormatLoadRecord + "` record, e.g. " +
							"`arn:aws:iam::123456789012:role/redshift-copy` (a role of the replica's account and region). PostgreSQL replicas read the files " +
							"through the runner and need none; a Redshift replica without one holds its shard on the first load record, its error shown.",
					},
				}},
			},
			"format": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "What the stream's records are. `" + definition.RecordsStatements + "`: each record is SQL (DDL or DML, one or " +
					"more statements) applied in sequence order, or a `" + definition.FormatLoadRecord + "` document naming files every subscriber " +
					"loads with its own COPY. `" + definition.RecordsRows + "`: each record is one JSON object, a row of `table`, applied in batches " +
					"with `insert_mode`. One of " + quotedList(definition.RecordFormats()) + ".",
				Validators: []validator.String{stringvalidator.OneOf(definition.RecordFormats()...)},
			},
			"table": optional("Only for `format = \"" + definition.RecordsRows + "\"`, and required there: the schema-qualified table rows are loaded into, " +
				"`schema.table`, e.g. `analytics.clicks`."),
			"insert_mode": enum("Only for `format = \""+definition.RecordsRows+"\"`, and required there: how a batch of rows is applied, as in "+
				"`redshift_copy` (`TRUNCATE` has no meaning for a stream of rows). `KEEP_EXISTING` and `OVERWRITE_EXISTING` need `key_columns`.",
				definition.ReplicationInsertModes(), ""),
			"key_columns": stringsList("Only for `format = \"" + definition.RecordsRows + "\"`: the columns that identify a row, for `KEEP_EXISTING` and " +
				"`OVERWRITE_EXISTING`."),
			"max_records": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(definition.DefaultBatchMaxRecords),
				MarkdownDescription: fmt.Sprintf("Most records applied in one transaction, 1 to 10000 (the most one GetRecords call returns); "+
					"a batch ends at whichever of `max_records`, `max_bytes` and `max_latency` comes first. Default `%d`.", definition.DefaultBatchMaxRecords),
			},
			"max_bytes": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(definition.DefaultBatchMaxBytes),
				MarkdownDescription: fmt.Sprintf("Most bytes of records applied in one transaction, from %d (one Kinesis record) to %d. It bounds "+
					"the memory a subscriber holds. Default `%d` (1 MiB).", definition.MaxRecordBytes, 64<<20, definition.DefaultBatchMaxBytes),
			},
			"max_latency": duration("Longest a record waits in a batch before the batch is applied.", definition.DefaultBatchMaxLatency),
			"staging": optional("For `format = \"rows\"`: the prefix where each batch of rows is written, as one JSON-lines object, and " +
				"loaded from with COPY inside the batch's transaction. Required for Redshift replicas (which also need `iam_role`); when it is " +
				"set, PostgreSQL replicas load the same way (the runner streams the object into COPY), otherwise they insert rows directly. " +
				"Objects are named by replica, shard and sequence range and left in place: expire them with a lifecycle rule. " + location),
			"start_position": enum("Where a subscriber starts reading a shard it has no checkpoint for: `"+definition.StartTrimHorizon+"` (the oldest "+
				"record the stream retains), `"+definition.StartLatest+"` (only records put from then on), or `"+definition.StartAtTimestamp+"` "+
				"(from `start_timestamp`). A subscriber with a checkpoint always continues after it.",
				definition.StartPositions(), defaultStartPosition),
			"start_timestamp": optional("Only for `start_position = \"" + definition.StartAtTimestamp + "\"`, and required there: an RFC 3339 time, " +
				"e.g. `2026-11-18T00:00:00Z`."),
			"poison": enum("What a subscriber does with a record it cannot apply (SQL that fails, a row that violates the table, a record that "+
				"is not a record of `format`): `"+definition.PoisonStop+"` stops that replica's subscriber on the record, so its lag grows and an "+
				"operator decides, and nothing after it is applied; `"+definition.PoisonDeadLetter+"` writes the record and its error under "+
				"`dead_letter`, tells `poison_notify`, and goes on.",
				definition.PoisonPolicies(), defaultPoisonPolicy),
			"dead_letter": optional("Only for `poison = \"" + definition.PoisonDeadLetter + "\"`, and required there: where poison records and their " +
				"errors are written. " + location),
			"poison_notify": stringsList("Targets told of each poison record: SNS topic ARNs (`arn:aws:sns:REGION:ACCOUNT:TOPIC`) or `http(s)` "+
				"webhook URLs.", listvalidator.UniqueValues()),
			"poll_interval": duration(fmt.Sprintf("How often an idle subscriber calls GetRecords on a shard. Every replica's subscriber reads every "+
				"shard, and a shard serves %d GetRecords calls per second to all its readers together: keep replicas ÷ poll_interval at or below %d "+
				"per second (see `read_calls_per_second`).", definition.ShardReadCallsPerSecond, definition.ShardReadCallsPerSecond),
				definition.DefaultPollInterval),
			"version": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Version of the published document: `sha256:` and the hash of its canonical JSON. Shown at plan time; it changes " +
					"exactly when the published content changes.",
			},
			"definition_json": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The exact bytes published to the registry (canonical JSON, keys sorted, `version` included), shown at plan time. " +
					"After someone edits the document by hand, it shows what is in the registry until the next apply publishes the configuration again.",
			},
			"read_calls_per_second": schema.Float64Attribute{
				Computed: true,
				MarkdownDescription: fmt.Sprintf("GetRecords calls per second the subscribers of this replication put on each shard when they are "+
					"idle: one per `poll_interval` per replica. Kinesis allows %d per shard, shared by every reader of the stream (without enhanced "+
					"fan-out), and %d MB/s; the plan warns above %d. Readers outside this replication count too. The bytes are shared alike: every "+
					"replica reads all that is written, so N replicas keep up while less than 2 MB/s ÷ N is written to a shard.",
					definition.ShardReadCallsPerSecond, definition.ShardReadBytesPerSecond>>20, definition.ShardReadCallsPerSecond),
			},
		},
	}
}

func (r *streamReplicationResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the replication with the rules the runner applies, at plan time, as far
// as its values are known: a value known only after apply is checked when it is.
func (r *streamReplicationResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m streamReplicationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	addReplicationProblems(replicationProblems(&m), &resp.Diagnostics)
}

func addReplicationProblems(problems []replicationProblem, diags *diag.Diagnostics) {
	for _, p := range problems {
		if len(p.Path.Steps()) == 0 {
			diags.AddError("Invalid stream replication", p.Detail)
		} else {
			diags.AddAttributeError(p.Path, "Invalid stream replication", p.Detail)
		}
	}
}

// ModifyPlan computes what the plan shows — id, read_calls_per_second, version and
// definition_json — checks the document size, and warns when the subscribers would read a shard
// more often than Kinesis allows.
func (r *streamReplicationResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan streamReplicationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = plan.Name
	rep := replicationFromModel(&plan)

	plan.ReadCallsPerSecond = types.Float64Unknown()
	if !plan.Replicas.IsUnknown() && !plan.PollInterval.IsUnknown() {
		calls, over := rep.ReadLoad()
		plan.ReadCallsPerSecond = types.Float64Value(roundCalls(calls))
		if over {
			resp.Diagnostics.AddAttributeWarning(path.Root("poll_interval"), "Subscribers would exceed the shard read limit",
				fmt.Sprintf("Stream replication %q: with %s polling every %s, the subscribers make %s GetRecords calls per second on every shard "+
					"of %s, over Kinesis's limit of %d per shard (shared by all readers of the stream without enhanced fan-out, with %d MB/s). "+
					"Reads would be throttled and every replica would lag. Set poll_interval to %s or more, or serve fewer replicas from this stream.",
					rep.Name, replicaCount(len(rep.Replicas)), rep.PollInterval, formatCalls(calls), rep.StreamARN, definition.ShardReadCallsPerSecond,
					definition.ShardReadBytesPerSecond>>20, minPollInterval(len(rep.Replicas))))
		}
	}

	plan.Version, plan.DefinitionJSON = types.StringUnknown(), types.StringUnknown()
	if req.Config.Raw.IsFullyKnown() && len(definition.ValidateReplication(rep)) == 0 {
		doc, err := definition.Encode(rep)
		if err != nil {
			resp.Diagnostics.AddError("Encoding stream replication failed", fmt.Sprintf("Replication %q: %v", rep.Name, err))
			return
		}
		r.data.checkDocumentSize(replicationKind, rep.Name, doc, &resp.Diagnostics)
		plan.Version, plan.DefinitionJSON = types.StringValue(rep.Version), types.StringValue(string(doc))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// replicaCount is "1 replica", "6 replicas".
func replicaCount(n int) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// formatCalls spells a calls-per-second figure without float noise: 10, 1.429.
func formatCalls(c float64) string { return fmt.Sprint(roundCalls(c)) }

func (r *streamReplicationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.publish(ctx, req.Plan, true, &resp.State, &resp.Diagnostics)
}

func (r *streamReplicationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.publish(ctx, req.Plan, false, &resp.State, &resp.Diagnostics)
}

// publish checks the planned replication, publishes it (atomically: the registry's Put) and
// sets the state. On create it refuses to overwrite a replication it does not manage.
func (r *streamReplicationResource) publish(ctx context.Context, planned tfsdk.Plan, create bool, state *tfsdk.State, diags *diag.Diagnostics) {
	var plan streamReplicationModel
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	if problems := replicationProblems(&plan); len(problems) > 0 {
		addReplicationProblems(problems, diags)
		return
	}
	rep := replicationFromModel(&plan)
	doc, err := definition.Encode(rep)
	if err != nil {
		diags.AddError("Encoding stream replication failed", fmt.Sprintf("Replication %q: %v", rep.Name, err))
		return
	}
	reg := r.data.registry(ctx, diags)
	if diags.HasError() || reg == nil {
		return
	}
	key := registry.ReplicationKey(rep.Name)
	if create && !replicationKeyFree(ctx, reg, key, rep.Name, diags) {
		return
	}
	if err := reg.Put(ctx, key, doc); err != nil {
		diags.AddError("Publishing stream replication failed", fmt.Sprintf("Writing %s to registry %s: %v", key, reg.URL(), err))
		return
	}
	plan.ID = types.StringValue(rep.Name)
	plan.Version = types.StringValue(rep.Version)
	plan.DefinitionJSON = types.StringValue(string(doc))
	calls, _ := rep.ReadLoad()
	plan.ReadCallsPerSecond = types.Float64Value(roundCalls(calls))
	diags.Append(state.Set(ctx, &plan)...)
}

// replicationKeyFree refuses to publish over a replication this resource does not manage.
func replicationKeyFree(ctx context.Context, reg registry.Registry, key, name string, diags *diag.Diagnostics) bool {
	_, err := reg.Get(ctx, key)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return true
	case err != nil:
		diags.AddError("Reading stream replication failed", fmt.Sprintf("Checking whether %s exists in registry %s: %v", key, reg.URL(), err))
	default:
		diags.AddAttributeError(path.Root("name"), "Stream replication already exists",
			fmt.Sprintf("Registry %s already has a stream replication named %q (%s). Choose another name, or import it: "+
				"terraform import sluice_stream_replication.<name> %s", reg.URL(), name, key, name))
	}
	return false
}

// Read reads the published document back. Unchanged (the same version, however it is
// formatted), the state is kept as it is; edited by hand, the state becomes what is published,
// so the plan shows the difference and the apply publishes the configuration again; deleted,
// the resource leaves the state and the plan creates it again.
func (r *streamReplicationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state streamReplicationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	doc, ok := readPublished(ctx, r.data, name, registry.ReplicationKey, "stream replication", resp)
	if !ok {
		return
	}
	data := doc.Data
	importing := state.StreamARN.IsNull()
	published, decodeErr := definition.DecodeReplication(data)
	version := ""
	switch {
	case decodeErr == nil:
		if !importing && published.Version == state.Version.ValueString() {
			return // the content this state was published with: keep the state exactly as it is
		}
		version = published.Version
	case errors.Is(decodeErr, definition.ErrVersionMismatch):
		// Edited by hand: read the content as it is. The stored version is not the hash of the
		// configuration, so the next apply republishes even if the content matches it.
		resp.Diagnostics.AddWarning("Published stream replication was edited outside Terraform",
			fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, decodeErr))
		version = published.Version
	default:
		var lenient definition.Replication
		if err := json.Unmarshal(data, &lenient); err != nil || lenient.Format != definition.FormatReplication || lenient.Name == "" {
			if importing {
				resp.Diagnostics.AddError("Reading stream replication failed",
					fmt.Sprintf("%s in registry %s is not a readable %s document: %v", doc.Key, doc.URL, definition.FormatReplication, decodeErr))
				return
			}
			// Unreadable: keep the prior content and clear the version, so the plan shows an
			// update and the apply publishes a good document.
			resp.Diagnostics.AddWarning("Published stream replication is unreadable",
				fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, decodeErr))
			state.Version = types.StringValue("")
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			return
		}
		// Readable, but not what sluice-runner accepts (an unknown field, say): show the content,
		// and an empty version so that the apply republishes.
		resp.Diagnostics.AddWarning("Published stream replication is not valid for sluice-runner",
			fmt.Sprintf("%s in registry %s: %v. The next apply publishes the configuration again.", doc.Key, doc.URL, decodeErr))
		published = &lenient
	}
	fillReplicationModel(&state, published)
	state.ID = types.StringValue(name)
	state.Name = types.StringValue(name) // the key, whatever the document says
	state.Version = types.StringValue(version)
	state.DefinitionJSON = types.StringValue(string(data))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *streamReplicationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deletePublished(ctx, r.data, req.State, registry.ReplicationKey, "stream replication", &resp.Diagnostics)
}

// ImportState imports a published replication by name:
// `terraform import sluice_stream_replication.x warehouse`. Read fills every attribute from the
// document.
func (r *streamReplicationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importPublishedByName(ctx, req, resp, "stream replication", "sluice_stream_replication.warehouse warehouse",
		func(id string) error { return definition.ValidateName("replication", id) })
}
