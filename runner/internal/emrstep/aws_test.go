package emrstep_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/emrstep"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/fakeemr"
)

func template() *definition.EMRTemplate {
	return &definition.EMRTemplate{
		Format:       definition.FormatEMRTemplate,
		Name:         "spark_small",
		ReleaseLabel: "emr-7.2.0",
		Applications: []string{"Hadoop", "Spark"},
		InstanceGroups: definition.InstanceGroups{
			Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand},
			Core:   &definition.InstanceGroup{InstanceType: "r5.2xlarge", Count: 2, Market: definition.MarketSpot, BidPrice: "0.25"},
		},
		ServiceRole:     "EMR_DefaultRole_V2",
		JobFlowRole:     "EMR_EC2_DefaultRole",
		LogURI:          "s3://acme-emr/logs/",
		SubnetIDs:       []string{"subnet-0aaa", "subnet-0bbb"},
		IdleTimeout:     "1h",
		StepConcurrency: 1,
		Tags:            map[string]string{"team": "data", TagRunIDForTest: "from-template"},
	}
}

// TagRunIDForTest is a template tag the runner must override with the run's own value.
const TagRunIDForTest = emrstep.TagRunID

type awsEnv struct {
	fake *fakeemr.Server
	exec activity.Executor
	emr  *awsemr.Client
}

