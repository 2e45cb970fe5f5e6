package provider

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// The sluice_stream_replication schema is flat, as users write it (format, table, max_records,
// start_position, poison, ...), while the published document groups the same values
// (records, batch, start_position, poison). The conversion below is the only place that knows
// the mapping; definition.ValidateReplication already names its problems by the flat HCL
// attribute names, so problem paths map to attribute paths one to one.

// Defaults of the attributes that have no Default* constant in the definition package. Both
// are the choices that can never lose or corrupt data: read the whole retained stream, and stop
// on a record that cannot be applied rather than skip it.
const (
	defaultStartPosition = definition.StartTrimHorizon
	defaultPoisonPolicy  = definition.PoisonStop
)

type streamReplicationModel struct {
	ID                 types.String  `tfsdk:"id"`
	Name               types.String  `tfsdk:"name"`
	Description        types.String  `tfsdk:"description"`
	Owner              types.String  `tfsdk:"owner"`
	StreamARN          types.String  `tfsdk:"stream_arn"`
	Replicas           types.Map     `tfsdk:"replicas"`
	Format             types.String  `tfsdk:"format"`
	Table              types.String  `tfsdk:"table"`
	InsertMode         types.String  `tfsdk:"insert_mode"`
	KeyColumns         types.List    `tfsdk:"key_columns"`
	MaxRecords         types.Int64   `tfsdk:"max_records"`
	MaxBytes           types.Int64   `tfsdk:"max_bytes"`
	MaxLatency         types.String  `tfsdk:"max_latency"`
	Staging            types.String  `tfsdk:"staging"`
	StartPosition      types.String  `tfsdk:"start_position"`
	StartTimestamp     types.String  `tfsdk:"start_timestamp"`
	Poison             types.String  `tfsdk:"poison"`
	DeadLetter         types.String  `tfsdk:"dead_letter"`
	PoisonNotify       types.List    `tfsdk:"poison_notify"`
	PollInterval       types.String  `tfsdk:"poll_interval"`
	Version            types.String  `tfsdk:"version"`
	DefinitionJSON     types.String  `tfsdk:"definition_json"`
	ReadCallsPerSecond types.Float64 `tfsdk:"read_calls_per_second"`
}

// replicaAttrTypes is the type of one replica: { connection, region, iam_role }.
var replicaAttrTypes = map[string]attr.Type{"connection": types.StringType, "region": types.StringType, "iam_role": types.StringType}

// attrs are the model's attributes by name, for walking problem paths.
func (m *streamReplicationModel) attrs() map[string]attr.Value {
	return map[string]attr.Value{
		"id": m.ID, "name": m.Name, "description": m.Description, "owner": m.Owner, "stream_arn": m.StreamARN,
		"replicas": m.Replicas, "format": m.Format, "table": m.Table, "insert_mode": m.InsertMode, "key_columns": m.KeyColumns,
		"max_records": m.MaxRecords, "max_bytes": m.MaxBytes, "max_latency": m.MaxLatency, "staging": m.Staging,
		"start_position": m.StartPosition, "start_timestamp": m.StartTimestamp, "poison": m.Poison, "dead_letter": m.DeadLetter,
		"poison_notify": m.PoisonNotify, "poll_interval": m.PollInterval,
	}
}

// str is a string attribute's value; null and unknown are "" (unknown values are checked once
// they are known: problems at unknown paths are dropped, see replicationProblems).
func knownString(v types.String) string {
	if v.IsNull() || v.IsUnknown() {
		return ""
	}
	return v.ValueString()
}

func stringOrDefault(v types.String, def string) string {
	if v.IsNull() {
		return def
	}
	return knownString(v)
}

func int64OrDefault(v types.Int64, def int) int {
	switch {
	case v.IsNull():
		return def
	case v.IsUnknown():
		return 0
	}
	return int(v.ValueInt64())
}

// strs reads a list of strings element by element, so a list with unknown elements converts
// without an error ("" for each unknown element).
func knownStrings(l types.List) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	for _, e := range l.Elements() {
		s, _ := e.(types.String)
		out = append(out, knownString(s))
	}
	return out
}

