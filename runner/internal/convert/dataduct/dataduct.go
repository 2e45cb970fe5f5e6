// Package dataduct converts a Dataduct pipeline (YAML: name, frequency, load_time, steps) into a
// sluice pipeline, with a report of every step.
package dataduct

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// Options tune a conversion.
type Options struct {
	// Name is the pipeline's name; empty means the file's name field.
	Name string
	// Source names the file in the report; Dir is its directory, where table definitions and
	// scripts are read from.
	Source, Dir string
	// Now is the conversion's clock.
	Now time.Time
}

// file is a Dataduct pipeline file.
type file struct {
	Name        string           `yaml:"name"`
	Frequency   string           `yaml:"frequency"`
	LoadTime    string           `yaml:"load_time"`
	LoadHour    *int             `yaml:"load_hour"`
	LoadMin     *int             `yaml:"load_min"`
	Description string           `yaml:"description"`
	StartDate   string           `yaml:"start_date"`
	TopicARN    string           `yaml:"topic_arn"`
	EMR         map[string]any   `yaml:"emr_cluster_config"`
	EC2         map[string]any   `yaml:"ec2_resource_config"`
	Steps       []map[string]any `yaml:"steps"`
	Rest        map[string]any   `yaml:",inline"`
}

// stepTypes are the Dataduct step types, in its documentation's order.
var stepTypes = []string{"extract-s3", "extract-local", "extract-rds", "extract-postgres", "extract-redshift", "transform",
	"emr-streaming", "emr-step", "create-load-redshift", "upsert", "reload", "sql-command", "create-update-sql",
	"primary-key-check", "count-check", "column-check", "pipeline-dependencies"}

type converter struct {
	opts Options
	f    *file
	res  *convert.Result
	p    *definition.Pipeline
	// outputs is where each step's output is, by step name.
	outputs map[string]string
	// exits is the activity each step ends with, by step name.
	exits map[string]string
	// csvOutputs are the outputs written as csv (by export), not as Dataduct's TSV.
	csvOutputs map[string]bool
	// lastOutput is the output of the latest step that has one: a step's default input.
	lastOutput string
	tmpl       string
}

// Convert converts a Dataduct pipeline.
func Convert(data []byte, opts Options) (*convert.Result, error) {
	var f file
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a Dataduct pipeline (YAML): %w", err)
	}
	if len(f.Steps) == 0 {
		return nil, fmt.Errorf("not a Dataduct pipeline: no steps")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	name := opts.Name
	if name == "" {
		name = f.Name
	}
	if name == "" {
		name = strings.TrimSuffix(opts.Source, filepath.Ext(opts.Source))
	}
	name = convert.ActivityID(name)
	c := &converter{opts: opts, f: &f, outputs: map[string]string{}, exits: map[string]string{}, csvOutputs: map[string]bool{},
		res: &convert.Result{Source: opts.Source, Kind: "Dataduct", ParamVars: map[string]string{}},
		p: &definition.Pipeline{Format: definition.FormatPipeline, Name: name, Description: f.Description, Enabled: true,
			Activities: map[string]*definition.Activity{}, Parameters: map[string]string{}},
	}
	c.res.Pipeline = c.p
	c.param("s3_base", "s3://BUCKET/dataduct", "Where the steps' intermediate data goes (Dataduct's s3.base_path): an s3:// or file:// prefix.")
	c.schedule()
	if f.TopicARN != "" {
		c.p.Notify = &definition.Notify{OnFailure: []string{f.TopicARN}}
	}
	prev := ""
	for i, raw := range f.Steps {
		prev = c.step(i, raw, prev)
	}
	for _, k := range convert.SortedKeys(f.Rest) {
		e := c.res.Entry(k, "pipeline setting")
		e.Omit("setting %s is not carried over", k)
	}
	if f.EC2 != nil {
		e := c.res.Entry("ec2_resource_config", "pipeline setting")
		e.Become("the runner's host")
		e.Note("transform steps run on the runner's host: give it the tools the EC2 resource had")
	}
	if c.tmpl == "" && f.EMR != nil {
		c.res.Entry("emr_cluster_config", "pipeline setting").Note("no EMR step uses it")
	}
	for _, k := range convert.SortedKeys(c.p.Parameters) {
		c.res.ParamVars[k] = k
	}
	c.res.SortEntries()
	return c.res, nil
}