func startAWS(t *testing.T, cfg fakeemr.Config) *awsEnv {
	t.Helper()
	fake, err := fakeemr.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	client, err := awsclient.New(context.Background(), awsclient.Settings{
		Region: "us-east-1", AccessKey: "test", SecretKey: "test",
		Endpoints:                 map[awsclient.Service]string{awsclient.EMR: fake.URL},
		SkipCredentialsValidation: true, MaxRetries: 1, Getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reg, err := registry.Open(context.Background(), (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := definition.Encode(template())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(context.Background(), registry.EMRTemplateKey("spark_small"), raw); err != nil {
		t.Fatal(err)
	}
	x, err := emrstep.New(emrstep.Options{Mode: emrstep.ModeAWS, Registry: reg, EMR: client.EMR(), PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &awsEnv{fake: fake, exec: x, emr: client.EMR()}
}

func task(a *definition.EMRStepActivity) *activity.Task {
	return &activity.Task{
		Pipeline: "daily", RunID: 42, ActivityID: "transform", Attempt: 1,
		Activity: &definition.Activity{EMRStep: a}, Log: activity.NewLogBuffer(0),
	}
}

func logOf(t *activity.Task) string { return t.Log.(*activity.LogBuffer).String() }

func allSteps() []definition.EMRStep {
	return []definition.EMRStep{
		{Name: "extract", Command: []string{"hive", "-f", "s3://acme/q.hql"}},
		{Name: "count", ActionOnFailure: definition.ActionContinue, Streaming: &definition.StreamingStep{
			Mapper: "parse_log.py", Reducer: "aggregate", Input: []string{"s3://acme/in/a", "s3://acme/in/b"},
			Output: "s3://acme/out/", Files: []string{"s3://acme/parse_log.py", "s3://acme/lib.py"},
		}},
		{Name: "spark", Spark: []string{"--deploy-mode", "cluster", "s3://acme/job.py"}},
		{Name: "jar", Jar: &definition.JarStep{Jar: "s3://acme/job.jar", MainClass: "com.acme.Main", Args: []string{"--day", "2024-01-01"}}},
	}
}

func TestAWS_Template_StartsClusterRunsStepsAndTerminates(t *testing.T) {
	env := startAWS(t, fakeemr.Config{})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()})
	res, err := env.exec.Execute(context.Background(), tk)
	if err != nil {
		t.Fatalf("Execute: %v\nlog:\n%s", err, logOf(tk))
	}

	reqs, err := env.fake.RunJobFlowRequests()
	if err != nil || len(reqs) != 1 {
		t.Fatalf("RunJobFlow requests: %d, %v", len(reqs), err)
	}
	if n := len(env.fake.Calls(fakeemr.OpListClusters)); n != 0 {
		t.Errorf("%d ListClusters calls by a first attempt, want 0: no earlier attempt can have left a cluster", n)
	}
	in := reqs[0]
	if got := aws.ToString(in.Name); got != "sluice-daily-transform-42" {
		t.Errorf("cluster name %q", got)
	}
	inst := in.Instances
	if aws.ToString(inst.Ec2SubnetId) != "subnet-0aaa" || aws.ToBool(inst.KeepJobFlowAliveWhenNoSteps) {
		t.Errorf("subnet %q keepAlive %v, want subnet-0aaa and false", aws.ToString(inst.Ec2SubnetId), aws.ToBool(inst.KeepJobFlowAliveWhenNoSteps))
	}
	var groups []string
	for _, g := range inst.InstanceGroups {
		groups = append(groups, fmt.Sprintf("%s/%s/%s/%sx%d", g.InstanceRole, aws.ToString(g.InstanceType), g.Market, aws.ToString(g.BidPrice), aws.ToInt32(g.InstanceCount)))
	}
	if want := []string{"MASTER/m5.xlarge/ON_DEMAND/x1", "CORE/r5.2xlarge/SPOT/0.25x2"}; !slices.Equal(groups, want) {
		t.Errorf("instance groups %v, want %v", groups, want)
	}
	if in.AutoTerminationPolicy == nil || aws.ToInt64(in.AutoTerminationPolicy.IdleTimeout) != 3600 {
		t.Errorf("auto-termination %+v, want idle timeout 3600", in.AutoTerminationPolicy)
	}
	tags := map[string]string{}
	for _, tag := range in.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	wantTags := map[string]string{"team": "data", "sluice:pipeline": "daily", "sluice:run_id": "42", "sluice:activity": "transform", "sluice:attempt": "1"}
	if len(tags) != len(wantTags) {
		t.Errorf("tags %v, want %v", tags, wantTags)
	}
	for k, v := range wantTags {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q (all: %v)", k, tags[k], v, tags)
		}
	}

	type stepWant struct{ name, action, jar, main, args string }
	want := []stepWant{
		{"extract", "TERMINATE_CLUSTER", "command-runner.jar", "", "hive -f s3://acme/q.hql"},
		{"count", "CONTINUE", "command-runner.jar", "", "hadoop-streaming -files s3://acme/parse_log.py,s3://acme/lib.py -mapper parse_log.py " +
			"-reducer aggregate -input s3://acme/in/a -input s3://acme/in/b -output s3://acme/out/"},
		{"spark", "TERMINATE_CLUSTER", "command-runner.jar", "", "spark-submit --deploy-mode cluster s3://acme/job.py"},
		{"jar", "TERMINATE_CLUSTER", "s3://acme/job.jar", "com.acme.Main", "--day 2024-01-01"},
	}
	if len(in.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(in.Steps), len(want))
	}
	for i, s := range in.Steps {
		got := stepWant{aws.ToString(s.Name), string(s.ActionOnFailure), aws.ToString(s.HadoopJarStep.Jar),
			aws.ToString(s.HadoopJarStep.MainClass), strings.Join(s.HadoopJarStep.Args, " ")}
		if got != want[i] {
			t.Errorf("step %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}

	ids := env.fake.ClusterIDs()
	if len(ids) != 1 {
		t.Fatalf("clusters %v", ids)
	}
	assertTerminated(t, env.fake, ids[0])
	if res.Details["cluster_id"] != ids[0] || res.Details["subnet"] != "subnet-0aaa" {
		t.Errorf("details %v", res.Details)
	}
	steps, _ := res.Details["steps"].([]map[string]string)
	if len(steps) != 4 {
		t.Fatalf("step details %v", res.Details["steps"])
	}
	log := logOf(tk)
	for i, s := range steps {
		if s["name"] != want[i].name || s["state"] != "COMPLETED" || !strings.HasPrefix(s["id"], "s-") {
			t.Errorf("step detail %d: %v", i, s)
		}
		if !strings.Contains(log, s["id"]) {
			t.Errorf("log does not name step id %s:\n%s", s["id"], log)
		}
	}
	if !strings.Contains(log, ids[0]) {
		t.Errorf("log does not name cluster %s:\n%s", ids[0], log)
	}
}

// assertTerminated checks that the runner called TerminateJobFlows for the cluster.
func assertTerminated(t *testing.T, fake *fakeemr.Server, id string) {
	t.Helper()
	for _, c := range fake.Calls(fakeemr.OpTerminateJobFlows) {
		if strings.Contains(string(c.Body), `"`+id+`"`) && c.Err == "" {
			state, _ := fake.ClusterState(id)
			if state != types.ClusterStateTerminating && state != types.ClusterStateTerminated && state != types.ClusterStateTerminatedWithErrors {
				t.Errorf("cluster %s is %s after TerminateJobFlows", id, state)
			}
			return
		}
	}
	t.Errorf("cluster %s was not terminated; calls: %v", id, fake.Calls(fakeemr.OpTerminateJobFlows))
}

func subnetsTried(t *testing.T, fake *fakeemr.Server) []string {
	t.Helper()
	reqs, err := fake.RunJobFlowRequests()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range reqs {
		out = append(out, aws.ToString(r.Instances.Ec2SubnetId))
	}
	return out
}

func TestAWS_CapacityFallback_NextSubnetAfterStartupFailure(t *testing.T) {
	env := startAWS(t, fakeemr.Config{CapacityFailures: map[string]fakeemr.CapacityFailure{"subnet-0aaa": fakeemr.FailAtStartup}})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:1]})
	res, err := env.exec.Execute(context.Background(), tk)
	if err != nil {
		t.Fatalf("Execute: %v\nlog:\n%s", err, logOf(tk))
	}
	if got := subnetsTried(t, env.fake); !slices.Equal(got, []string{"subnet-0aaa", "subnet-0bbb"}) {
		t.Errorf("subnets tried %v", got)
	}
	if res.Details["subnet"] != "subnet-0bbb" {
		t.Errorf("details %v", res.Details)
	}
	for _, id := range env.fake.ClusterIDs() {
		assertTerminated(t, env.fake, id)
	}
	if log := logOf(tk); !strings.Contains(log, "trying subnet subnet-0bbb") || !strings.Contains(log, "INTERNAL_ERROR_EC2_INSUFFICIENT_CAPACITY_AZ") {
		t.Errorf("log does not show the fallback:\n%s", log)
	}
}

func TestAWS_CapacityFallback_NextSubnetAfterRunJobFlowError(t *testing.T) {
	env := startAWS(t, fakeemr.Config{CapacityFailures: map[string]fakeemr.CapacityFailure{"subnet-0aaa": fakeemr.FailAtRunJobFlow}})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:1]})
	res, err := env.exec.Execute(context.Background(), tk)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if got := subnetsTried(t, env.fake); !slices.Equal(got, []string{"subnet-0aaa", "subnet-0bbb"}) {
		t.Errorf("subnets tried %v", got)
	}
	if ids := env.fake.ClusterIDs(); len(ids) != 1 || res.Details["cluster_id"] != ids[0] || res.Details["subnet"] != "subnet-0bbb" {
		t.Errorf("clusters %v, details %v", ids, res.Details)
	}
}

