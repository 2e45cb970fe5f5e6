package fakeemr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/fakeemr"
)

func start(t *testing.T, cfg fakeemr.Config) (*fakeemr.Server, *awsemr.Client) {
	t.Helper()
	s, err := fakeemr.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c, err := awsclient.New(context.Background(), awsclient.Settings{
		Region: "us-east-1", AccessKey: "test", SecretKey: "test",
		Endpoints:                 map[awsclient.Service]string{awsclient.EMR: s.URL},
		SkipCredentialsValidation: true, MaxRetries: 1, Getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c.EMR()
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func validRequest() *awsemr.RunJobFlowInput {
	return &awsemr.RunJobFlowInput{
		Name: aws.String("c"), ReleaseLabel: aws.String("emr-7.2.0"),
		ServiceRole: aws.String("EMR_DefaultRole_V2"), JobFlowRole: aws.String("EMR_EC2_DefaultRole"),
		Instances: &types.JobFlowInstancesConfig{InstanceGroups: []types.InstanceGroupConfig{{
			InstanceRole: types.InstanceRoleTypeMaster, InstanceType: aws.String("m5.xlarge"), InstanceCount: aws.Int32(1),
		}}},
		Steps: []types.StepConfig{{Name: aws.String("s"), HadoopJarStep: &types.HadoopJarStepConfig{Jar: aws.String("command-runner.jar"), Args: []string{"true"}}}},
	}
}

func TestRunJobFlow_RefusesMalformedRequests(t *testing.T) {
	_, client := start(t, fakeemr.Config{})
	cases := map[string]func(*awsemr.RunJobFlowInput){
		"no name":            func(in *awsemr.RunJobFlowInput) { in.Name = aws.String("") },
		"no instance groups": func(in *awsemr.RunJobFlowInput) { in.Instances.InstanceGroups = nil },
		"two masters": func(in *awsemr.RunJobFlowInput) {
			in.Instances.InstanceGroups = append(in.Instances.InstanceGroups, in.Instances.InstanceGroups[0])
		},
		"step without jar": func(in *awsemr.RunJobFlowInput) { in.Steps[0].HadoopJarStep.Jar = aws.String("") },
		"bad action":       func(in *awsemr.RunJobFlowInput) { in.Steps[0].ActionOnFailure = "EXPLODE" },
		"bad subnet":       func(in *awsemr.RunJobFlowInput) { in.Instances.Ec2SubnetId = aws.String("net-1") },
		"idle timeout short": func(in *awsemr.RunJobFlowInput) {
			in.AutoTerminationPolicy = &types.AutoTerminationPolicy{IdleTimeout: aws.Int64(5)}
		},
	}
	for name, mutate := range cases {
		in := validRequest()
		mutate(in)
		if _, err := client.RunJobFlow(context.Background(), in); apiCode(err) != fakeemr.CodeValidation {
			t.Errorf("%s: error %v, want %s", name, err, fakeemr.CodeValidation)
		}
	}
	if _, err := client.RunJobFlow(context.Background(), validRequest()); err != nil {
		t.Fatalf("valid request: %v", err)
	}
}

func TestCluster_MovesThroughStatesOneTickPerDescribe(t *testing.T) {
	_, client := start(t, fakeemr.Config{})
	ctx := context.Background()
	out, err := client.RunJobFlow(ctx, validRequest())
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for range 6 {
		dc, err := client.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: out.JobFlowId})
		if err != nil {
			t.Fatal(err)
		}
		ls, err := client.ListSteps(ctx, &awsemr.ListStepsInput{ClusterId: out.JobFlowId})
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, fmt.Sprintf("%s/%s", dc.Cluster.Status.State, ls.Steps[0].Status.State))
	}
	want := "BOOTSTRAPPING/PENDING RUNNING/PENDING RUNNING/RUNNING TERMINATING/COMPLETED TERMINATED/COMPLETED TERMINATED/COMPLETED"
	if got := strings.Join(states, " "); got != want {
		t.Errorf("states\n got %s\nwant %s", got, want)
	}
}

func TestListSteps_PagesNewestFirst(t *testing.T) {
	s, client := start(t, fakeemr.Config{})
	ctx := context.Background()
	id := s.AddCluster("shared")
	var steps []types.StepConfig
	for i := range 60 {
		steps = append(steps, types.StepConfig{Name: aws.String(fmt.Sprintf("s%02d", i)),
			HadoopJarStep: &types.HadoopJarStepConfig{Jar: aws.String("s3://b/x.jar")}})
	}
	if _, err := client.AddJobFlowSteps(ctx, &awsemr.AddJobFlowStepsInput{JobFlowId: aws.String(id), Steps: steps}); err != nil {
		t.Fatal(err)
	}
	var names []string
	pages := awsemr.NewListStepsPaginator(client, &awsemr.ListStepsInput{ClusterId: aws.String(id)})
	n := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, st := range page.Steps {
			names = append(names, aws.ToString(st.Name))
		}
	}
	if n != 2 || len(names) != 60 || names[0] != "s59" || names[59] != "s00" {
		t.Errorf("%d pages, %d steps, first %s", n, len(names), names[0])
	}
}

func TestErrors_UnknownClusterAndUnsignedRequest(t *testing.T) {
	s, client := start(t, fakeemr.Config{})
	_, err := client.DescribeCluster(context.Background(), &awsemr.DescribeClusterInput{ClusterId: aws.String("j-NOPE")})
	if apiCode(err) != fakeemr.CodeInvalidRequest {
		t.Errorf("unknown cluster: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(`{"ClusterId":"j-NOPE"}`))
	req.Header.Set("X-Amz-Target", "ElasticMapReduce.DescribeCluster")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if calls := s.Calls(fakeemr.OpDescribeCluster); len(calls) != 2 || calls[1].Err != "MissingAuthenticationTokenException" {
		t.Errorf("recorded calls %v", calls)
	}
}