// param declares a pipeline parameter with its variable.
func (c *converter) param(name, def, desc string) {
	if _, ok := c.p.Parameters[name]; ok {
		return
	}
	c.p.Parameters[name] = def
	d := def
	c.res.AddVariable(convert.Variable{Name: name, Description: desc, Default: &d})
}

func (c *converter) schedule() {
	f := c.f
	e := c.res.Entry("frequency", "pipeline setting")
	hour, minute := 0, 0
	switch {
	case f.LoadTime != "":
		t, err := time.Parse("15:04", f.LoadTime)
		if err != nil {
			e.Omit("load_time %q is not HH:MM: midnight", f.LoadTime)
		} else {
			hour, minute = t.Hour(), t.Minute()
		}
	case f.LoadHour != nil:
		hour = *f.LoadHour
		if f.LoadMin != nil {
			minute = *f.LoadMin
		}
	}
	s := &c.p.Schedule
	s.MaxActiveRuns = 1
	day := time.Date(c.opts.Now.Year(), c.opts.Now.Month(), c.opts.Now.Day(), hour, minute, 0, 0, time.UTC)
	if f.StartDate != "" {
		if t, err := time.Parse("2006-01-02", f.StartDate); err == nil {
			day = time.Date(t.Year(), t.Month(), t.Day(), hour, minute, 0, 0, time.UTC)
		} else {
			e.Omit("start_date %q is not YYYY-MM-DD", f.StartDate)
		}
	}
	switch strings.ToLower(or(f.Frequency, "one-time")) {
	case "one-time":
		c.p.Enabled = false
		s.Every = "1d"
		c.res.Decide("frequency one-time: the pipeline is published disabled; run it once with `sluice-runner run %s --interval %s`.", c.p.Name, day.Format(time.RFC3339))
	case "hourly":
		s.Cron = fmt.Sprintf("%d * * * *", minute)
		day = time.Date(day.Year(), day.Month(), day.Day(), 0, minute, 0, 0, time.UTC)
	case "daily":
		s.Every = "1d"
	case "weekly":
		s.Every = "7d"
	case "monthly":
		s.Cron = fmt.Sprintf("%d %d %d * *", minute, hour, day.Day())
	default:
		e.Omit("frequency %q is not one-time, hourly, daily, weekly or monthly: daily", f.Frequency)
		s.Every = "1d"
	}
	start := day.Format(time.RFC3339)
	c.res.AddVariable(convert.Variable{Name: "start", Description: "Start of the first interval (RFC 3339): Dataduct's load_time on the first day.", Default: &start})
	s.Start = "var.start"
	e.Become("schedule (%s at %02d:%02d UTC)", or(f.Frequency, "one-time"), hour, minute)
	e.Note("Dataduct ran at load_time each period; sluice runs an interval when it ends, so the run for a day starts at the next load_time")
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// step converts one step; prev is the activity the step follows (Dataduct runs steps in order).
func (c *converter) step(i int, raw map[string]any, prev string) string {
	typ := str(raw, "step_type")
	name := str(raw, "name")
	if name == "" {
		name = fmt.Sprintf("%s_%d", typ, i+1)
	}
	e := c.res.Entry(name, typ)
	s := &step{c: c, raw: raw, used: map[string]bool{"step_type": true, "name": true, "depends_on": true, "input_node": true}, e: e, name: name}
	var acts []*named
	var output string
	switch typ {
	case "extract-s3":
		output = s.extractS3()
	case "extract-local":
		acts, output = s.extractLocal()
	case "extract-rds", "extract-postgres", "extract-redshift":
		acts, output = s.extract(typ)
	case "transform":
		acts, output = s.transform()
	case "emr-streaming":
		acts, output = s.emrStreaming()
	case "emr-step":
		acts = s.emrStep()
	case "create-load-redshift":
		acts = s.createLoad()
	case "upsert", "reload":
		acts = s.upsert(typ == "reload")
	case "sql-command":
		acts = s.sqlCommand()
	case "create-update-sql":
		acts = s.createUpdate()
	case "primary-key-check":
		acts = s.primaryKeyCheck()
	case "count-check", "column-check":
		s.useAll()
		e.Leave("%s compares a source database with Redshift: sluice's check looks at one table; write the comparison as a check per side "+
			"(row_count bounds) or a sql activity that fails on a difference", typ)
	case "pipeline-dependencies":
		s.useAll()
		e.Leave("waiting for other pipelines (%v) needs a person: use wait_for.pipeline once it exists, or a sql_returns_rows wait on what those pipelines write",
			raw["dependent_pipelines"])
	default:
		e.Leave("step_type %q is not a Dataduct step type (%s)", typ, strings.Join(stepTypes, ", "))
	}
	if output != "" {
		c.outputs[name] = output
		c.lastOutput = output
		if strings.HasPrefix(typ, "extract-") && typ != "extract-s3" && typ != "extract-local" {
			c.csvOutputs[output] = true
		}
	}
	if len(acts) == 0 {
		if e.Status != convert.LeftOut && output == "" {
			e.Leave("nothing to run")
		}
		return prev
	}
	deps := []string{}
	if d, ok := raw["depends_on"]; ok {
		for _, n := range strList(d) {
			if x, ok := c.exits[n]; ok {
				deps = append(deps, x)
			} else {
				e.Omit("depends_on %s, which is not a converted step before it", n)
			}
		}
	} else if prev != "" {
		deps = append(deps, prev)
	}
	var ids []string
	for j, a := range acts {
		id := convert.UniqueID(convert.ActivityID(a.id), func(x string) bool { _, ok := c.p.Activities[x]; return ok })
		if j == 0 {
			a.act.DependsOn = append(a.act.DependsOn, deps...)
		} else {
			a.act.DependsOn = append(a.act.DependsOn, ids[j-1])
		}
		c.p.Activities[id] = a.act
		ids = append(ids, id)
	}
	e.Become("activity %s", strings.Join(ids, " → "))
	for _, k := range convert.SortedKeys(raw) {
		if !s.used[k] {
			e.Omit("field %s is not carried over", k)
		}
	}
	c.exits[name] = ids[len(ids)-1]
	return ids[len(ids)-1]
}

type named struct {
	id  string
	act *definition.Activity
}

type step struct {
	c    *converter
	raw  map[string]any
	used map[string]bool
	e    *convert.Entry
	name string
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func strList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, it := range x {
			out = append(out, fmt.Sprint(it))
		}
		return out
	case map[string]any:
		var out []string
		for _, k := range convert.SortedKeys(x) {
			out = append(out, fmt.Sprint(x[k]))
		}
		return out
	}
	return nil
}

