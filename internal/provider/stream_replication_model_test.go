package provider

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// nullReplicationModel is a model with every attribute null, as a configuration that sets
// nothing is.
func nullReplicationModel() streamReplicationModel {
	return streamReplicationModel{
		ID: types.StringNull(), Name: types.StringNull(), Description: types.StringNull(), Owner: types.StringNull(),
		StreamARN: types.StringNull(), Replicas: types.MapNull(types.ObjectType{AttrTypes: replicaAttrTypes}),
		Format: types.StringNull(), Table: types.StringNull(), InsertMode: types.StringNull(), KeyColumns: types.ListNull(types.StringType),
		MaxRecords: types.Int64Null(), MaxBytes: types.Int64Null(), MaxLatency: types.StringNull(), Staging: types.StringNull(),
		StartPosition: types.StringNull(), StartTimestamp: types.StringNull(), Poison: types.StringNull(), DeadLetter: types.StringNull(),
		PoisonNotify: types.ListNull(types.StringType), PollInterval: types.StringNull(), Version: types.StringNull(),
		DefinitionJSON: types.StringNull(), ReadCallsPerSecond: types.Float64Null(),
	}
}

func replicaValue(connection, region attr.Value) attr.Value {
	return types.ObjectValueMust(replicaAttrTypes, map[string]attr.Value{"connection": connection, "region": region, "iam_role": types.StringNull()})
}

func replicasValue(m map[string]attr.Value) types.Map {
	return types.MapValueMust(types.ObjectType{AttrTypes: replicaAttrTypes}, m)
}

// minimalModel is a valid statements replication that leaves every defaulted attribute null.
func minimalModel() streamReplicationModel {
	m := nullReplicationModel()
	m.Name = types.StringValue("warehouse")
	m.StreamARN = types.StringValue("arn:aws:kinesis:us-east-1:123456789012:stream/changes")
	m.Replicas = replicasValue(map[string]attr.Value{
		"a": replicaValue(types.StringValue("replica_a"), types.StringValue("us-east-1")),
		"b": replicaValue(types.StringValue("replica_b"), types.StringValue("eu-west-1")),
	})
	m.Format = types.StringValue(definition.RecordsStatements)
	return m
}

func TestReplicationFromModel_NullsTakeTheSchemaDefaults(t *testing.T) {
	m := minimalModel()
	got := replicationFromModel(&m)
	want := &definition.Replication{
		Format: definition.FormatReplication, Name: "warehouse", StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
		Replicas: map[string]definition.Replica{
			"a": {Connection: "replica_a", Region: "us-east-1"},
			"b": {Connection: "replica_b", Region: "eu-west-1"},
		},
		Records:       definition.Records{Format: definition.RecordsStatements},
		Batch:         definition.Batch{MaxRecords: 500, MaxBytes: 1 << 20, MaxLatency: "1s"},
		StartPosition: definition.StartPosition{Type: definition.StartTrimHorizon},
		Poison:        definition.Poison{Policy: definition.PoisonStop},
		PollInterval:  "1s",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("replicationFromModel =\n%+v\nwant\n%+v", got, want)
	}
	if probs := definition.ValidateReplication(got); len(probs) > 0 {
		t.Fatalf("the defaults do not validate: %v", definition.Problems(probs))
	}
}