func TestAWS_CapacityFallback_AllSubnetsFailErrorNamesEach(t *testing.T) {
	env := startAWS(t, fakeemr.Config{CapacityFailures: map[string]fakeemr.CapacityFailure{
		"subnet-0aaa": fakeemr.FailAtRunJobFlow, "subnet-0bbb": fakeemr.FailAtStartup,
	}})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:1]})
	_, err := env.exec.Execute(context.Background(), tk)
	if err == nil {
		t.Fatal("Execute succeeded without capacity")
	}
	msg := err.Error()
	for _, want := range []string{`"spark_small"`, "subnet subnet-0aaa: ValidationException", "InsufficientInstanceCapacity",
		"subnet subnet-0bbb: INTERNAL_ERROR", "INTERNAL_ERROR_EC2_INSUFFICIENT_CAPACITY_AZ", `pipeline "daily" activity "transform"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if activity.IsPermanent(err) {
		t.Error("a capacity shortage is not permanent: capacity comes back")
	}
	ids := env.fake.ClusterIDs()
	if len(ids) != 1 {
		t.Fatalf("clusters %v", ids)
	}
	assertTerminated(t, env.fake, ids[0])
}

func TestAWS_FailingStep_ErrorHasFailureDetailsAndClusterIsTerminated(t *testing.T) {
	env := startAWS(t, fakeemr.Config{FailingSteps: map[string]types.FailureDetails{"spark": {
		Reason: aws.String("java.lang.OutOfMemoryError: Java heap space"), Message: aws.String("Step failed with exitCode 1"),
		LogFile: aws.String("s3://acme-emr/logs/j-X/steps/s-X/stderr.gz"),
	}}})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()})
	_, err := env.exec.Execute(context.Background(), tk)
	if err == nil {
		t.Fatal("Execute succeeded with a failing step")
	}
	msg := err.Error()
	for _, want := range []string{`EMR step "spark"`, "FAILED", "reason: java.lang.OutOfMemoryError: Java heap space",
		"message: Step failed with exitCode 1", "log file: s3://acme-emr/logs/j-X/steps/s-X/stderr.gz"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if activity.IsPermanent(err) {
		t.Error("a failed step is retryable")
	}
	ids := env.fake.ClusterIDs()
	if len(ids) != 1 {
		t.Fatalf("clusters %v", ids)
	}
	assertTerminated(t, env.fake, ids[0])
	if st := env.fake.StepStates(ids[0]); st["extract"] != types.StepStateCompleted || st["jar"] != types.StepStateCancelled {
		t.Errorf("step states %v", st)
	}
}

// runUntilRunning starts Execute in the background and returns once the named step runs.
func runUntilRunning(t *testing.T, ctx context.Context, env *awsEnv, tk *activity.Task, clusterID func() string, step string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := env.exec.Execute(ctx, tk)
		done <- err
	}()
	for {
		if id := clusterID(); id != "" && env.fake.StepStates(id)[step] == types.StepStateRunning {
			return done
		}
		select {
		case err := <-done:
			t.Fatalf("Execute returned before step %s ran: %v", step, err)
		case <-time.After(time.Millisecond):
		}
	}
}

func firstCluster(fake *fakeemr.Server) func() string {
	return func() string {
		if ids := fake.ClusterIDs(); len(ids) > 0 {
			return ids[0]
		}
		return ""
	}
}

func TestAWS_CancelMidRun_TerminatesCluster(t *testing.T) {
	env := startAWS(t, fakeemr.Config{StepTicks: map[string]int{"extract": -1}})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:2]})
	ctx, cancel := context.WithCancel(context.Background())
	done := runUntilRunning(t, ctx, env, tk, firstCluster(env.fake), "extract")
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	assertTerminated(t, env.fake, env.fake.ClusterIDs()[0])
}

func TestAWS_TimeoutMidRun_TerminatesCluster(t *testing.T) {
	env := startAWS(t, fakeemr.Config{StepTicks: map[string]int{"extract": -1}})
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:1]})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := env.exec.Execute(ctx, tk)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	ids := env.fake.ClusterIDs()
	if len(ids) != 1 {
		t.Fatalf("clusters %v", ids)
	}
	assertTerminated(t, env.fake, ids[0])
}

func TestAWS_ExistingCluster_AddsStepsAndNeverTerminates(t *testing.T) {
	env := startAWS(t, fakeemr.Config{})
	id := env.fake.AddCluster("shared")
	tk := task(&definition.EMRStepActivity{ClusterID: id, Steps: allSteps()[:2]})
	res, err := env.exec.Execute(context.Background(), tk)
	if err != nil {
		t.Fatalf("Execute: %v\nlog:\n%s", err, logOf(tk))
	}
	if n := len(env.fake.Calls(fakeemr.OpRunJobFlow, fakeemr.OpTerminateJobFlows, fakeemr.OpCancelSteps)); n != 0 {
		t.Errorf("%d RunJobFlow/TerminateJobFlows/CancelSteps calls on an existing cluster", n)
	}
	adds := env.fake.Calls(fakeemr.OpAddJobFlowSteps)
	if len(adds) != 1 || !strings.Contains(string(adds[0].Body), `"ActionOnFailure":"CONTINUE"`) ||
		strings.Contains(string(adds[0].Body), "TERMINATE") {
		t.Errorf("AddJobFlowSteps calls %v: want one, with CONTINUE as the default action", adds)
	}
	if state, _ := env.fake.ClusterState(id); state != types.ClusterStateWaiting {
		t.Errorf("cluster is %s, want WAITING", state)
	}
	if res.Details["cluster_id"] != id {
		t.Errorf("details %v", res.Details)
	}
	if st := env.fake.StepStates(id); st["extract"] != types.StepStateCompleted || st["count"] != types.StepStateCompleted {
		t.Errorf("steps %v", st)
	}
}

func TestAWS_ExistingCluster_CancelCancelsOwnStepsOnly(t *testing.T) {
	env := startAWS(t, fakeemr.Config{StepTicks: map[string]int{"extract": -1}})
	id := env.fake.AddCluster("shared")
	tk := task(&definition.EMRStepActivity{ClusterID: id, Steps: allSteps()[:2]})
	ctx, cancel := context.WithCancel(context.Background())
	done := runUntilRunning(t, ctx, env, tk, func() string { return id }, "extract")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := len(env.fake.Calls(fakeemr.OpTerminateJobFlows)); n != 0 {
		t.Errorf("%d TerminateJobFlows calls on an existing cluster", n)
	}
	cancels := env.fake.Calls(fakeemr.OpCancelSteps)
	if len(cancels) != 1 {
		t.Fatalf("CancelSteps calls %v", cancels)
	}
	st := env.fake.StepStates(id)
	if st["count"] != types.StepStateCancelled || (st["extract"] != types.StepStateCancelPending && st["extract"] != types.StepStateCancelled) {
		t.Errorf("steps after cancel %v", st)
	}
}

func TestAWS_TemplateNotPublished_IsPermanent(t *testing.T) {
	env := startAWS(t, fakeemr.Config{})
	_, err := env.exec.Execute(context.Background(), task(&definition.EMRStepActivity{Template: "missing", Steps: allSteps()[:1]}))
	if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), `EMR template "missing" is not published`) {
		t.Fatalf("error %v, want a permanent error naming the template", err)
	}
	if n := len(env.fake.Calls()); n != 0 {
		t.Errorf("%d EMR calls", n)
	}
}

func TestAWS_StepWithTwoKinds_IsPermanent(t *testing.T) {
	env := startAWS(t, fakeemr.Config{})
	bad := definition.EMRStep{Name: "both", Command: []string{"true"}, Spark: []string{"x.py"}}
	_, err := env.exec.Execute(context.Background(), task(&definition.EMRStepActivity{Template: "spark_small", Steps: []definition.EMRStep{bad}}))
	if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), `step "both"`) {
		t.Fatalf("error %v, want a permanent error naming the step", err)
	}
}

func TestNew_RejectsIncompleteOptions(t *testing.T) {
	client := awsemr.New(awsemr.Options{Region: "us-east-1"})
	cases := map[string]emrstep.Options{
		"unknown mode":     {Mode: "cloud"},
		"aws without EMR":  {Mode: emrstep.ModeAWS},
		"aws without reg":  {Mode: emrstep.ModeAWS, EMR: client},
		"local with no io": {Mode: emrstep.ModeLocal},
	}
	for name, o := range cases {
		if _, err := emrstep.New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// leftRunning starts a cluster as a runner that died during attempt `attempt` of run `run`
// would have left it: the task's name, its tags, one step that never ends.
func leftRunning(t *testing.T, env *awsEnv, run, attempt string) string {
	t.Helper()
	out, err := env.emr.RunJobFlow(context.Background(), &awsemr.RunJobFlowInput{
		Name: aws.String("sluice-daily-transform-42"), ReleaseLabel: aws.String("emr-7.1.0"),
		ServiceRole: aws.String("EMR_DefaultRole"), JobFlowRole: aws.String("EMR_EC2_DefaultRole"),
		Instances: &types.JobFlowInstancesConfig{InstanceGroups: []types.InstanceGroupConfig{{InstanceRole: types.InstanceRoleTypeMaster, InstanceType: aws.String("m5.xlarge"), InstanceCount: aws.Int32(1)}}},
		Steps:     []types.StepConfig{{Name: aws.String("forever"), HadoopJarStep: &types.HadoopJarStepConfig{Jar: aws.String("command-runner.jar"), Args: []string{"true"}}}},
		Tags: []types.Tag{
			{Key: aws.String(emrstep.TagPipeline), Value: aws.String("daily")}, {Key: aws.String(emrstep.TagRunID), Value: aws.String(run)},
			{Key: aws.String(emrstep.TagActivity), Value: aws.String("transform")}, {Key: aws.String(emrstep.TagAttempt), Value: aws.String(attempt)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.JobFlowId)
}

// A runner killed during attempt 1 leaves its transient cluster running; the runner that
// retries the attempt finds it by its tags and terminates it before starting its own, so the
// steps never run twice at once. A cluster of another run with the same name is left alone.
func TestAWS_Retry_TerminatesTheClusterAnEarlierAttemptLeftRunning(t *testing.T) {
	env := startAWS(t, fakeemr.Config{StepTicks: map[string]int{"forever": -1}})
	stale := leftRunning(t, env, "42", "1")
	other := leftRunning(t, env, "43", "1") // same cluster name, another run: not ours
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:1]})
	tk.Attempt = 2
	if _, err := env.exec.Execute(context.Background(), tk); err != nil {
		t.Fatalf("Execute: %v\nlog:\n%s", err, logOf(tk))
	}
	byID := map[string]fakeemr.ClusterInfo{}
	for _, c := range env.fake.Clusters() {
		byID[c.ID] = c
	}
	if len(byID) != 3 {
		t.Fatalf("clusters %v, want the two left running and this attempt's", byID)
	}
	var mine fakeemr.ClusterInfo
	for id, c := range byID {
		if id != stale && id != other {
			mine = c
		}
	}
	if st := byID[stale].State; st != types.ClusterStateTerminated {
		t.Errorf("the cluster attempt 1 left is %s, want TERMINATED", st)
	}
	if byID[stale].Ended.IsZero() || byID[stale].Ended.After(mine.Created) {
		t.Errorf("attempt 1's cluster ended at %v, attempt 2's started at %v: they overlapped", byID[stale].Ended, mine.Created)
	}
	if c := byID[other]; !c.Ended.IsZero() {
		t.Errorf("the cluster of another run is %s, want it left running", c.State)
	}
	if mine.Tags[emrstep.TagAttempt] != "2" {
		t.Errorf("this attempt's cluster is tagged %v, want %s=2", mine.Tags, emrstep.TagAttempt)
	}
	if n := len(env.fake.Calls(fakeemr.OpListClusters)); n != 1 {
		t.Errorf("%d ListClusters calls, want 1", n)
	}
	if !strings.Contains(logOf(tk), "left running by an earlier attempt") {
		t.Errorf("the attempt log does not say it terminated a cluster:\n%s", logOf(tk))
	}
}

// When every attempt was cut short by a dying runner, no retry will terminate the last
// attempt's cluster: the engine calls Abandon, which does, and starts nothing.
func TestAWS_Abandon_TerminatesTheClusterTheLastAttemptLeft(t *testing.T) {
	env := startAWS(t, fakeemr.Config{StepTicks: map[string]int{"forever": -1}})
	stale := leftRunning(t, env, "42", "3")
	tk := task(&definition.EMRStepActivity{Template: "spark_small", Steps: allSteps()[:1]})
	tk.Attempt = 4
	ab, ok := env.exec.(activity.Abandoner)
	if !ok {
		t.Fatal("the emr_step executor does not implement activity.Abandoner")
	}
	if err := ab.Abandon(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if st, _ := env.fake.ClusterState(stale); st != types.ClusterStateTerminated {
		t.Errorf("the last attempt's cluster is %s, want TERMINATED", st)
	}
	if n := len(env.fake.Calls(fakeemr.OpRunJobFlow)); n != 1 {
		t.Errorf("%d RunJobFlow calls, want only the one that left the cluster", n)
	}
}