func (s *step) get(k string) string {
	s.used[k] = true
	return str(s.raw, k)
}

func (s *step) useAll() {
	for k := range s.raw {
		s.used[k] = true
	}
}

func (s *step) id(suffix string) string {
	if suffix == "" {
		return s.name
	}
	return s.name + "_" + suffix
}

// outputDir is where the step's output goes: under s3_base, per pipeline, step and day.
func (s *step) outputDir() string {
	return "{{ .Params.s3_base }}/" + s.c.p.Name + "/" + convert.ActivityID(s.name) + "/{{ ds .Start }}/"
}

// input is where the step's input is: its input_node's output, else the previous step's.
func (s *step) input() (string, bool) {
	if n, ok := s.raw["input_node"]; ok {
		names := strList(n)
		if len(names) > 1 {
			s.e.Omit("input_node lists %d steps: the first (%s) is used", len(names), names[0])
		}
		if out, ok := s.c.outputs[names[0]]; ok {
			return out, true
		}
		s.e.Omit("input_node %s has no output", names[0])
		return "", false
	}
	last := s.c.lastOutput
	if last == "" {
		s.e.Omit("no earlier step has an output to read")
		return "", false
	}
	return last, true
}

func (s *step) extractS3() string {
	if u := s.get("file_uri"); u != "" {
		s.e.Become("input location %s", u)
		return u
	}
	if u := s.get("directory_uri"); u != "" {
		s.e.Become("input location %s", u)
		return strings.TrimSuffix(u, "/") + "/"
	}
	s.e.Leave("neither file_uri nor directory_uri")
	return ""
}

func (s *step) localParam() {
	abs, err := filepath.Abs(s.c.opts.Dir)
	if err != nil {
		abs = s.c.opts.Dir
	}
	s.c.param("local_dir", abs, "Directory that held the Dataduct pipeline's local files (extract-local paths, transform scripts, table definitions), on the runner's host.")
}

