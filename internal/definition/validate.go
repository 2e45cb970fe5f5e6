package definition

import (
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a definition. Path names the attribute with the JSON/HCL
// attribute names, dot-separated: "schedule.cron", "activities.load.redshift_copy.insert_mode",
// "activities.extract.shell.command.1". A segment after a map attribute (activities,
// parameters, env) is the map key; a numeric segment after a list attribute is the list index.
// The provider maps it to an attribute path; the runner prints it.
type Problem struct {
	Path    string
	Message string
}

// String is "path: message".
func (p Problem) String() string { return p.Path + ": " + p.Message }

// Problems is a list of problems; as an error it lists them one per line.
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sort orders problems by path, then message, so that output is deterministic.
func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Path != ps[j].Path {
			return ps[i].Path < ps[j].Path
		}
		return ps[i].Message < ps[j].Message
	})
}

// Patterns of names, documented with the attributes that use them.
const (
	// ParameterNamePattern is the form of parameter names, so templates can say .Params.name.
	ParameterNamePattern = `^[A-Za-z_][A-Za-z0-9_]{0,127}$`
	// ConnectionNamePattern is the form of connection names: a letter, then letters, digits or
	// underscores; a runner resolves connection "warehouse" from SLUICE_CONN_WAREHOUSE.
	ConnectionNamePattern = `^[A-Za-z][A-Za-z0-9_]{0,62}$`
	// TablePattern is a schema-qualified table name, schema.table, each part an unquoted
	// identifier.
	TablePattern = `^[A-Za-z_][A-Za-z0-9_$]{0,126}\.[A-Za-z_][A-Za-z0-9_$]{0,126}$`
)

var (
	parameterPattern  = regexp.MustCompile(ParameterNamePattern)
	connectionPattern = regexp.MustCompile(ConnectionNamePattern)
	tablePattern      = regexp.MustCompile(TablePattern)
	columnPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,126}$`)
	snsARNPattern     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	iamRoleARNPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/.+$`)
	clusterIDPattern  = regexp.MustCompile(`^j-[A-Z0-9]{1,64}$`)
)

// Actions on failure of an EMR step.
const (
	ActionContinue         = "CONTINUE"
	ActionTerminateCluster = "TERMINATE_CLUSTER"
)

// ActionsOnFailure lists the allowed action_on_failure values of an EMR step (empty means the
// default: TERMINATE_CLUSTER on a transient cluster, CONTINUE on an existing one).
func ActionsOnFailure() []string { return []string{ActionContinue, ActionTerminateCluster} }

// ValidatePipeline checks everything about a pipeline that can be known without AWS: the name,
// the schedule (as Schedule.Compile), durations, each activity's settings, every templated string
// (as CheckTemplate with the pipeline's parameters), notification targets and the DAG (as
// ValidateDAG). Problems come back sorted by path; none means valid.
func ValidatePipeline(p *Pipeline) []Problem {
	if p == nil {
		return []Problem{{Path: "", Message: "no pipeline"}}
	}
	v := &validator{params: p.templateParams()}
	if p.Format != FormatPipeline {
		v.add("format", "is %q, expected %q", p.Format, FormatPipeline)
	}
	if err := ValidateName("pipeline", p.Name); err != nil {
		v.add("name", "%s", err)
	}
	if p.HasSchedule() {
		_, schedProbs := compileSchedule(p.Schedule, "schedule")
		v.probs = append(v.probs, schedProbs...)
	}
	v.trigger(p)
	for _, k := range sortedKeys(p.Parameters) {
		if !parameterPattern.MatchString(k) {
			v.add("parameters."+k, "parameter name %q must be a letter or underscore followed by letters, digits or underscores, so templates can use it as .Params.%s", k, k)
		}
	}
	v.nonNegative("defaults.retries", p.Defaults.Retries)
	v.duration("defaults.retry_delay", p.Defaults.RetryDelay, false)
	v.duration("defaults.timeout", p.Defaults.Timeout, false)
	for _, id := range sortedKeys(p.Activities) {
		v.activity("activities."+id, p.Activities[id])
	}
	v.notify(p.Notify)
	v.probs = append(v.probs, ValidateDAG(p.Activities)...)
	v.probs.sort()
	if len(v.probs) == 0 {
		return nil
	}
	return v.probs
}

