package usage_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	emrtypes "github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/emr"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/emrstep"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/fakeemr"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

func bothDatabases(t *testing.T, fn func(t *testing.T, db *state.DB)) {
	t.Helper()
	open := func(t *testing.T, u string) *state.DB {
		t.Helper()
		db, err := state.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	t.Run("sqlite", func(t *testing.T) { fn(t, open(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, open(t, acctest.NewPostgresDatabase(t))) })
}

var t0 = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)

// stepClock returns t0 on its first call and t0+d on every later one: the fake EMR creates the
// cluster at its first reading and ends it at a later one, so the cluster runs exactly d.
func stepClock(d time.Duration) func() time.Time {
	var mu sync.Mutex
	calls := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return t0
		}
		return t0.Add(d)
	}
}

// small is 3 m5.xlarge: $0.192 EC2 + $0.048 EMR each, $0.72 an hour in us-east-1.
func small() *definition.EMRTemplate {
	return &definition.EMRTemplate{
		Format: definition.FormatEMRTemplate, Name: "small", ReleaseLabel: "emr-7.2.0",
		InstanceGroups: definition.InstanceGroups{
			Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand},
			Core:   &definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 2, Market: definition.MarketOnDemand},
		},
		ServiceRole: "EMR_DefaultRole_V2", JobFlowRole: "EMR_EC2_DefaultRole", IdleTimeout: "1h", StepConcurrency: 1,
	}
}

func openRegistry(t *testing.T) registry.Registry {
	t.Helper()
	reg, err := registry.Open(context.Background(), (&url.URL{Scheme: "file", Path: filepath.ToSlash(t.TempDir())}).String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := definition.Encode(small())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), registry.EMRTemplateKey("small"), raw); err != nil {
		t.Fatal(err)
	}
	return reg
}