func (s *step) extractLocal() ([]*named, string) {
	p := s.get("path")
	if p == "" {
		s.e.Leave("no path")
		return nil, ""
	}
	s.localParam()
	out := s.outputDir() + filepath.Base(p)
	s.e.Note("Dataduct uploaded the file when the pipeline was created; the activity copies it from the runner's host (parameter local_dir) every run")
	return []*named{{s.id(""), &definition.Activity{S3Copy: &definition.S3CopyActivity{From: "file://{{ .Params.local_dir }}/" + p, To: out}}}}, s.outputDir()
}

// extract exports a query (or a table) of a source database to the step's output: tab-separated
// text, as Dataduct wrote it, gzipped.
func (s *step) extract(typ string) ([]*named, string) {
	query, ok := s.sqlSource("sql", "source")
	if !ok {
		if t := s.get("table"); t != "" {
			if sc := s.get("schema"); sc != "" {
				t = sc + "." + t
			}
			query = "SELECT * FROM " + t
		} else {
			if s.e.Status != convert.LeftOut {
				s.e.Leave("neither sql, source nor table")
			}
			return nil, ""
		}
	}
	var conn string
	switch typ {
	case "extract-redshift":
		conn = s.redshift()
		s.e.Note("on Redshift the export is an UNLOAD: set export.iam_role to a role that can write to s3_base")
	default:
		host := or(s.get("host_name"), typ)
		conn = convert.ConnectionName(host)
		kind, example := "MySQL (RDS)", "mysql://USER:PASSWORD@"+host+":3306/"+or(s.get("database"), "DATABASE")
		if typ == "extract-postgres" {
			kind, example = "PostgreSQL", "postgres://USER:PASSWORD@"+host+":5432/"+or(s.get("database"), "DATABASE")
		}
		s.c.res.AddConnection(convert.Connection{Name: conn, Kind: kind, Source: "host_name " + host, Example: example})
	}
	s.get("database")
	out := s.outputDir()
	s.e.Note("the rows go to %s as csv (Dataduct wrote tab-separated text); the loads that read them use format csv", out)
	return []*named{{s.id(""), &definition.Activity{Export: &definition.ExportActivity{Connection: conn, Query: strings.TrimSuffix(strings.TrimSpace(query), ";"),
		To: out, Format: definition.ExportCSV}}}}, out
}