type validator struct {
	params map[string]string
	probs  Problems
}

func (v *validator) add(path, format string, args ...any) { v.probs.add(path, format, args...) }

func (v *validator) nonNegative(path string, n int) {
	if n < 0 {
		v.add(path, "must be 0 or more, got %d", n)
	}
}

// duration checks a duration attribute (ParseDuration) and that it is longer than zero.
func (v *validator) duration(path, s string, required bool) {
	if s == "" {
		if required {
			v.add(path, `is required: a duration such as "30s", "15m", "1h" or "1d"`)
		}
		return
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		v.add(path, "%v", err)
	case d <= 0:
		v.add(path, "%q must be longer than zero", s)
	}
}

// required reports a missing string.
func (v *validator) required(path, s, what string) bool {
	if strings.TrimSpace(s) == "" {
		v.add(path, "is required: %s", what)
		return false
	}
	return true
}

// tmpl checks a templated string and returns its rendering with sample data; ok is false when
// the template is invalid (the problem is reported).
func (v *validator) tmpl(path, s string) (sample string, ok bool) {
	out, err := renderChecked(s, SampleTemplateData(v.params))
	if err != nil {
		v.add(path, "template %q: %v", s, err)
		return "", false
	}
	return out, true
}

func (v *validator) tmplList(path string, list []string) {
	for i, s := range list {
		v.tmpl(path+"."+strconv.Itoa(i), s)
	}
}

// location checks a templated s3:// or file:// location (after rendering with sample data).
func (v *validator) location(path, s string, schemes ...string) {
	if !v.required(path, s, "a location starting with "+strings.Join(schemes, " or ")) {
		return
	}
	sample, ok := v.tmpl(path, s)
	if !ok {
		return
	}
	for _, scheme := range schemes {
		if strings.HasPrefix(sample, scheme) && len(sample) > len(scheme) {
			return
		}
	}
	v.add(path, "%q must start with %s followed by a location", s, strings.Join(schemes, " or "))
}

// table checks a (possibly templated) schema.table name.
func (v *validator) table(path, s string) {
	if !v.required(path, s, "a schema-qualified table name such as \"analytics.clicks\"") {
		return
	}
	sample, ok := v.tmpl(path, s)
	if ok && !tablePattern.MatchString(sample) {
		v.add(path, "%q must be a schema-qualified table name, schema.table, such as \"analytics.clicks\"", s)
	}
}

func (v *validator) connection(path, name string) {
	if !v.required(path, name, "the name of a connection the runner resolves, such as \"warehouse\"") {
		return
	}
	if !connectionPattern.MatchString(name) {
		v.add(path, "connection name %q must be a letter followed by up to 62 letters, digits or underscores (the runner reads SLUICE_CONN_<NAME>)", name)
	}
}

func (v *validator) columns(path string, cols []string) {
	seen := map[string]bool{}
	for i, c := range cols {
		p := path + "." + strconv.Itoa(i)
		switch {
		case !columnPattern.MatchString(c):
			v.add(p, "%q is not a column name", c)
		case seen[c]:
			v.add(p, "column %q is listed twice", c)
		}
		seen[c] = true
	}
}

func oneOf(value string, allowed []string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	return false
}