func task(expected string) *activity.Task {
	return &activity.Task{
		Pipeline: "daily", RunID: 42, ActivityID: "transform", Attempt: 1, Log: activity.NewLogBuffer(0),
		Activity: &definition.Activity{EMRStep: &definition.EMRStepActivity{Template: "small", ExpectedDuration: expected,
			Steps: []definition.EMRStep{{Name: "count", Command: []string{"true"}}}}},
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

// TestRecord_AWSClusterAgainstFakeEMR runs an emr_step through the executor against the fake EMR:
// the cluster runs 45 minutes, so its 3 instances ran 8,100 node-seconds, EMR reports 24
// normalized instance hours (3 × xlarge factor 8 × 1 begun hour), and it cost 3 × $0.24 × 0.75 h
// = $0.54; the plan's estimate for expected_duration 30m is $0.36. status shows both, per run
// and per day, and the metrics count them.
func TestRecord_AWSClusterAgainstFakeEMR(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *state.DB) {
		fake, err := fakeemr.Start(fakeemr.Config{Now: stepClock(45 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		client, err := awsclient.New(context.Background(), awsclient.Settings{
			Region: "us-east-1", AccessKey: "test", SecretKey: "test", Endpoints: map[awsclient.Service]string{awsclient.EMR: fake.URL},
			SkipCredentialsValidation: true, MaxRetries: 1, Getenv: func(string) string { return "" },
		})
		if err != nil {
			t.Fatal(err)
		}
		reg := openRegistry(t)
		svc := usage.New(usage.Options{DB: db, EMR: client.EMR(), Registry: reg, Region: "us-east-1", Now: func() time.Time { return t0.Add(time.Hour) }})
		x, err := emrstep.New(emrstep.Options{Mode: emrstep.ModeAWS, Registry: reg, EMR: client.EMR(), PollInterval: time.Millisecond, Usage: svc})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Execute(context.Background(), task("30m")); err != nil {
			t.Fatal(err)
		}
		if calls := fake.Calls(fakeemr.OpListInstances); len(calls) != 1 {
			t.Errorf("ListInstances calls: %d", len(calls))
		}
		rows, err := state.EMRUsageOfRuns(context.Background(), db.Reader(), "daily", []int64{42})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows[42]) != 1 {
			t.Fatalf("rows %+v", rows)
		}
		u := rows[42][0]
		if u.Mode != usage.ModeAWS || u.ClusterID == "" || u.NodeSeconds != 8100 || u.NormalizedInstanceHours == nil || *u.NormalizedInstanceHours != 24 ||
			u.MeasuredMicroUSD == nil || *u.MeasuredMicroUSD != 540000 || u.EstimatedMicroUSD == nil || *u.EstimatedMicroUSD != 360000 || u.Unestimated != "" {
			t.Errorf("usage %+v (nih %v measured %v estimated %v)", u, deref(u.NormalizedInstanceHours), deref(u.MeasuredMicroUSD), deref(u.EstimatedMicroUSD))
		}

		ps := []status.Pipeline{{Name: "daily", Runs: []status.Run{{ID: 42}, {ID: 41}}, LastRun: &status.Run{ID: 42}}}
		if err := usage.Annotate(context.Background(), db, ps, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rc := ps[0].Runs[0].Cost
		if rc == nil || *rc.USD != 0.54 || *rc.EstimatedUSD != 0.36 || rc.Clusters != 1 || rc.NodeSeconds != 8100 || *rc.NormalizedInstanceHours != 24 {
			t.Errorf("run cost %+v", rc)
		}
		if ps[0].Runs[1].Cost != nil || ps[0].LastRun.Cost == nil {
			t.Errorf("run 41 launched nothing: %+v; last run: %+v", ps[0].Runs[1].Cost, ps[0].LastRun.Cost)
		}
		pc := ps[0].Cost
		if pc == nil || *pc.EstimatedPerRun != 0.36 || len(pc.Days) != 1 || pc.Days[0].Day != "2026-12-05" || *pc.Days[0].USD != 0.54 || pc.Days[0].Runs != 1 {
			t.Errorf("pipeline cost %+v", pc)
		}

		m := prometheus.NewRegistry()
		m.MustRegister(svc.Collectors()...)
		if got := gauge(t, m, "sluice_emr_cost_dollars_total"); got != 0.54 {
			t.Errorf("sluice_emr_cost_dollars_total = %v", got)
		}
		if got := gauge(t, m, "sluice_emr_normalized_instance_hours_total"); got != 24 {
			t.Errorf("sluice_emr_normalized_instance_hours_total = %v", got)
		}
		if got := gauge(t, m, "sluice_emr_estimated_cost_dollars_total"); got != 0.36 {
			t.Errorf("sluice_emr_estimated_cost_dollars_total = %v", got)
		}

		// Recording the same attempt again (a runner retrying its recording) replaces the row.
		if err := svc.Record(context.Background(), usage.Launch{Pipeline: "daily", RunID: 42, Activity: "transform", Attempt: 1,
			Template: "small", ClusterID: u.ClusterID}); err != nil {
			t.Fatal(err)
		}
		rows, _ = state.EMRUsageOfRuns(context.Background(), db.Reader(), "daily", []int64{42})
		if len(rows[42]) != 1 || rows[42][0].EstimatedMicroUSD != nil || !strings.Contains(rows[42][0].Unestimated, `activity "transform" has no emr_step.expected_duration`) {
			t.Errorf("re-recorded: %+v", rows[42])
		}
	})
}

// TestRecord_LocalModeRecordsTheStepTime: local mode's steps took 20 seconds on the template's 3
// nodes: 60 node-seconds, billed EMR's one-minute minimum: 3 × $0.24 / 60 = $0.012.
func TestRecord_LocalModeRecordsTheStepTime(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *state.DB) {
		reg := openRegistry(t)
		svc := usage.New(usage.Options{DB: db, Registry: reg, Region: "us-east-1"})
		x, err := emrstep.New(emrstep.Options{Mode: emrstep.ModeLocal, Store: storage.New(nil), WorkDir: t.TempDir(), Usage: svc,
			Now: stepClock(20 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Execute(context.Background(), task("1m")); err != nil {
			t.Fatal(err)
		}
		rows, err := state.EMRUsageOfRuns(context.Background(), db.Reader(), "daily", []int64{42})
		if err != nil {
			t.Fatal(err)
		}
		u := rows[42][0]
		if u.Mode != usage.ModeLocal || u.ClusterID != "" || u.NodeSeconds != 60 || u.NormalizedInstanceHours != nil ||
			deref(u.MeasuredMicroUSD) != 12000 || deref(u.EstimatedMicroUSD) != 12000 {
			t.Errorf("usage %+v measured %v estimated %v", u, deref(u.MeasuredMicroUSD), deref(u.EstimatedMicroUSD))
		}
	})
}

// TestRecord_UnknownPricesAreNamed: a region without prices records the usage with no cost and
// says which price is missing; status shows "unknown", never a number.
func TestRecord_UnknownPricesAreNamed(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *state.DB) {
		svc := usage.New(usage.Options{DB: db, Registry: openRegistry(t), Region: "eu-north-1"})
		if err := svc.Record(context.Background(), usage.Launch{Pipeline: "daily", RunID: 7, Activity: "transform", Attempt: 2,
			Template: "small", ExpectedDuration: "10m", Started: t0, Ended: t0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		ps := []status.Pipeline{{Name: "daily", Runs: []status.Run{{ID: 7}}}}
		if err := usage.Annotate(context.Background(), db, ps, t0); err != nil {
			t.Fatal(err)
		}
		rc := ps[0].Runs[0].Cost
		if rc == nil || rc.USD != nil || rc.EstimatedUSD != nil || rc.NodeSeconds != 900 ||
			!strings.Contains(rc.Unestimated, "ec2.instance_hour of m5.xlarge in eu-north-1") {
			t.Errorf("run cost %+v", rc)
		}
		if d := ps[0].Cost.Days[0]; d.USD != nil {
			t.Errorf("day cost %+v", d)
		}
		// A template that is not published: recorded, with the reason.
		if err := svc.Record(context.Background(), usage.Launch{Pipeline: "daily", RunID: 8, Activity: "a", Attempt: 1,
			Template: "gone", Started: t0, Ended: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		rows, _ := state.EMRUsageOfRuns(context.Background(), db.Reader(), "daily", []int64{8})
		if !strings.Contains(rows[8][0].Unestimated, `EMR template "gone"`) {
			t.Errorf("unpublished template: %+v", rows[8])
		}
	})
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// TestRecord_ClusterLeftByADeadRunnerIsRecorded: attempt 1's runner died with its cluster
// running; attempt 2 terminates it (45 minutes after it started: 8,100 node-seconds, $0.54) and
// records it as attempt 1's, then records its own cluster, which ended at once (billed the
// one-minute minimum, $0.012). The run cost both: $0.552.
func TestRecord_ClusterLeftByADeadRunnerIsRecorded(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *state.DB) {
		fake, err := fakeemr.Start(fakeemr.Config{Now: stepClock(45 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		client, err := awsclient.New(context.Background(), awsclient.Settings{
			Region: "us-east-1", AccessKey: "test", SecretKey: "test", Endpoints: map[awsclient.Service]string{awsclient.EMR: fake.URL},
			SkipCredentialsValidation: true, MaxRetries: 1, Getenv: func(string) string { return "" },
		})
		if err != nil {
			t.Fatal(err)
		}
		in, err := emr.RunJobFlowInput(small(), "sluice-daily-transform-"+activity.RunIDString(42), "")
		if err != nil {
			t.Fatal(err)
		}
		in.Instances.KeepJobFlowAliveWhenNoSteps = aws.Bool(true)
		for k, v := range map[string]string{emrstep.TagPipeline: "daily", emrstep.TagRunID: activity.RunIDString(42), emrstep.TagActivity: "transform", emrstep.TagAttempt: "1"} {
			in.Tags = append(in.Tags, emrtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		left, err := client.EMR().RunJobFlow(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		reg := openRegistry(t)
		svc := usage.New(usage.Options{DB: db, EMR: client.EMR(), Registry: reg, Region: "us-east-1"})
		x, err := emrstep.New(emrstep.Options{Mode: emrstep.ModeAWS, Registry: reg, EMR: client.EMR(), PollInterval: time.Millisecond, Usage: svc})
		if err != nil {
			t.Fatal(err)
		}
		tk := task("45m")
		tk.Attempt = 2
		if _, err := x.Execute(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
		rows, err := state.EMRUsageOfRuns(context.Background(), db.Reader(), "daily", []int64{42})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows[42]) != 2 {
			t.Fatalf("rows %+v", rows[42])
		}
		first, second := rows[42][0], rows[42][1]
		if first.Attempt != 1 || first.ClusterID != aws.ToString(left.JobFlowId) || first.NodeSeconds != 8100 || deref(first.MeasuredMicroUSD) != 540000 {
			t.Errorf("attempt 1's cluster: %+v measured %v", first, deref(first.MeasuredMicroUSD))
		}
		if second.Attempt != 2 || second.ClusterID == first.ClusterID || second.NodeSeconds != 0 || deref(second.MeasuredMicroUSD) != 12000 {
			t.Errorf("attempt 2's cluster: %+v measured %v", second, deref(second.MeasuredMicroUSD))
		}
		ps := []status.Pipeline{{Name: "daily", Runs: []status.Run{{ID: 42}}}}
		if err := usage.Annotate(context.Background(), db, ps, t0); err != nil {
			t.Fatal(err)
		}
		if rc := ps[0].Runs[0].Cost; rc == nil || *rc.USD != 0.552 || rc.Clusters != 2 || *rc.EstimatedUSD != 0.54 {
			t.Errorf("run cost %+v", rc)
		}
	})
}