func (s *step) transform() ([]*named, string) {
	cmd := s.get("command")
	if script := s.get("script"); script != "" {
		s.localParam()
		cmd = "{{ .Params.local_dir }}/" + script
		for _, a := range strList(s.raw["script_arguments"]) {
			cmd += " " + shellQuote(a)
		}
		s.used["script_arguments"] = true
	}
	if sd := s.get("script_directory"); sd != "" {
		s.e.Note("script_directory %s: the script runs from local_dir on the runner's host", sd)
	}
	if cmd == "" {
		s.e.Leave("neither command nor script")
		return nil, ""
	}
	dir := "{{ .Params.staging_dir }}/{{ .RunID }}/" + convert.ActivityID(s.name)
	s.c.param("staging_dir", "/var/tmp/sluice-staging", "Directory on the runner's host where transform steps stage their input and output.")
	var acts []*named
	env := map[string]string{}
	if in, ok := s.input(); ok {
		local := dir + "/input1/"
		if !strings.HasSuffix(in, "/") {
			local += filepath.Base(in)
		}
		env["INPUT1_STAGING_DIR"] = dir + "/input1"
		acts = append(acts, &named{s.id("stage_input"), &definition.Activity{S3Copy: &definition.S3CopyActivity{From: in, To: "file://" + local}}})
	}
	noOutput := s.get("no_output") == "true"
	var output string
	if !noOutput {
		env["OUTPUT1_STAGING_DIR"] = dir + "/output1"
		cmd = `mkdir -p "$OUTPUT1_STAGING_DIR" && ` + cmd
	}
	acts = append(acts, &named{s.id(""), &definition.Activity{Shell: &definition.ShellActivity{Command: []string{"bash", "-c", cmd}, Env: env}}})
	if !noOutput {
		output = s.outputDir()
		acts = append(acts, &named{s.id("stage_output"), &definition.Activity{S3Copy: &definition.S3CopyActivity{From: "file://" + dir + "/output1/", To: output}}})
	}
	return acts, output
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// template makes the EMR template of emr_cluster_config, once.
func (s *step) template() string {
	c := s.c
	if c.tmpl != "" {
		return c.tmpl
	}
	e := c.res.Entry("emr_cluster_config", "pipeline setting")
	cfg := c.f.EMR
	if cfg == nil {
		cfg = map[string]any{}
		e.Note("no emr_cluster_config: one m5.xlarge master and one core node")
	}
	name := c.p.Name + "_emr"
	t := &definition.EMRTemplate{Format: definition.FormatEMRTemplate, Name: name, ReleaseLabel: "emr-5.36.2", Applications: []string{"Hadoop"},
		ServiceRole: "EMR_DefaultRole", JobFlowRole: "EMR_EC2_DefaultRole", IdleTimeout: "1h", StepConcurrency: 1}
	size := or(str(cfg, "instance_size"), "m5.xlarge")
	t.InstanceGroups.Master = definition.InstanceGroup{InstanceType: or(str(cfg, "master_instance_size"), size), Count: 1, Market: definition.MarketOnDemand}
	n := 1
	if v := str(cfg, "num_instances"); v != "" {
		if k, err := strconv.Atoi(v); err == nil {
			n = k
		}
	}
	if n > 0 {
		t.InstanceGroups.Core = &definition.InstanceGroup{InstanceType: size, Count: n, Market: definition.MarketOnDemand}
	}
	if b := str(cfg, "bootstrap"); b != "" {
		parts := strings.Split(b, ",")
		t.BootstrapActions = []definition.BootstrapAction{{Name: "bootstrap", Path: parts[0], Args: parts[1:]}}
	}
	if v := str(cfg, "release_label"); v != "" {
		t.ReleaseLabel = v
	} else {
		e.Note("release %s (Dataduct's AMI 3.x no longer launches): check the steps, or choose a newer release", t.ReleaseLabel)
	}
	for _, k := range convert.SortedKeys(cfg) {
		switch k {
		case "instance_size", "master_instance_size", "num_instances", "bootstrap", "release_label":
		default:
			e.Omit("emr_cluster_config.%s is not carried over", k)
		}
	}
	c.res.Templates = append(c.res.Templates, t)
	e.Become("sluice_emr_template %s", name)
	c.tmpl = name
	return name
}

func (s *step) emrStreaming() ([]*named, string) {
	mapper := s.get("mapper")
	if mapper == "" {
		s.e.Leave("no mapper")
		return nil, ""
	}
	in, ok := s.input()
	if v := s.get("input"); v != "" {
		in, ok = v, true
	}
	if !ok {
		s.e.Leave("no input")
		return nil, ""
	}
	out := s.outputDir()
	if v := s.get("output"); v != "" {
		out = v
	}
	s.c.param("code_root", "s3://BUCKET/dataduct/code", "Where the mapper and reducer scripts are (Dataduct uploaded them from the pipeline's directory): upload them there.")
	st := &definition.StreamingStep{Mapper: filepath.Base(mapper), Input: []string{in}, Output: out,
		Files: []string{"{{ .Params.code_root }}/" + filepath.Base(mapper)}}
	if r := s.get("reducer"); r != "" {
		st.Reducer = filepath.Base(r)
		st.Files = append(st.Files, "{{ .Params.code_root }}/"+filepath.Base(r))
	}
	if hp := s.get("hadoop_params"); hp != "" {
		s.e.Omit("hadoop_params %s are not carried over", hp)
	}
	s.e.Note("upload %s to code_root", strings.Join(st.Files, ", "))
	return []*named{{s.id(""), &definition.Activity{EMRStep: &definition.EMRStepActivity{Template: s.template(),
		Steps: []definition.EMRStep{{Name: s.name, Streaming: st}}}}}}, out
}

func (s *step) emrStep() []*named {
	var st definition.EMRStep
	st.Name = s.name
	if cmd, ok := s.raw["command"]; ok {
		s.used["command"] = true
		st.Command = strList(cmd)
	} else if ss := s.get("step_string"); ss != "" {
		parts := strings.Split(ss, ",")
		if strings.HasSuffix(parts[0], "command-runner.jar") {
			st.Command = parts[1:]
		} else {
			st.Jar = &definition.JarStep{Jar: parts[0], Args: parts[1:]}
		}
	} else if jar := s.get("jar"); jar != "" {
		st.Jar = &definition.JarStep{Jar: jar, MainClass: s.get("main_class"), Args: strList(s.raw["arguments"])}
		s.used["arguments"] = true
	} else {
		s.e.Leave("no command, step_string or jar")
		return nil
	}
	return []*named{{s.id(""), &definition.Activity{EMRStep: &definition.EMRStepActivity{Template: s.template(), Steps: []definition.EMRStep{st}}}}}
}

// --- Redshift steps ---------------------------------------------------------------------------

const redshiftConn = "redshift"

func (s *step) redshift() string {
	s.c.res.AddConnection(convert.Connection{Name: redshiftConn, Kind: "Redshift", Source: "Dataduct's redshift config",
		Example: "postgres://USER:PASSWORD@CLUSTER.XXXX.REGION.redshift.amazonaws.com:5439/DATABASE?sslmode=require"})
	return redshiftConn
}

// table is a parsed table definition: its name, its CREATE TABLE and its primary key.
type table struct {
	name, create string
	key          []string
}

var (
	createTable = regexp.MustCompile(`(?is)^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)`)
	tablePK     = regexp.MustCompile(`(?is)primary\s+key\s*\(([^)]*)\)`)
	columnPK    = regexp.MustCompile(`(?im)^\s*,?\s*([A-Za-z_][\w$]*)\s+[^,\n]*?\bprimary\s+key\b`)
)

func (s *step) tableDefinition() (*table, bool) {
	p := s.get("table_definition")
	if p == "" {
		s.e.Leave("no table_definition")
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(s.c.opts.Dir, p))
	if err != nil {
		s.e.Leave("table_definition %s cannot be read (%v): it is needed for the table's name and columns", p, err)
		return nil, false
	}
	sql := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(data)), ";"))
	m := createTable.FindStringSubmatch(sql)
	if m == nil {
		s.e.Leave("table_definition %s does not begin with CREATE TABLE", p)
		return nil, false
	}
	t := &table{name: m[1], create: regexp.MustCompile(`(?is)^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?`).ReplaceAllString(sql, "CREATE TABLE IF NOT EXISTS ")}
	if !strings.Contains(t.name, ".") {
		t.name = "public." + t.name
	}
	if k := tablePK.FindStringSubmatch(sql); k != nil {
		for _, col := range strings.Split(k[1], ",") {
			t.key = append(t.key, strings.TrimSpace(col))
		}
	} else {
		for _, k := range columnPK.FindAllStringSubmatch(sql, -1) {
			t.key = append(t.key, k[1])
		}
	}
	return t, true
}

