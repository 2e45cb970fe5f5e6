package emr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/schemas"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Instance group names in the request, as the EMR console names them.
const (
	groupMaster = "Master"
	groupCore   = "Core"
	groupTask   = "Task"
)

// RunJobFlowInput is the request that starts a transient cluster from template t, without
// steps: the runner puts a run's steps into it (ActionOnFailure TERMINATE_CLUSTER) and sends it.
// KeepJobFlowAliveWhenNoSteps is false, so the cluster ends itself once its steps are done; the
// runner still terminates it on failure, cancellation or timeout, and the template's
// idle_timeout (AutoTerminationPolicy) is the last safety net should the runner die.
//
// clusterName names the cluster. subnetID is the subnet to start in: one of t.SubnetIDs (the
// runner falls back across them on capacity errors), or "" for the first of them. The template
// must be valid (see Validate).
func RunJobFlowInput(t *definition.EMRTemplate, clusterName, subnetID string) (*awsemr.RunJobFlowInput, error) {
	if ps := Validate(t); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.String()
		}
		return nil, fmt.Errorf("EMR template %q is not valid: %s", t.Name, strings.Join(msgs, "; "))
	}
	if clusterName == "" {
		return nil, errors.New("cluster name is empty")
	}
	switch {
	case subnetID == "" && len(t.SubnetIDs) > 0:
		subnetID = t.SubnetIDs[0]
	case subnetID != "" && !contains(t.SubnetIDs, subnetID):
		return nil, fmt.Errorf("subnet %q is not one of template %q's subnet_ids %v", subnetID, t.Name, t.SubnetIDs)
	}
	idle, _ := definition.ParseDuration(t.IdleTimeout) // checked by Validate

	inst := &types.JobFlowInstancesConfig{
		InstanceGroups:              []types.InstanceGroupConfig{groupConfig(groupMaster, types.InstanceRoleTypeMaster, t.InstanceGroups.Master)},
		KeepJobFlowAliveWhenNoSteps: aws.Bool(false),
		TerminationProtected:        aws.Bool(false),
	}
	if g := t.InstanceGroups.Core; g != nil {
		inst.InstanceGroups = append(inst.InstanceGroups, groupConfig(groupCore, types.InstanceRoleTypeCore, *g))
	}
	if g := t.InstanceGroups.Task; g != nil {
		inst.InstanceGroups = append(inst.InstanceGroups, groupConfig(groupTask, types.InstanceRoleTypeTask, *g))
	}
	if subnetID != "" {
		inst.Ec2SubnetId = aws.String(subnetID)
	}
	if sg := t.SecurityGroups; sg != nil {
		inst.EmrManagedMasterSecurityGroup = optString(sg.EMRManagedMaster)
		inst.EmrManagedSlaveSecurityGroup = optString(sg.EMRManagedSlave)
		inst.ServiceAccessSecurityGroup = optString(sg.ServiceAccess)
		inst.AdditionalMasterSecurityGroups = sg.AdditionalMaster
		inst.AdditionalSlaveSecurityGroups = sg.AdditionalSlave
	}

	in := &awsemr.RunJobFlowInput{
		Name:                  aws.String(clusterName),
		ReleaseLabel:          aws.String(t.ReleaseLabel),
		Instances:             inst,
		AutoTerminationPolicy: &types.AutoTerminationPolicy{IdleTimeout: aws.Int64(int64(idle.Seconds()))},
		ServiceRole:           aws.String(t.ServiceRole),
		JobFlowRole:           aws.String(t.JobFlowRole),
		LogUri:                optString(t.LogURI),
		StepConcurrencyLevel:  aws.Int32(int32(t.StepConcurrency)),
		VisibleToAllUsers:     aws.Bool(true),
	}
	for _, a := range t.Applications {
		in.Applications = append(in.Applications, types.Application{Name: aws.String(a)})
	}
	for _, b := range t.BootstrapActions {
		in.BootstrapActions = append(in.BootstrapActions, types.BootstrapActionConfig{
			Name:                  aws.String(b.Name),
			ScriptBootstrapAction: &types.ScriptBootstrapActionConfig{Path: aws.String(b.Path), Args: b.Args},
		})
	}
	if len(t.Configurations) > 0 {
		var cs []configJSON
		if err := json.Unmarshal(t.Configurations, &cs); err != nil {
			return nil, fmt.Errorf("configurations: %w", err)
		}
		in.Configurations = toConfigurations(cs)
	}
	keys := make([]string, 0, len(t.Tags))
	for k := range t.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(t.Tags[k])})
	}
	return in, nil
}

