// Package emr turns a published EMR template (definition.EMRTemplate) into the RunJobFlow request
// the runner sends, and checks a template before it is published. It is shared by the provider,
// which shows the request at plan time, and by sluice-runner, which sends it.
package emr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Limits of the template's settings.
const (
	// MinIdleTimeout and MaxIdleTimeout bound idle_timeout: EMR's auto-termination policy accepts
	// 60 seconds to 7 days.
	MinIdleTimeout = time.Minute
	MaxIdleTimeout = 7 * 24 * time.Hour
	// DefaultIdleTimeout is the safety net when a template does not say.
	DefaultIdleTimeout = "1h"
	// MinStepConcurrency and MaxStepConcurrency bound step_concurrency (EMR's limits).
	MinStepConcurrency = 1
	MaxStepConcurrency = 256
	// MaxNameLength bounds a template name, which is also its registry key.
	MaxNameLength = definition.MaxNameLength
)

// EBS volume types EMR accepts.
const (
	VolumeGP2      = "gp2"
	VolumeGP3      = "gp3"
	VolumeIO1      = "io1"
	VolumeST1      = "st1"
	VolumeSC1      = "sc1"
	VolumeStandard = "standard"
)

// VolumeTypes lists the EBS volume types.
func VolumeTypes() []string {
	return []string{VolumeGP2, VolumeGP3, VolumeIO1, VolumeST1, VolumeSC1, VolumeStandard}
}

var (
	releaseLabelRE  = regexp.MustCompile(`^emr-[0-9]+\.[0-9]+\.[0-9]+$`)
	bidPriceRE      = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	subnetRE        = regexp.MustCompile(`^subnet-[0-9A-Za-z]+$`)
	securityGroupRE = regexp.MustCompile(`^sg-[0-9A-Za-z]+$`)
)

