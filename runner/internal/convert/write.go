package convert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Files of a conversion's output directory.
const (
	MainFile      = "main.tf"
	VariablesFile = "variables.tf"
	ReportFile    = "CONVERSION.md"
)

// Write writes main.tf, variables.tf and CONVERSION.md into dir (created when missing).
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the output directory %s: %w", dir, err)
	}
	files := map[string]string{MainFile: r.MainTF(), VariablesFile: r.VariablesTF(), ReportFile: r.Report()}
	for _, name := range []string{MainFile, VariablesFile, ReportFile} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil { //nolint:gosec // Terraform sources, readable by the team
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// VariablesTF renders variables.tf: the registry, then every variable of the conversion.
func (r *Result) VariablesTF() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Variables of the pipeline converted from %s (%s) by sluice-runner convert.\n\n", r.Source, r.Kind)
	reg := NewObject().Set("description", "Where the definitions are published: file:// for a local try, s3://bucket/prefix for real.").
		Set("type", Expr("string")).Set("default", "file://registry")
	b.WriteString(Block(`variable "registry"`, reg))
	for _, v := range r.Variables {
		o := NewObject().Set("description", v.Description).Set("type", Expr("string"))
		if v.Default != nil {
			o.SetAlways("default", *v.Default)
		}
		if v.Sensitive {
			o.Set("sensitive", true)
		}
		b.WriteString("\n" + Block(fmt.Sprintf("variable %q", v.Name), o))
	}
	return b.String()
}

// MainTF renders main.tf: the provider, one sluice_emr_template per template and the
// sluice_pipeline.
func (r *Result) MainTF() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Converted from %s (%s) by sluice-runner convert. Read CONVERSION.md before applying:\n", r.Source, r.Kind)
	b.WriteString("# it lists the connections the runner needs and what a person must still decide.\n\n")
	b.WriteString("terraform {\n  required_providers {\n    sluice = {\n      source = \"sluice-data/sluice\"\n    }\n  }\n}\n\n")
	prov := NewObject().Set("region", "us-east-1").Set("registry", Expr("var.registry")).
		Set("skip_credentials_validation", Expr(`startswith(var.registry, "file://")`))
	b.WriteString(Block(`provider "sluice"`, prov))
	for _, t := range r.Templates {
		b.WriteString("\n" + Block(fmt.Sprintf("resource \"sluice_emr_template\" %q", t.Name), templateObject(t)))
	}
	if len(r.Pipeline.Activities) == 0 {
		// A pipeline without activities is not valid: nothing is written rather than something
		// that fails the plan, and CONVERSION.md says why each activity was left out.
		fmt.Fprintf(&b, "\n# No activity of %s could be converted, so there is no sluice_pipeline here: see CONVERSION.md.\n", r.Source)
		return b.String()
	}
	b.WriteString("\n" + Block(fmt.Sprintf("resource \"sluice_pipeline\" %q", r.Pipeline.Name), r.pipelineObject()))
	return b.String()
}

func templateObject(t *definition.EMRTemplate) *Object {
	o := NewObject().Set("name", t.Name).Set("release_label", t.ReleaseLabel).Set("applications", t.Applications)
	groups := NewObject().Set("master", groupObject(&t.InstanceGroups.Master))
	if t.InstanceGroups.Core != nil {
		groups.Set("core", groupObject(t.InstanceGroups.Core))
	}
	if t.InstanceGroups.Task != nil {
		groups.Set("task", groupObject(t.InstanceGroups.Task))
	}
	o.Set("instance_groups", groups)
	var actions []any
	for _, a := range t.BootstrapActions {
		actions = append(actions, NewObject().Set("name", a.Name).Set("path", a.Path).Set("args", a.Args))
	}
	o.Set("bootstrap_actions", actions)
	if len(t.Configurations) > 0 {
		o.Set("configurations", Expr("jsonencode("+jsonHCL(t.Configurations)+")"))
	}
	o.Set("service_role", t.ServiceRole).Set("job_flow_role", t.JobFlowRole).Set("log_uri", t.LogURI).Set("subnet_ids", t.SubnetIDs)
	if sg := t.SecurityGroups; sg != nil {
		o.Set("security_groups", NewObject().Set("emr_managed_master", sg.EMRManagedMaster).Set("emr_managed_slave", sg.EMRManagedSlave).
			Set("service_access", sg.ServiceAccess).Set("additional_master", sg.AdditionalMaster).Set("additional_slave", sg.AdditionalSlave))
	}
	o.Set("idle_timeout", t.IdleTimeout)
	if t.StepConcurrency > 1 {
		o.Set("step_concurrency", t.StepConcurrency)
	}
	o.Set("tags", t.Tags)
	return o
}

