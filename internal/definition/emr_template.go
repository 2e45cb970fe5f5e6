package definition

import "encoding/json"

// EMRTemplate is a published EMR cluster template: everything RunJobFlow needs but the steps.
type EMRTemplate struct {
	Format       string   `json:"format"`
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	ReleaseLabel string   `json:"release_label"`
	Applications []string `json:"applications,omitempty"`
	// InstanceGroups: master is required; core is required unless the cluster is single-node.
	InstanceGroups   InstanceGroups    `json:"instance_groups"`
	BootstrapActions []BootstrapAction `json:"bootstrap_actions,omitempty"`
	// Configurations is EMR's configuration JSON (a list of classifications), stored in
	// canonical form so formatting never shows as a change.
	Configurations  json.RawMessage   `json:"configurations,omitempty"`
	ServiceRole     string            `json:"service_role"`
	JobFlowRole     string            `json:"job_flow_role"`
	LogURI          string            `json:"log_uri,omitempty"`
	SubnetIDs       []string          `json:"subnet_ids,omitempty"`
	SecurityGroups  *SecurityGroups   `json:"security_groups,omitempty"`
	IdleTimeout     string            `json:"idle_timeout"`
	StepConcurrency int               `json:"step_concurrency"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// InstanceGroups are the master, core and task groups.
type InstanceGroups struct {
	Master InstanceGroup  `json:"master"`
	Core   *InstanceGroup `json:"core,omitempty"`
	Task   *InstanceGroup `json:"task,omitempty"`
}

// Instance markets.
const (
	MarketOnDemand = "ON_DEMAND"
	MarketSpot     = "SPOT"
)

// Markets lists the instance markets.
func Markets() []string { return []string{MarketOnDemand, MarketSpot} }

// InstanceGroup is one group of identical instances.
type InstanceGroup struct {
	InstanceType string `json:"instance_type"`
	Count        int    `json:"count"`
	Market       string `json:"market"`
	// BidPrice is the spot bid in USD; empty means the on-demand price.
	BidPrice string      `json:"bid_price,omitempty"`
	EBS      []EBSVolume `json:"ebs,omitempty"`
}

// EBSVolume is an EBS volume attached to each instance of a group.
type EBSVolume struct {
	SizeGB             int    `json:"size_gb"`
	Type               string `json:"type"`
	VolumesPerInstance int    `json:"volumes_per_instance"`
	IOPS               int    `json:"iops,omitempty"`
}

// BootstrapAction runs a script on every node before applications start.
type BootstrapAction struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
}

// SecurityGroups are the cluster's security groups: EMR-managed ones and additional ones.
type SecurityGroups struct {
	EMRManagedMaster string   `json:"emr_managed_master,omitempty"`
	EMRManagedSlave  string   `json:"emr_managed_slave,omitempty"`
	ServiceAccess    string   `json:"service_access,omitempty"`
	AdditionalMaster []string `json:"additional_master,omitempty"`
	AdditionalSlave  []string `json:"additional_slave,omitempty"`
}