// Every attribute survives document -> state -> document: what import reads is what the
// configuration publishes.
func TestReplicationModel_FillThenConvertIsTheSameDocument(t *testing.T) {
	full := &definition.Replication{
		Format: definition.FormatReplication, Name: "clicks", Description: "<b>clicks</b>", Owner: "data@acme.example",
		StreamARN: "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/clicks",
		Replicas:  map[string]definition.Replica{"use1": {Connection: "a", Region: "us-east-1"}, "euw1": {Connection: "b", Region: "eu-west-1"}},
		Records:   definition.Records{Format: definition.RecordsRows, Table: "analytics.clicks", InsertMode: definition.InsertKeepExisting, KeyColumns: []string{"id", "day"}},
		Batch:     definition.Batch{MaxRecords: 10000, MaxBytes: 64 << 20, MaxLatency: "250ms"},
		Staging:   "s3://acme/staging/",
		StartPosition: definition.StartPosition{
			Type: definition.StartAtTimestamp, Timestamp: "2026-11-18T00:00:00+01:00",
		},
		Poison:       definition.Poison{Policy: definition.PoisonDeadLetter, DeadLetter: "file:///var/dead", Notify: []string{"https://hooks.example.com/x"}},
		PollInterval: "200ms",
	}
	minimal := minimalModel()
	for name, r := range map[string]*definition.Replication{"every attribute": full, "defaults": replicationFromModel(&minimal)} {
		t.Run(name, func(t *testing.T) {
			m := nullReplicationModel()
			fillReplicationModel(&m, r)
			if got := replicationFromModel(&m); !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip =\n%+v\nwant\n%+v", got, r)
			}
		})
	}
	m := nullReplicationModel()
	fillReplicationModel(&m, full)
	if m.ReadCallsPerSecond.ValueFloat64() != 10 {
		t.Errorf("read_calls_per_second of 2 replicas every 200ms = %v, want 10", m.ReadCallsPerSecond)
	}
	if !m.Replicas.Elements()["euw1"].Equal(replicaValue(types.StringValue("b"), types.StringValue("eu-west-1"))) {
		t.Errorf("replicas = %v", m.Replicas)
	}
	// Unset optional values read back as null, never as "" or []: the schema refuses both, so a
	// configuration that leaves them out has no diff.
	fillReplicationModel(&m, replicationFromModel(&minimal))
	for name, v := range map[string]attr.Value{
		"description": m.Description, "owner": m.Owner, "table": m.Table, "insert_mode": m.InsertMode, "key_columns": m.KeyColumns,
		"staging": m.Staging, "start_timestamp": m.StartTimestamp, "dead_letter": m.DeadLetter, "poison_notify": m.PoisonNotify,
	} {
		if !v.IsNull() {
			t.Errorf("%s = %v, want null", name, v)
		}
	}
}

// problemsOf runs replicationProblems on the minimal model after edit and returns the problems
// as "path | detail".
func problemsOf(edit func(m *streamReplicationModel)) []string {
	m := minimalModel()
	edit(&m)
	var out []string
	for _, p := range replicationProblems(&m) {
		out = append(out, p.Path.String()+" | "+p.Detail)
	}
	return out
}