func (s *step) createLoad() []*named {
	t, ok := s.tableDefinition()
	if !ok {
		return nil
	}
	in, ok := s.input()
	if !ok {
		s.e.Leave("nothing to load: no earlier step has an output")
		return nil
	}
	conn := s.redshift()
	mode := definition.InsertTruncate
	if m := strings.ToUpper(s.get("insert_mode")); m != "" {
		mode = m
	}
	if (mode == definition.InsertKeepExisting || mode == definition.InsertOverwriteExisting) && len(t.key) == 0 {
		s.e.Omit("insert_mode %s needs a primary key in the table definition: TRUNCATE", mode)
		mode = definition.InsertTruncate
	}
	format, opts := definition.FormatText, []string{"DELIMITER '\t'"}
	if s.c.csvOutputs[in] {
		format, opts = definition.FormatCSV, nil
	}
	if v := s.get("max_error"); v != "" {
		opts = append(opts, "MAXERROR "+v)
	}
	s.e.Note("the files load as %s; insert_mode %s", map[string]string{definition.FormatText: "tab-separated text (Dataduct's format)", definition.FormatCSV: "csv (an extract step's output)"}[format], mode)
	var keys []string
	if mode == definition.InsertKeepExisting || mode == definition.InsertOverwriteExisting {
		keys = t.key
	}
	return []*named{
		{s.id("create"), &definition.Activity{SQL: &definition.SQLActivity{Connection: conn, Statements: []string{t.create}}}},
		{s.id(""), &definition.Activity{RedshiftCopy: &definition.RedshiftCopyActivity{Connection: conn, Table: t.name, From: in,
			Format: format, InsertMode: mode, KeyColumns: keys, Options: opts}}},
	}
}