// RunJobFlowJSON is the RunJobFlow request for template t as JSON: exactly the body the AWS SDK
// sends to EMR (the awsJson1_1 protocol, so member names are the API's, as in the EMR API
// reference: "Instances", "InstanceGroups", "AutoTerminationPolicy", ...; unset members are
// left out), in canonical form (keys sorted, no whitespace), so the same template always gives
// the same text.
func RunJobFlowJSON(t *definition.EMRTemplate, clusterName, subnetID string) (string, error) {
	in, err := RunJobFlowInput(t, clusterName, subnetID)
	if err != nil {
		return "", err
	}
	req, ok := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	if !ok {
		return "", errors.New("smithy-go: unexpected request type")
	}
	op := smithy.NewOperationSchema(schemas.RunJobFlow, schemas.RunJobFlowInput, schemas.RunJobFlowOutput)
	if err := awsjson.New11(schemas.ElasticMapReduce).SerializeRequest(context.Background(), op, in, req); err != nil {
		return "", fmt.Errorf("encoding the RunJobFlow request: %w", err)
	}
	body, err := io.ReadAll(req.GetStream())
	if err != nil {
		return "", fmt.Errorf("encoding the RunJobFlow request: %w", err)
	}
	c, err := definition.CanonicalJSON(body, false)
	if err != nil {
		return "", fmt.Errorf("encoding the RunJobFlow request: %w", err)
	}
	return string(c), nil
}

// NodeCount is the number of instances the template starts: master, core and task.
func NodeCount(t *definition.EMRTemplate) int {
	n := t.InstanceGroups.Master.Count
	if g := t.InstanceGroups.Core; g != nil {
		n += g.Count
	}
	if g := t.InstanceGroups.Task; g != nil {
		n += g.Count
	}
	return n
}

func groupConfig(name string, role types.InstanceRoleType, g definition.InstanceGroup) types.InstanceGroupConfig {
	c := types.InstanceGroupConfig{
		Name:          aws.String(name),
		InstanceRole:  role,
		InstanceType:  aws.String(g.InstanceType),
		InstanceCount: aws.Int32(int32(g.Count)),
		Market:        types.MarketType(g.Market),
		BidPrice:      optString(g.BidPrice),
	}
	if len(g.EBS) > 0 {
		c.EbsConfiguration = &types.EbsConfiguration{}
		for _, v := range g.EBS {
			spec := &types.VolumeSpecification{SizeInGB: aws.Int32(int32(v.SizeGB)), VolumeType: aws.String(v.Type)}
			if v.IOPS > 0 {
				spec.Iops = aws.Int32(int32(v.IOPS))
			}
			c.EbsConfiguration.EbsBlockDeviceConfigs = append(c.EbsConfiguration.EbsBlockDeviceConfigs, types.EbsBlockDeviceConfig{
				VolumeSpecification: spec,
				VolumesPerInstance:  aws.Int32(int32(v.VolumesPerInstance)),
			})
		}
	}
	return c
}

// configJSON is one EMR configuration as users write it (the console's and the CLI's JSON).
type configJSON struct {
	Classification string            `json:"Classification"`
	Properties     map[string]string `json:"Properties"`
	Configurations []configJSON      `json:"Configurations"`
}

func toConfigurations(cs []configJSON) []types.Configuration {
	out := make([]types.Configuration, len(cs))
	for i, c := range cs {
		out[i] = types.Configuration{Classification: aws.String(c.Classification), Properties: c.Properties}
		if len(c.Configurations) > 0 {
			out[i].Configurations = toConfigurations(c.Configurations)
		}
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