func TestReplicationProblems_MapToTheAttributeTheUserSet(t *testing.T) {
	rows := func(m *streamReplicationModel) { m.Format = types.StringValue(definition.RecordsRows) }
	tests := []struct {
		name string
		edit func(m *streamReplicationModel)
		want []string
	}{
		{"valid", func(*streamReplicationModel) {}, nil},
		{"bad arn", func(m *streamReplicationModel) { m.StreamARN = types.StringValue("changes") }, []string{
			`stream_arn | stream_arn: "changes" is not a Kinesis stream ARN such as "arn:aws:kinesis:us-east-1:123456789012:stream/changes"`,
		}},
		{"connection shared by two replicas", func(m *streamReplicationModel) {
			m.Replicas = replicasValue(map[string]attr.Value{
				"a": replicaValue(types.StringValue("w"), types.StringValue("us-east-1")),
				"b": replicaValue(types.StringValue("W"), types.StringValue("us-east-1")),
			})
		}, []string{
			`replicas["b"].connection | replicas.b.connection: connection "W" is also replica "a"'s: two replicas on one database would apply every change twice`,
		}},
		{"statements with key_columns only", func(m *streamReplicationModel) { m.KeyColumns = stringList([]string{"id"}) }, []string{
			`key_columns | key_columns: table, insert_mode and key_columns apply only to format = "rows": statements carry their own SQL`,
		}},
		{"statements with insert_mode", func(m *streamReplicationModel) { m.InsertMode = types.StringValue("APPEND") }, []string{
			`insert_mode | insert_mode: table, insert_mode and key_columns apply only to format = "rows": statements carry their own SQL`,
		}},
		{"rows without insert_mode", func(m *streamReplicationModel) { rows(m); m.Table = types.StringValue("a.b") }, []string{
			`insert_mode | insert_mode: format = "rows" needs insert_mode, one of APPEND, KEEP_EXISTING, OVERWRITE_EXISTING: how a row whose key_columns match an existing row is applied`,
		}},
		// The OneOf validators report a value that is not allowed; the problem is not repeated.
		{"TRUNCATE", func(m *streamReplicationModel) {
			rows(m)
			m.Table, m.InsertMode = types.StringValue("a.b"), types.StringValue(definition.InsertTruncate)
		}, nil},
		{"unknown format value", func(m *streamReplicationModel) { m.Format = types.StringValue("csv") }, nil},
		{"unknown poison value", func(m *streamReplicationModel) { m.Poison = types.StringValue("skip") }, nil},
		{"notify target", func(m *streamReplicationModel) {
			m.PoisonNotify = stringList([]string{"https://hooks.example.com/x", "ops@acme.example"})
		}, []string{
			`poison_notify[1] | poison_notify.1: "ops@acme.example" is neither an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC) nor an http(s) URL`,
		}},
		// The name validator applies the same rule; ranges are the domain's alone: each once.
		{"name", func(m *streamReplicationModel) { m.Name = types.StringValue("..") }, nil},
		{"max_records", func(m *streamReplicationModel) { m.MaxRecords = types.Int64Value(20000) }, []string{
			`max_records | max_records: must be between 1 and 10000 (the most one GetRecords call returns), got 20000`,
		}},
		{"no replicas", func(m *streamReplicationModel) { m.Replicas = replicasValue(map[string]attr.Value{}) }, []string{
			`replicas | replicas: at least one replica is required`,
		}},
		{"key column twice", func(m *streamReplicationModel) {
			rows(m)
			m.Table, m.InsertMode, m.KeyColumns = types.StringValue("a.b"), types.StringValue(definition.InsertKeepExisting), stringList([]string{"id", "id"})
		}, []string{`key_columns[1] | key_columns.1: column "id" is listed twice`}},
		// Values known only after apply are checked when they are known.
		{"unknown stream_arn", func(m *streamReplicationModel) { m.StreamARN = types.StringUnknown() }, nil},
		{"unknown replicas", func(m *streamReplicationModel) {
			m.Replicas = types.MapUnknown(types.ObjectType{AttrTypes: replicaAttrTypes})
		}, nil},
		{"unknown connection", func(m *streamReplicationModel) {
			m.Replicas = replicasValue(map[string]attr.Value{"a": replicaValue(types.StringUnknown(), types.StringValue("us-east-1"))})
		}, nil},
		{"unknown key column", func(m *streamReplicationModel) {
			rows(m)
			m.Table, m.InsertMode = types.StringValue("a.b"), types.StringValue(definition.InsertKeepExisting)
			m.KeyColumns = types.ListValueMust(types.StringType, []attr.Value{types.StringUnknown()})
		}, nil},
		{"unknown start_position", func(m *streamReplicationModel) {
			m.StartPosition, m.StartTimestamp = types.StringUnknown(), types.StringValue("2026-11-18T00:00:00Z")
		}, nil},
		// ... but a known value beside an unknown one is still checked.
		{"unknown arn, bad region", func(m *streamReplicationModel) {
			m.StreamARN = types.StringUnknown()
			m.Replicas = replicasValue(map[string]attr.Value{"a": replicaValue(types.StringValue("a"), types.StringValue("Europe"))})
		}, []string{`replicas["a"].region | replicas.a.region: "Europe" is not an AWS region such as "us-east-1"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(tc.edit)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestReplicationAttrPath(t *testing.T) {
	for in, want := range map[string]path.Path{
		"":                         path.Empty(),
		"stream_arn":               path.Root("stream_arn"),
		"replicas":                 path.Root("replicas"),
		"replicas.euw1":            path.Root("replicas").AtMapKey("euw1"),
		"replicas.euw1.connection": path.Root("replicas").AtMapKey("euw1").AtName("connection"),
		"key_columns.2":            path.Root("key_columns").AtListIndex(2),
		"poison_notify.0":          path.Root("poison_notify").AtListIndex(0),
		"start_timestamp":          path.Root("start_timestamp"),
	} {
		if got := replicationAttrPath(in); !got.Equal(want) {
			t.Errorf("replicationAttrPath(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMinPollInterval_KeepsTheReadLoadAtTheLimit(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 200 * time.Millisecond, 5: time.Second, 6: 1200 * time.Millisecond, 12: 2400 * time.Millisecond} {
		got := minPollInterval(n)
		if got != want {
			t.Errorf("minPollInterval(%d) = %s, want %s", n, got, want)
		}
		r := definition.Replication{Replicas: map[string]definition.Replica{}, PollInterval: got.String()}
		for i := range n {
			r.Replicas[fmt.Sprint(i)] = definition.Replica{}
		}
		if calls, over := r.ReadLoad(); over || roundCalls(calls) != definition.ShardReadCallsPerSecond {
			t.Errorf("%d replicas every %s: %v calls/s, over %v; want exactly the limit", n, got, calls, over)
		}
	}
}

// modifyPlan runs the resource's ModifyPlan on a create of m, as Terraform would.
func modifyPlan(t *testing.T, m streamReplicationModel) (streamReplicationModel, diag.Diagnostics) {
	t.Helper()
	ctx := context.Background()
	r := &streamReplicationResource{}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	// The computed attributes are null in m: the configuration and the plan before ModifyPlan.
	plan := tfsdk.Plan{Schema: sr.Schema}
	if d := plan.Set(ctx, &m); d.HasError() {
		t.Fatal(d)
	}
	config := tfsdk.Config{Schema: sr.Schema, Raw: plan.Raw}
	state := tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
	resp := resource.ModifyPlanResponse{Plan: plan}
	r.ModifyPlan(ctx, resource.ModifyPlanRequest{Config: config, Plan: plan, State: state}, &resp)
	var out streamReplicationModel
	resp.Diagnostics.Append(resp.Plan.Get(ctx, &out)...)
	return out, resp.Diagnostics
}

// withReplicas sets n replicas, r0 ... r(n-1), and the poll interval.
func withReplicas(n int, poll string) streamReplicationModel {
	m := minimalModel()
	reps := map[string]attr.Value{}
	for i := range n {
		reps[fmt.Sprintf("r%d", i)] = replicaValue(types.StringValue(fmt.Sprintf("c%d", i)), types.StringValue("us-east-1"))
	}
	m.Replicas = replicasValue(reps)
	m.MaxRecords, m.MaxBytes = types.Int64Value(definition.DefaultBatchMaxRecords), types.Int64Value(definition.DefaultBatchMaxBytes)
	m.MaxLatency, m.PollInterval = types.StringValue("1s"), types.StringValue(poll)
	m.StartPosition, m.Poison = types.StringValue(defaultStartPosition), types.StringValue(defaultPoisonPolicy)
	return m
}

// Over 5 GetRecords calls per second per shard, the plan warns at poll_interval with the figure,
// the limit and the fix; at exactly 5 it does not.
func TestStreamReplication_ModifyPlanWarnsOverTheShardReadLimit(t *testing.T) {
	plan, diags := modifyPlan(t, withReplicas(3, "500ms"))
	if diags.HasError() {
		t.Fatal(diags)
	}
	if plan.ReadCallsPerSecond.ValueFloat64() != 6 {
		t.Errorf("read_calls_per_second = %v, want 6", plan.ReadCallsPerSecond)
	}
	if !strings.HasPrefix(plan.Version.ValueString(), "sha256:") || !strings.Contains(plan.DefinitionJSON.ValueString(), `"poll_interval":"500ms"`) {
		t.Errorf("version %v, definition_json %v", plan.Version, plan.DefinitionJSON)
	}
	warnings := diags.Warnings()
	if len(warnings) != 1 {
		t.Fatalf("want one warning, got %v", diags)
	}
	w, ok := warnings[0].(diag.DiagnosticWithPath)
	if !ok || !w.Path().Equal(path.Root("poll_interval")) {
		t.Errorf("warning is not at poll_interval: %v", warnings[0])
	}
	const want = `Stream replication "warehouse": with 3 replicas polling every 500ms, the subscribers make 6 GetRecords calls per second on every ` +
		`shard of arn:aws:kinesis:us-east-1:123456789012:stream/changes, over Kinesis's limit of 5 per shard (shared by all readers of the ` +
		`stream without enhanced fan-out, with 2 MB/s). Reads would be throttled and every replica would lag. Set poll_interval to 600ms ` +
		`or more, or serve fewer replicas from this stream.`
	if got := warnings[0].Detail(); got != want {
		t.Errorf("warning\n%s\nwant\n%s", got, want)
	}

	// One replica polling every 100ms is over the limit alone.
	_, diags = modifyPlan(t, withReplicas(1, "100ms"))
	if w := diags.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0].Detail(), `Stream replication "warehouse": with 1 replica polling every 100ms, `+
		`the subscribers make 10 GetRecords calls per second`) || !strings.Contains(w[0].Detail(), "Set poll_interval to 200ms or more") {
		t.Errorf("1 replica every 100ms: %v", diags)
	}

	plan, diags = modifyPlan(t, withReplicas(5, "1s"))
	if len(diags) != 0 || plan.ReadCallsPerSecond.ValueFloat64() != 5 {
		t.Errorf("5 replicas every 1s: read_calls_per_second %v, diagnostics %v; want 5 and none", plan.ReadCallsPerSecond, diags)
	}
}