// jsonHCL writes JSON as the equivalent HCL expression (JSON is nearly HCL; strings need HCL's
// escapes).
func jsonHCL(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return Quote(string(raw))
	}
	return Value(anyHCL(v), "  ")
}

func anyHCL(v any) any {
	switch x := v.(type) {
	case map[string]any:
		o := NewObject()
		for _, k := range SortedKeys(x) {
			o.SetAlways(k, anyHCL(x[k]))
		}
		return o
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = anyHCL(it)
		}
		return out
	case string:
		return x
	case bool:
		return x
	case float64:
		return Expr(strings.TrimSuffix(fmt.Sprintf("%g", x), ".0"))
	case nil:
		return Expr("null")
	}
	return fmt.Sprint(v)
}

func groupObject(g *definition.InstanceGroup) *Object {
	o := NewObject().Set("instance_type", g.InstanceType)
	if g.Count > 1 || g.Count == 0 {
		o.SetAlways("count", g.Count)
	}
	if g.Market != "" && g.Market != definition.MarketOnDemand {
		o.Set("market", g.Market)
	}
	o.Set("bid_price", g.BidPrice)
	var ebs []any
	for _, e := range g.EBS {
		v := NewObject().SetAlways("size_gb", e.SizeGB).Set("type", e.Type)
		if e.VolumesPerInstance > 1 {
			v.Set("volumes_per_instance", e.VolumesPerInstance)
		}
		if e.IOPS > 0 {
			v.Set("iops", e.IOPS)
		}
		ebs = append(ebs, v)
	}
	o.Set("ebs", ebs)
	return o
}

func (r *Result) pipelineObject() *Object {
	p := r.Pipeline
	o := NewObject().Set("name", p.Name).Set("description", p.Description).Set("owner", p.Owner)
	o.SetAlways("enabled", p.Enabled)
	s := p.Schedule
	sched := NewObject().Set("cron", s.Cron).Set("every", s.Every)
	if strings.HasPrefix(s.Start, "var.") {
		sched.Set("start", Expr(s.Start))
	} else {
		sched.Set("start", s.Start)
	}
	if strings.HasPrefix(s.End, "var.") || strings.Contains(s.End, "timeadd(") {
		sched.Set("end", Expr(s.End))
	} else {
		sched.Set("end", s.End)
	}
	sched.Set("timezone", s.Timezone)
	if s.Catchup {
		sched.Set("catchup", true)
	}
	if s.MaxActiveRuns > 1 {
		sched.Set("max_active_runs", s.MaxActiveRuns)
	}
	o.Set("schedule", sched)
	if len(p.Parameters) > 0 {
		params := NewObject()
		for _, k := range SortedKeys(p.Parameters) {
			if v, ok := r.ParamVars[k]; ok {
				params.SetAlways(k, Expr("var."+v))
			} else {
				params.SetAlways(k, p.Parameters[k])
			}
		}
		o.Set("parameters", params)
	}
	d := NewObject().SetAlways("retries", p.Defaults.Retries).Set("retry_delay", p.Defaults.RetryDelay).Set("timeout", p.Defaults.Timeout)
	o.Set("defaults", d)
	acts := NewObject()
	for _, id := range SortedKeys(p.Activities) {
		acts.Set(id, r.activityObject(p.Activities[id]))
	}
	o.Set("activities", acts)
	if n := p.Notify; n != nil {
		no := NewObject().Set("on_failure", n.OnFailure).Set("on_success", n.OnSuccess)
		if n.OnLate != nil {
			no.Set("on_late", NewObject().Set("after", n.OnLate.After).Set("targets", n.OnLate.Targets))
		}
		o.Set("notify", no)
	}
	return o
}