// replicationFromModel converts a configuration, plan or state into the published document,
// version unset. The schema's defaults are applied to null values, so that a configuration
// (where they are still null) validates as the plan will publish it.
func replicationFromModel(m *streamReplicationModel) *definition.Replication {
	r := &definition.Replication{
		Format:      definition.FormatReplication,
		Name:        knownString(m.Name),
		Description: knownString(m.Description),
		Owner:       knownString(m.Owner),
		StreamARN:   knownString(m.StreamARN),
		Records: definition.Records{
			Format:     knownString(m.Format),
			Table:      knownString(m.Table),
			InsertMode: knownString(m.InsertMode),
			KeyColumns: knownStrings(m.KeyColumns),
		},
		Batch: definition.Batch{
			MaxRecords: int64OrDefault(m.MaxRecords, definition.DefaultBatchMaxRecords),
			MaxBytes:   int64OrDefault(m.MaxBytes, definition.DefaultBatchMaxBytes),
			MaxLatency: stringOrDefault(m.MaxLatency, definition.DefaultBatchMaxLatency),
		},
		Staging:       knownString(m.Staging),
		StartPosition: definition.StartPosition{Type: stringOrDefault(m.StartPosition, defaultStartPosition), Timestamp: knownString(m.StartTimestamp)},
		Poison: definition.Poison{
			Policy:     stringOrDefault(m.Poison, defaultPoisonPolicy),
			DeadLetter: knownString(m.DeadLetter),
			Notify:     knownStrings(m.PoisonNotify),
		},
		PollInterval: stringOrDefault(m.PollInterval, definition.DefaultPollInterval),
	}
	if !m.Replicas.IsNull() && !m.Replicas.IsUnknown() {
		r.Replicas = map[string]definition.Replica{}
		for name, e := range m.Replicas.Elements() {
			var rep definition.Replica
			if obj, ok := e.(types.Object); ok && !obj.IsNull() && !obj.IsUnknown() {
				a := obj.Attributes()
				c, _ := a["connection"].(types.String)
				g, _ := a["region"].(types.String)
				role, _ := a["iam_role"].(types.String)
				rep = definition.Replica{Connection: knownString(c), Region: knownString(g), IAMRole: knownString(role)}
			}
			r.Replicas[name] = rep
		}
	}
	return r
}

// fillReplicationModel sets every attribute of m that the document holds, and
// read_calls_per_second; id, version and definition_json are the caller's.
func fillReplicationModel(m *streamReplicationModel, r *definition.Replication) {
	m.Name = types.StringValue(r.Name)
	m.Description = optionalString(r.Description)
	m.Owner = optionalString(r.Owner)
	m.StreamARN = types.StringValue(r.StreamARN)
	replicas := make(map[string]attr.Value, len(r.Replicas))
	for name, rep := range r.Replicas {
		replicas[name] = types.ObjectValueMust(replicaAttrTypes, map[string]attr.Value{
			"connection": types.StringValue(rep.Connection), "region": types.StringValue(rep.Region), "iam_role": optionalString(rep.IAMRole),
		})
	}
	m.Replicas = types.MapValueMust(types.ObjectType{AttrTypes: replicaAttrTypes}, replicas)
	m.Format = types.StringValue(r.Records.Format)
	m.Table = optionalString(r.Records.Table)
	m.InsertMode = optionalString(r.Records.InsertMode)
	m.KeyColumns = optionalList(r.Records.KeyColumns)
	m.MaxRecords = types.Int64Value(int64(r.Batch.MaxRecords))
	m.MaxBytes = types.Int64Value(int64(r.Batch.MaxBytes))
	m.MaxLatency = types.StringValue(r.Batch.MaxLatency)
	m.Staging = optionalString(r.Staging)
	m.StartPosition = types.StringValue(r.StartPosition.Type)
	m.StartTimestamp = optionalString(r.StartPosition.Timestamp)
	m.Poison = types.StringValue(r.Poison.Policy)
	m.DeadLetter = optionalString(r.Poison.DeadLetter)
	m.PoisonNotify = optionalList(r.Poison.Notify)
	m.PollInterval = types.StringValue(r.PollInterval)
	calls, _ := r.ReadLoad()
	m.ReadCallsPerSecond = types.Float64Value(roundCalls(calls))
}

// optionalList is null for an empty list: the document leaves empty lists out, and the schema
// refuses an empty list, so null is the only spelling of "none" on both sides.
func optionalList(vs []string) types.List {
	if len(vs) == 0 {
		return types.ListNull(types.StringType)
	}
	return stringList(vs)
}