// Problem is one reason a template is invalid. Path names the attribute as the user writes it in
// HCL, e.g. "instance_groups.master.count" or "subnet_ids[1]".
type Problem struct {
	Path    string
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidateName checks a template name, which is also its registry key
// (emr-templates/<name>.json), by the rule pipelines share (definition.ValidateName).
func ValidateName(name string) error { return definition.ValidateName("EMR template", name) }

// Validate checks everything RunJobFlow would refuse, and the rules sluice adds, so that a broken
// template fails at plan time rather than when the runner starts a cluster. Problems come in
// attribute order.
func Validate(t *definition.EMRTemplate) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}

	if err := ValidateName(t.Name); err != nil {
		add("name", "%s", err)
	}
	if !releaseLabelRE.MatchString(t.ReleaseLabel) {
		add("release_label", `%q is not an EMR release label; write it like "emr-7.2.0"`, t.ReleaseLabel)
	}
	seen := map[string]bool{}
	for i, a := range t.Applications {
		p := fmt.Sprintf("applications[%d]", i)
		switch {
		case strings.TrimSpace(a) == "":
			add(p, "application name is empty")
		case seen[strings.ToLower(a)]:
			add(p, "application %q is listed twice", a)
		}
		seen[strings.ToLower(a)] = true
	}

	ig := t.InstanceGroups
	validateGroup(&ps, "instance_groups.master", &ig.Master)
	if c := ig.Master.Count; c != 1 && c != 3 {
		add("instance_groups.master.count", "master count is %d; EMR runs 1 master node, or 3 for high availability", c)
	}
	if ig.Core != nil {
		validateGroup(&ps, "instance_groups.core", ig.Core)
		if ig.Core.Count < 1 {
			add("instance_groups.core.count", "core count is %d; it must be at least 1 (omit the core group, and the task group, for a single-node cluster)", ig.Core.Count)
		}
	}
	if ig.Task != nil {
		validateGroup(&ps, "instance_groups.task", ig.Task)
		if ig.Task.Count < 1 {
			add("instance_groups.task.count", "task count is %d; it must be at least 1 (omit the task group for none)", ig.Task.Count)
		}
		if ig.Core == nil {
			add("instance_groups.task", "a task group needs a core group: EMR runs task nodes only beside core nodes; add instance_groups.core or remove the task group")
		}
	}

	for i, b := range t.BootstrapActions {
		p := fmt.Sprintf("bootstrap_actions[%d]", i)
		if strings.TrimSpace(b.Name) == "" {
			add(p+".name", "bootstrap action name is empty")
		}
		if strings.TrimSpace(b.Path) == "" {
			add(p+".path", "bootstrap action path is empty; give the script's location, e.g. \"s3://bucket/bootstrap.sh\"")
		}
	}

	if len(t.Configurations) > 0 {
		for _, msg := range checkConfigurations(t.Configurations) {
			add("configurations", "%s", msg)
		}
	}
	if strings.TrimSpace(t.ServiceRole) == "" {
		add("service_role", "service_role is required: the IAM role EMR assumes, e.g. \"EMR_DefaultRole_V2\"")
	}
	if strings.TrimSpace(t.JobFlowRole) == "" {
		add("job_flow_role", "job_flow_role is required: the EC2 instance profile of the nodes, e.g. \"EMR_EC2_DefaultRole\"")
	}
	if t.LogURI != "" && !strings.HasPrefix(t.LogURI, "s3://") && !strings.HasPrefix(t.LogURI, "s3n://") {
		add("log_uri", "%q is not an S3 location; write it like \"s3://bucket/emr-logs/\"", t.LogURI)
	}
	subnets := map[string]bool{}
	for i, s := range t.SubnetIDs {
		p := fmt.Sprintf("subnet_ids[%d]", i)
		switch {
		case !subnetRE.MatchString(s):
			add(p, "%q is not a subnet ID; write it like \"subnet-0123456789abcdef0\"", s)
		case subnets[s]:
			add(p, "subnet %q is listed twice", s)
		}
		subnets[s] = true
	}
	if sg := t.SecurityGroups; sg != nil {
		for _, f := range []struct{ name, v string }{
			{"emr_managed_master", sg.EMRManagedMaster}, {"emr_managed_slave", sg.EMRManagedSlave}, {"service_access", sg.ServiceAccess},
		} {
			if f.v != "" && !securityGroupRE.MatchString(f.v) {
				add("security_groups."+f.name, "%q is not a security group ID; write it like \"sg-0123456789abcdef0\"", f.v)
			}
		}
		for _, f := range []struct {
			name string
			vs   []string
		}{{"additional_master", sg.AdditionalMaster}, {"additional_slave", sg.AdditionalSlave}} {
			for i, v := range f.vs {
				if !securityGroupRE.MatchString(v) {
					add(fmt.Sprintf("security_groups.%s[%d]", f.name, i), "%q is not a security group ID; write it like \"sg-0123456789abcdef0\"", v)
				}
			}
		}
	}
	if d, err := definition.ParseDuration(t.IdleTimeout); err != nil {
		add("idle_timeout", "%s", err)
	} else if d < MinIdleTimeout || d > MaxIdleTimeout {
		add("idle_timeout", "%q is outside EMR's auto-termination range of 60s to 7 days (\"7d\")", t.IdleTimeout)
	} else if d%time.Second != 0 {
		add("idle_timeout", "%q is not a whole number of seconds", t.IdleTimeout)
	}
	if t.StepConcurrency < MinStepConcurrency || t.StepConcurrency > MaxStepConcurrency {
		add("step_concurrency", "step_concurrency is %d; EMR runs %d to %d steps at once", t.StepConcurrency, MinStepConcurrency, MaxStepConcurrency)
	}
	if _, empty := t.Tags[""]; empty {
		add("tags", "a tag key is empty")
	}
	return ps
}

