package emr_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-data/terraform-provider-sluice/internal/emr"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestRunJobFlowJSON_Golden pins the exact request body for a realistic template. Run with
// -update after a deliberate change, and read the diff.
func TestRunJobFlowJSON_Golden(t *testing.T) {
	got, err := emr.RunJobFlowJSON(validTemplate(), "spark_small", "")
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(got), "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "run_job_flow.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("RunJobFlow JSON differs from %s (run with -update to accept):\n%s", golden, pretty.String())
	}
}

func TestRunJobFlowJSON_StableAcrossCalls(t *testing.T) {
	a, _ := emr.RunJobFlowJSON(validTemplate(), "c", "")
	for i := 0; i < 20; i++ {
		b, err := emr.RunJobFlowJSON(validTemplate(), "c", "")
		if err != nil || a != b {
			t.Fatalf("call %d differs: %v\n%s\n%s", i, err, a, b)
		}
	}
}

func TestRunJobFlowInput_SafetyNetAndSubnetFallback(t *testing.T) {
	in, err := emr.RunJobFlowInput(validTemplate(), "run-1", "subnet-0bbb")
	if err != nil {
		t.Fatal(err)
	}
	if in.Instances.KeepJobFlowAliveWhenNoSteps == nil || *in.Instances.KeepJobFlowAliveWhenNoSteps {
		t.Error("KeepJobFlowAliveWhenNoSteps must be false: the steps go into RunJobFlow and the cluster ends itself after them")
	}
	if got := aws.ToInt64(in.AutoTerminationPolicy.IdleTimeout); got != 3600 {
		t.Errorf("IdleTimeout = %d, want 3600", got)
	}
	if got := aws.ToString(in.Instances.Ec2SubnetId); got != "subnet-0bbb" {
		t.Errorf("Ec2SubnetId = %q, want subnet-0bbb", got)
	}
	if len(in.Steps) != 0 {
		t.Errorf("template request has steps: %v", in.Steps)
	}
	if _, err := emr.RunJobFlowInput(validTemplate(), "run-1", "subnet-other"); err == nil || !strings.Contains(err.Error(), "not one of") {
		t.Errorf("foreign subnet error = %v", err)
	}
}

func TestRunJobFlowInput_InvalidTemplateIsAnError(t *testing.T) {
	tpl := validTemplate()
	tpl.InstanceGroups.Master.Count = 2
	if _, err := emr.RunJobFlowInput(tpl, "c", ""); err == nil || !strings.Contains(err.Error(), "instance_groups.master.count") {
		t.Fatalf("error = %v", err)
	}
}

func TestNodeCount(t *testing.T) {
	tpl := validTemplate()
	if got := emr.NodeCount(tpl); got != 7 {
		t.Errorf("NodeCount = %d, want 1+2+4", got)
	}
	tpl.InstanceGroups.Core, tpl.InstanceGroups.Task = nil, nil
	if got := emr.NodeCount(tpl); got != 1 {
		t.Errorf("single-node NodeCount = %d, want 1", got)
	}
}