// activityObject writes one activity; every kind of definition.ActivityKinds has a case (a
// test checks it), so no activity is written empty.
func (r *Result) activityObject(a *definition.Activity) *Object {
	o := NewObject().Set("depends_on", a.DependsOn)
	if a.Retries != nil {
		o.SetAlways("retries", *a.Retries)
	}
	o.Set("timeout", a.Timeout)
	if w := a.WaitFor; w != nil {
		wo := NewObject().Set("s3_key_exists", w.S3KeyExists).Set("s3_prefix_not_empty", w.S3PrefixNotEmpty)
		if q := w.SQLReturnsRows; q != nil {
			wo.Set("sql_returns_rows", NewObject().Set("connection", q.Connection).Set("sql", q.SQL))
		}
		wo.Set("poke_interval", w.PokeInterval).Set("timeout", w.Timeout)
		o.Set("wait_for", wo)
	}
	switch {
	case a.Shell != nil:
		o.Set("shell", NewObject().Set("command", a.Shell.Command).Set("env", a.Shell.Env).Set("dir", a.Shell.Dir))
	case a.S3Copy != nil:
		o.Set("s3_copy", NewObject().Set("from", a.S3Copy.From).Set("to", a.S3Copy.To))
	case a.EMRStep != nil:
		e := NewObject()
		if a.EMRStep.Template != "" {
			e.Set("template", Expr("sluice_emr_template."+a.EMRStep.Template+".name"))
		}
		e.Set("cluster_id", a.EMRStep.ClusterID)
		var steps []any
		for _, s := range a.EMRStep.Steps {
			so := NewObject().Set("name", s.Name).Set("action_on_failure", s.ActionOnFailure).Set("command", s.Command)
			if st := s.Streaming; st != nil {
				so.Set("streaming", NewObject().Set("mapper", st.Mapper).Set("reducer", st.Reducer).Set("input", st.Input).
					Set("output", st.Output).Set("files", st.Files))
			}
			so.Set("spark", s.Spark)
			if j := s.Jar; j != nil {
				so.Set("jar", NewObject().Set("jar", j.Jar).Set("main_class", j.MainClass).Set("args", j.Args))
			}
			steps = append(steps, so)
		}
		e.Set("steps", steps)
		o.Set("emr_step", e)
	case a.RedshiftCopy != nil:
		c := a.RedshiftCopy
		o.Set("redshift_copy", NewObject().Set("connection", c.Connection).Set("connections", c.Connections).Set("table", c.Table).
			Set("from", c.From).Set("format", c.Format).Set("insert_mode", c.InsertMode).Set("key_columns", c.KeyColumns).
			Set("iam_role", c.IAMRole).Set("options", c.Options))
	case a.Export != nil:
		x := a.Export
		eo := NewObject().Set("connection", x.Connection).Set("query", x.Query).Set("to", x.To).Set("format", x.Format)
		if x.Gzip {
			eo.Set("gzip", true)
		}
		if x.Header {
			eo.Set("header", true)
		}
		o.Set("export", eo.Set("iam_role", x.IAMRole))
	case a.SQL != nil:
		o.Set("sql", NewObject().Set("connection", a.SQL.Connection).Set("statements", a.SQL.Statements))
	case a.Check != nil:
		c := a.Check
		co := NewObject().Set("connection", c.Connection).Set("table", c.Table).Set("where", c.Where)
		if rc := c.RowCount; rc != nil {
			ro := NewObject()
			if rc.Min != nil {
				ro.SetAlways("min", *rc.Min)
			}
			if rc.Max != nil {
				ro.SetAlways("max", *rc.Max)
			}
			co.Set("row_count", ro)
		}
		co.Set("unique", c.Unique).Set("not_null", c.NotNull)
		if f := c.Freshness; f != nil {
			co.Set("freshness", NewObject().Set("column", f.Column).Set("max_age", f.MaxAge))
		}
		if c.Severity != "" && c.Severity != definition.SeverityFail {
			co.Set("severity", c.Severity)
		}
		o.Set("check", co)
	}
	return o
}