// roundCalls rounds a calls-per-second figure to 3 decimals, for a plan a person reads
// (1 replica polling every 700ms is 1.429, not 1.4285714285714286).
func roundCalls(c float64) float64 { return math.Round(c*1000) / 1000 }

// minPollInterval is the shortest poll interval at which n subscribers stay within a shard's
// shared read limit.
func minPollInterval(n int) time.Duration {
	return time.Duration(n) * time.Second / definition.ShardReadCallsPerSecond
}

// replicationEnumAttrs are the attributes whose allowed values a schema validator checks; the
// same problem from ValidateReplication would only repeat it.
var replicationEnumAttrs = map[string]func() []string{
	"format":         definition.RecordFormats,
	"insert_mode":    definition.ReplicationInsertModes,
	"start_position": definition.StartPositions,
	"poison":         definition.PoisonPolicies,
}

// replicationProblem is a problem of ValidateReplication at its attribute path.
type replicationProblem struct {
	Path   path.Path // empty for a problem of the whole replication
	Detail string
}

// replicationProblems validates m and maps each problem to its attribute. It leaves out
// problems at attributes that are not known yet (checked again when they are), and problems an
// attribute validator reports already (the name, an enum value that is not allowed); every
// other rule, ranges included, is ValidateReplication's alone, so each problem is reported once. A cross-attribute
// rule is reported at an attribute the user set: table, insert_mode and key_columns of a
// statements replication at whichever of them is set.
func replicationProblems(m *streamReplicationModel) []replicationProblem {
	r := replicationFromModel(m)
	var out []replicationProblem
	for _, p := range definition.ValidateReplication(r) {
		if m.unknownAt(p.Path) {
			continue
		}
		root, _, _ := strings.Cut(p.Path, ".")
		if root == "name" {
			continue // validate.Name applies the same rule (definition.ValidateName) and says so
		}
		if allowed, ok := replicationEnumAttrs[root]; ok {
			v, _ := m.attrs()[root].(types.String)
			switch {
			case !v.IsNull() && !v.IsUnknown() && !slices.Contains(allowed(), v.ValueString()):
				continue // the OneOf validator said so
			case v.IsNull() && root == "insert_mode":
				out = append(out, replicationProblem{Path: path.Root(root), Detail: `insert_mode: format = "` + definition.RecordsRows +
					`" needs insert_mode, one of ` + strings.Join(allowed(), ", ") + ": how a row whose key_columns match an existing row is applied"})
				continue
			}
		}
		at := p.Path
		if at == "table" && r.Records.Format == definition.RecordsStatements && m.Table.IsNull() {
			at = "insert_mode"
			if m.InsertMode.IsNull() {
				at = "key_columns"
			}
		}
		detail := p.Message
		if p.Path != "" {
			detail = at + ": " + p.Message
		}
		out = append(out, replicationProblem{Path: replicationAttrPath(at), Detail: detail})
	}
	return out
}

// replicationAttrPath turns a problem path ("replicas.euw1.connection", "key_columns.1") into
// an attribute path; "" is the empty path.
func replicationAttrPath(p string) path.Path {
	if p == "" {
		return path.Empty()
	}
	segs := strings.Split(p, ".")
	out := path.Root(segs[0])
	switch segs[0] {
	case "replicas":
		if len(segs) > 1 {
			out = out.AtMapKey(segs[1])
		}
		if len(segs) > 2 {
			out = out.AtName(segs[2])
		}
	case "key_columns", "poison_notify":
		if len(segs) > 1 {
			if i, err := strconv.Atoi(segs[1]); err == nil {
				out = out.AtListIndex(i)
			}
		}
	}
	return out
}

// unknownAt reports whether the value at a problem path, or one on the way to it, is unknown.
func (m *streamReplicationModel) unknownAt(p string) bool {
	if p == "" {
		return false
	}
	segs := strings.Split(p, ".")
	v, ok := m.attrs()[segs[0]]
	if !ok {
		return false
	}
	for _, s := range segs[1:] {
		if v.IsUnknown() {
			return true
		}
		switch x := v.(type) {
		case types.Map:
			v = x.Elements()[s]
		case types.Object:
			v = x.Attributes()[s]
		case types.List:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(x.Elements()) {
				return false
			}
			v = x.Elements()[i]
		default:
			return false
		}
		if v == nil {
			return false
		}
	}
	return v.IsUnknown()
}