func validateGroup(ps *[]Problem, p string, g *definition.InstanceGroup) {
	add := func(path, format string, args ...any) {
		*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(g.InstanceType) == "" {
		add(p+".instance_type", "instance_type is required, e.g. \"m5.xlarge\"")
	}
	if !contains(definition.Markets(), g.Market) {
		add(p+".market", "market %q is not one of %s", g.Market, strings.Join(definition.Markets(), ", "))
	}
	if g.BidPrice != "" {
		switch {
		case g.Market != definition.MarketSpot:
			add(p+".bid_price", "bid_price is set but market is %q; a bid applies only to market = %q", g.Market, definition.MarketSpot)
		case !bidPriceRE.MatchString(g.BidPrice):
			add(p+".bid_price", "bid_price %q is not a price in USD such as \"0.25\"", g.BidPrice)
		}
	}
	for i, v := range g.EBS {
		ep := fmt.Sprintf("%s.ebs[%d]", p, i)
		if v.SizeGB <= 0 {
			add(ep+".size_gb", "size_gb is %d; it must be at least 1", v.SizeGB)
		}
		if !contains(VolumeTypes(), v.Type) {
			add(ep+".type", "volume type %q is not one of %s", v.Type, strings.Join(VolumeTypes(), ", "))
		}
		if v.VolumesPerInstance < 1 {
			add(ep+".volumes_per_instance", "volumes_per_instance is %d; it must be at least 1", v.VolumesPerInstance)
		}
		switch {
		case !contains(VolumeTypes(), v.Type):
			// reported above
		case v.IOPS < 0:
			add(ep+".iops", "iops is %d; it must be positive", v.IOPS)
		case v.Type == VolumeIO1 && v.IOPS == 0:
			add(ep+".iops", "an io1 volume needs iops")
		case v.IOPS > 0 && v.Type != VolumeIO1 && v.Type != VolumeGP3:
			add(ep+".iops", "iops applies only to io1 and gp3 volumes, not %q", v.Type)
		}
	}
}

// NormaliseConfigurations returns EMR configuration JSON in canonical form: keys sorted, no
// whitespace, one spelling per number. Two texts that mean the same normalise to the same bytes,
// so formatting never shows as a change. It checks only that raw is JSON; Validate checks the
// shape.
func NormaliseConfigurations(raw string) (json.RawMessage, error) {
	c, err := definition.CanonicalJSON([]byte(raw), false)
	if err != nil {
		return nil, fmt.Errorf("configurations: %w", err)
	}
	return c, nil
}

// checkConfigurations checks EMR's configuration shape: an array of objects, each with a
// "Classification" string, optional "Properties" (an object of strings) and optional nested
// "Configurations" of the same shape.
func checkConfigurations(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		if err == nil {
			err = fmt.Errorf("more than one value")
		}
		return []string{fmt.Sprintf("not valid JSON: %v", err)}
	}
	var msgs []string
	checkConfigList(v, "configurations", &msgs)
	return msgs
}

func checkConfigList(v any, where string, msgs *[]string) {
	list, ok := v.([]any)
	if !ok {
		*msgs = append(*msgs, fmt.Sprintf(`%s must be a JSON array of objects such as [{"Classification": "spark-defaults", "Properties": {...}}]`, where))
		return
	}
	for i, e := range list {
		at := fmt.Sprintf("%s[%d]", where, i)
		obj, ok := e.(map[string]any)
		if !ok {
			*msgs = append(*msgs, at+" is not an object")
			continue
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch k {
			case "Classification", "Properties", "Configurations":
			default:
				*msgs = append(*msgs, fmt.Sprintf("%s has an unknown key %q; EMR knows Classification, Properties and Configurations", at, k))
			}
		}
		if c, ok := obj["Classification"].(string); !ok || c == "" {
			*msgs = append(*msgs, at+` has no "Classification" string`)
		}
		if p, present := obj["Properties"]; present {
			props, ok := p.(map[string]any)
			if !ok {
				*msgs = append(*msgs, at+`.Properties must be an object of strings`)
			} else {
				pkeys := make([]string, 0, len(props))
				for k := range props {
					pkeys = append(pkeys, k)
				}
				sort.Strings(pkeys)
				for _, k := range pkeys {
					if _, ok := props[k].(string); !ok {
						*msgs = append(*msgs, fmt.Sprintf("%s.Properties[%q] must be a string: EMR takes property values as strings; quote it", at, k))
					}
				}
			}
		}
		if nested, present := obj["Configurations"]; present {
			checkConfigList(nested, at+".Configurations", msgs)
		}
	}
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