func (v *validator) enum(path, value string, allowed []string) {
	if !oneOf(value, allowed) {
		v.add(path, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func (v *validator) activity(base string, a *Activity) {
	if a == nil {
		v.add(base, "is empty: set exactly one of %s", strings.Join(ActivityKinds(), ", "))
		return
	}
	switch kinds := a.Kinds(); len(kinds) {
	case 0:
		v.add(base, "set exactly one of %s; none is set", strings.Join(ActivityKinds(), ", "))
	case 1:
	default:
		v.add(base, "set exactly one of %s; found %s", strings.Join(ActivityKinds(), ", "), strings.Join(kinds, " and "))
	}
	if a.Retries != nil {
		v.nonNegative(base+".retries", *a.Retries)
	}
	v.duration(base+".timeout", a.Timeout, false)
	v.waitFor(base+".wait_for", a.WaitFor)
	v.shell(base+"."+KindShell, a.Shell)
	v.s3Copy(base+"."+KindS3Copy, a.S3Copy)
	v.emrStep(base+"."+KindEMRStep, a.EMRStep)
	v.redshiftCopy(base+"."+KindRedshiftCopy, a.RedshiftCopy)
	v.sql(base+"."+KindSQL, a.SQL)
	v.check(base+"."+KindCheck, a.Check)
	v.streamPut(base+"."+KindStreamPut, a.StreamPut)
	v.export(base+"."+KindExport, a.Export)
}

func (v *validator) export(base string, x *ExportActivity) {
	if x == nil {
		return
	}
	v.connection(base+".connection", x.Connection)
	if v.required(base+".query", x.Query, "a SELECT") {
		v.tmpl(base+".query", x.Query)
	}
	v.location(base+".to", x.To, "s3://", "file://")
	v.enum(base+".format", x.Format, ExportFormats())
	if x.Header && x.Format == ExportJSON {
		v.add(base+".header", "applies to format csv only")
	}
	if x.IAMRole != "" && !iamRoleARNPattern.MatchString(x.IAMRole) {
		v.add(base+".iam_role", "%q is not an IAM role ARN such as \"arn:aws:iam::123456789012:role/redshift-unload\"", x.IAMRole)
	}
}

// load checks what redshift_copy and stream_put's load share: the table, the files, their format
// and how rows are added.
func (v *validator) load(base, table, from, format, insertMode string, keys []string, schemes ...string) {
	v.table(base+".table", table)
	v.location(base+".from", from, append([]string{"s3://", "file://"}, schemes...)...)
	v.enum(base+".format", format, CopyFormats())
	v.enum(base+".insert_mode", insertMode, InsertModes())
	if (insertMode == InsertKeepExisting || insertMode == InsertOverwriteExisting) && len(keys) == 0 {
		v.add(base+".key_columns", "insert_mode %s needs key_columns: the columns that identify a row", insertMode)
	}
	v.columns(base+".key_columns", keys)
}

// MaxPartitionKeyLength is Kinesis's limit on a partition key (in Unicode characters).
const MaxPartitionKeyLength = 256

func (v *validator) streamPut(base string, s *StreamPutActivity) {
	if s == nil {
		return
	}
	if err := ValidateName("replication", s.Replication); err != nil {
		v.add(base+".replication", "%s", err)
	}
	switch {
	case len(s.Statements) == 0 && s.Load == nil:
		v.add(base, "set exactly one of statements and load; none is set")
	case len(s.Statements) > 0 && s.Load != nil:
		v.add(base, "set exactly one of statements and load; both are set")
	}
	for i, st := range s.Statements {
		p := base + ".statements." + strconv.Itoa(i)
		if v.required(p, st, "a SQL statement") {
			v.tmpl(p, st)
		}
	}
	if s.PartitionKey != "" {
		if sample, ok := v.tmpl(base+".partition_key", s.PartitionKey); ok && len([]rune(sample)) > MaxPartitionKeyLength {
			v.add(base+".partition_key", "is %d characters, over Kinesis's limit of %d", len([]rune(sample)), MaxPartitionKeyLength)
		}
	}
	if l := s.Load; l != nil {
		v.load(base+".load", l.Table, l.From, l.Format, l.InsertMode, l.KeyColumns)
	}
}

func (v *validator) waitFor(base string, w *WaitFor) {
	if w == nil {
		return
	}
	var set []string
	if w.S3KeyExists != "" {
		set = append(set, "s3_key_exists")
		v.location(base+".s3_key_exists", w.S3KeyExists, "s3://", "file://")
	}
	if w.S3PrefixNotEmpty != "" {
		set = append(set, "s3_prefix_not_empty")
		v.location(base+".s3_prefix_not_empty", w.S3PrefixNotEmpty, "s3://", "file://")
	}
	if q := w.SQLReturnsRows; q != nil {
		set = append(set, "sql_returns_rows")
		v.connection(base+".sql_returns_rows.connection", q.Connection)
		if v.required(base+".sql_returns_rows.sql", q.SQL, "a query") {
			v.tmpl(base+".sql_returns_rows.sql", q.SQL)
		}
	}
	if w.Pipeline != nil {
		set = append(set, "pipeline")
		v.waitForPipeline(base+".pipeline", w.Pipeline)
	}
	if len(set) != 1 {
		found := "none is set"
		if len(set) > 1 {
			found = "found " + strings.Join(set, " and ")
		}
		v.add(base, "set exactly one condition of s3_key_exists, s3_prefix_not_empty, sql_returns_rows, pipeline; %s", found)
	}
	v.duration(base+".poke_interval", w.PokeInterval, false)
	v.duration(base+".timeout", w.Timeout, false)
}

func (v *validator) shell(base string, s *ShellActivity) {
	if s == nil {
		return
	}
	if len(s.Command) == 0 || strings.TrimSpace(s.Command[0]) == "" {
		v.add(base+".command", "is required: the program and its arguments, e.g. [\"python3\", \"extract.py\"]")
	}
	v.tmplList(base+".command", s.Command)
	for _, k := range sortedKeys(s.Env) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			v.add(base+".env."+k, "environment variable name %q must be non-empty and contain no '='", k)
		}
		v.tmpl(base+".env."+k, s.Env[k])
	}
	if s.Dir != "" {
		v.tmpl(base+".dir", s.Dir)
	}
}

func (v *validator) s3Copy(base string, c *S3CopyActivity) {
	if c == nil {
		return
	}
	v.location(base+".from", c.From, "s3://", "file://")
	v.location(base+".to", c.To, "s3://", "file://")
}

func (v *validator) emrStep(base string, e *EMRStepActivity) {
	if e == nil {
		return
	}
	switch {
	case e.Template != "" && e.ClusterID != "":
		v.add(base, "set exactly one of template (a transient cluster) and cluster_id (an existing cluster), not both")
	case e.Template == "" && e.ClusterID == "":
		v.add(base, "set exactly one of template (a transient cluster) and cluster_id (an existing cluster)")
	case e.Template != "" && ValidateName("EMR template", e.Template) != nil:
		v.add(base+".template", "%s", ValidateName("EMR template", e.Template))
	case e.ClusterID != "" && !clusterIDPattern.MatchString(e.ClusterID):
		v.add(base+".cluster_id", "%q is not an EMR cluster id such as \"j-2AXXXXXXGAPLF\"", e.ClusterID)
	}
	if len(e.Steps) == 0 {
		v.add(base+".steps", "at least one step is required")
	}
	v.duration(base+".expected_duration", e.ExpectedDuration, false)
	for i := range e.Steps {
		v.emrStepStep(base+".steps."+strconv.Itoa(i), &e.Steps[i])
	}
}

func (v *validator) emrStepStep(base string, s *EMRStep) {
	v.required(base+".name", s.Name, "a step name, shown in the EMR console")
	if s.ActionOnFailure != "" {
		v.enum(base+".action_on_failure", s.ActionOnFailure, ActionsOnFailure())
	}
	var set []string
	if len(s.Command) > 0 {
		set = append(set, "command")
		v.tmplList(base+".command", s.Command)
	}
	if st := s.Streaming; st != nil {
		set = append(set, "streaming")
		p := base + ".streaming"
		if v.required(p+".mapper", st.Mapper, "the mapper command") {
			v.tmpl(p+".mapper", st.Mapper)
		}
		if st.Reducer != "" {
			v.tmpl(p+".reducer", st.Reducer)
		}
		if len(st.Input) == 0 {
			v.add(p+".input", "at least one input location is required")
		}
		for i, in := range st.Input {
			v.location(p+".input."+strconv.Itoa(i), in, "s3://", "file://", "hdfs://")
		}
		v.location(p+".output", st.Output, "s3://", "file://", "hdfs://")
		v.tmplList(p+".files", st.Files)
	}
	if len(s.Spark) > 0 {
		set = append(set, "spark")
		v.tmplList(base+".spark", s.Spark)
	}
	if j := s.Jar; j != nil {
		set = append(set, "jar")
		if v.required(base+".jar.jar", j.Jar, "the JAR's location") {
			v.tmpl(base+".jar.jar", j.Jar)
		}
		v.tmplList(base+".jar.args", j.Args)
	}
	if len(set) != 1 {
		found := "none is set"
		if len(set) > 1 {
			found = "found " + strings.Join(set, " and ")
		}
		v.add(base, "set exactly one of command, streaming, spark, jar; %s", found)
	}
}

func (v *validator) redshiftCopy(base string, r *RedshiftCopyActivity) {
	if r == nil {
		return
	}
	switch {
	case r.Connection != "" && len(r.Connections) > 0:
		v.add(base, "set exactly one of connection and connections (to fan out to replicas), not both")
	case r.Connection == "" && len(r.Connections) == 0:
		v.add(base, "set exactly one of connection and connections (to fan out to replicas)")
	case r.Connection != "":
		v.connection(base+".connection", r.Connection)
	default:
		seen := map[string]bool{}
		for i, c := range r.Connections {
			p := base + ".connections." + strconv.Itoa(i)
			if seen[c] {
				v.add(p, "connection %q is listed twice", c)
			} else {
				v.connection(p, c)
			}
			seen[c] = true
		}
	}
	// dynamodb://TABLE: Redshift reads a DynamoDB table itself (the runner refuses it elsewhere).
	v.load(base, r.Table, r.From, r.Format, r.InsertMode, r.KeyColumns, "dynamodb://")
	if r.IAMRole != "" && !iamRoleARNPattern.MatchString(r.IAMRole) {
		v.add(base+".iam_role", "%q is not an IAM role ARN such as \"arn:aws:iam::123456789012:role/redshift-copy\"", r.IAMRole)
	}
}

func (v *validator) sql(base string, s *SQLActivity) {
	if s == nil {
		return
	}
	v.connection(base+".connection", s.Connection)
	if len(s.Statements) == 0 {
		v.add(base+".statements", "at least one statement is required")
	}
	for i, st := range s.Statements {
		p := base + ".statements." + strconv.Itoa(i)
		if v.required(p, st, "a SQL statement") {
			v.tmpl(p, st)
		}
	}
}

func (v *validator) check(base string, c *CheckActivity) {
	if c == nil {
		return
	}
	v.connection(base+".connection", c.Connection)
	v.table(base+".table", c.Table)
	if c.Where != "" {
		v.tmpl(base+".where", c.Where)
	}
	v.enum(base+".severity", c.Severity, Severities())
	if c.RowCount == nil && len(c.Unique) == 0 && len(c.NotNull) == 0 && c.Freshness == nil {
		v.add(base, "set at least one of row_count, unique, not_null, freshness")
	}
	if rc := c.RowCount; rc != nil {
		switch {
		case rc.Min == nil && rc.Max == nil:
			v.add(base+".row_count", "set min, max or both")
		case rc.Min != nil && *rc.Min < 0:
			v.add(base+".row_count.min", "must be 0 or more, got %d", *rc.Min)
		case rc.Min != nil && rc.Max != nil && *rc.Min > *rc.Max:
			v.add(base+".row_count", "min %d is greater than max %d", *rc.Min, *rc.Max)
		}
	}
	v.columns(base+".unique", c.Unique)
	v.columns(base+".not_null", c.NotNull)
	if f := c.Freshness; f != nil {
		if v.required(base+".freshness.column", f.Column, "the timestamp column") && !columnPattern.MatchString(f.Column) {
			v.add(base+".freshness.column", "%q is not a column name", f.Column)
		}
		v.duration(base+".freshness.max_age", f.MaxAge, true)
	}
}

func (v *validator) notify(n *Notify) {
	if n == nil {
		return
	}
	v.targets("notify.on_failure", n.OnFailure, false)
	v.targets("notify.on_success", n.OnSuccess, false)
	if n.OnLate != nil {
		v.duration("notify.on_late.after", n.OnLate.After, true)
		v.targets("notify.on_late.targets", n.OnLate.Targets, true)
	}
}

func (v *validator) targets(path string, targets []string, required bool) {
	if required && len(targets) == 0 {
		v.add(path, "at least one target is required: an SNS topic ARN or an http(s) webhook URL")
	}
	for i, t := range targets {
		if !isNotifyTarget(t) {
			v.add(path+"."+strconv.Itoa(i), "%q is neither an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC) nor an http(s) URL", t)
		}
	}
}

func isNotifyTarget(t string) bool {
	if strings.HasPrefix(t, "arn:") {
		return snsARNPattern.MatchString(t)
	}
	u, err := url.Parse(t)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