// sqlSource is a step's SQL: inline (sql, command) or a file (script, source).
func (s *step) sqlSource(inline, fileKey string) (string, bool) {
	if v := s.get(inline); v != "" {
		return v, true
	}
	if f := s.get(fileKey); f != "" {
		if strings.HasSuffix(strings.ToLower(f), ".sql") {
			data, err := os.ReadFile(filepath.Join(s.c.opts.Dir, f))
			if err != nil {
				s.e.Leave("%s %s cannot be read: %v", fileKey, f, err)
				return "", false
			}
			return string(data), true
		}
		return f, true // a SELECT written in place
	}
	return "", false
}

func (s *step) upsert(reload bool) []*named {
	t, ok := s.tableDefinition()
	if !ok {
		return nil
	}
	src, ok := s.sqlSource("sql", "source")
	if !ok {
		s.e.Leave("no source (the SELECT of the new rows)")
		return nil
	}
	src = strings.TrimSuffix(strings.TrimSpace(src), ";")
	conn := s.redshift()
	staging := strings.ReplaceAll(t.name, ".", "_") + "_staging"
	stmts := []string{t.create, fmt.Sprintf("CREATE TEMPORARY TABLE %s AS %s", staging, src)}
	switch {
	case reload:
		stmts = append(stmts, "DELETE FROM "+t.name)
	case len(t.key) == 0:
		s.e.Omit("the table definition has no primary key: the rows are appended, nothing is replaced")
	default:
		var on []string
		for _, k := range t.key {
			on = append(on, fmt.Sprintf("%s.%s = %s.%s", t.name, k, staging, k))
		}
		stmts = append(stmts, fmt.Sprintf("DELETE FROM %s USING %s WHERE %s", t.name, staging, strings.Join(on, " AND ")))
	}
	stmts = append(stmts, fmt.Sprintf("INSERT INTO %s SELECT * FROM %s", t.name, staging))
	if s.get("enforce_primary_key") == "false" {
		s.e.Note("enforce_primary_key false: duplicates in the source stay")
	}
	if h := s.get("history_table"); h != "" {
		s.e.Omit("history_table %s is not kept", h)
	}
	return []*named{{s.id(""), &definition.Activity{SQL: &definition.SQLActivity{Connection: conn, Statements: stmts}}}}
}

func (s *step) sqlCommand() []*named {
	sql, ok := s.sqlSource("command", "script")
	if !ok {
		if s.e.Status != convert.LeftOut {
			s.e.Leave("neither command nor script")
		}
		return nil
	}
	if args := strList(s.raw["script_arguments"]); len(args) > 0 {
		s.used["script_arguments"] = true
		s.e.Omit("script_arguments %v are not bound: write them into the SQL", args)
	}
	if s.get("wrap_transaction") == "false" {
		s.e.Note("wrap_transaction false: sluice runs a sql activity's statements in one transaction")
	}
	return []*named{{s.id(""), &definition.Activity{SQL: &definition.SQLActivity{Connection: s.redshift(), Statements: convert.SplitSQL(sql)}}}}
}

func (s *step) createUpdate() []*named {
	t, ok := s.tableDefinition()
	if !ok {
		return nil
	}
	sql, ok := s.sqlSource("command", "script")
	if !ok {
		if s.e.Status != convert.LeftOut {
			s.e.Leave("neither command nor script")
		}
		return nil
	}
	stmts := append([]string{t.create}, convert.SplitSQL(sql)...)
	if s.get("analyze_table") != "false" {
		stmts = append(stmts, "ANALYZE "+t.name)
	}
	if s.get("non_transactional") == "true" {
		s.e.Note("non_transactional: sluice runs the statements in one transaction")
	}
	return []*named{{s.id(""), &definition.Activity{SQL: &definition.SQLActivity{Connection: s.redshift(), Statements: stmts}}}}
}

func (s *step) primaryKeyCheck() []*named {
	t, ok := s.tableDefinition()
	if !ok {
		return nil
	}
	if len(t.key) == 0 {
		s.e.Leave("the table definition has no primary key to check")
		return nil
	}
	if s.get("log_to_s3") == "true" {
		s.e.Note("log_to_s3: the check's result is in the runner's state and status, not in S3")
	}
	return []*named{{s.id(""), &definition.Activity{Check: &definition.CheckActivity{Connection: s.redshift(), Table: t.name,
		Unique: t.key, NotNull: t.key, Severity: definition.SeverityFail}}}}
}
