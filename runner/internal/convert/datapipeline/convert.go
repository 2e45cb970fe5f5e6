package datapipeline

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// Options tune a conversion.
type Options struct {
	// Name is the pipeline's name; empty means the file's base name.
	Name string
	// Source names the file in the report.
	Source string
	// Values are parameter values (a --values file) that override the definition's defaults
	// and its own "values".
	Values map[string]string
	// Now is the conversion's clock: the default start of a schedule that starts at activation.
	Now time.Time
}

// ParseValues reads a parameter values file: {"values": {"myParam": "v", "myList": ["a", "b"]}}.
func ParseValues(data []byte) (map[string]string, error) {
	d, err := parseDefinition(append([]byte(`{"objects":[{"id":"Default"}],`), trimBrace(data)...))
	if err != nil {
		return nil, fmt.Errorf("not a parameter values file ({\"values\": {...}}): %w", err)
	}
	return d.values, nil
}

func trimBrace(data []byte) []byte {
	s := strings.TrimSpace(string(data))
	if !strings.HasPrefix(s, "{") {
		return []byte("}")
	}
	return []byte(s[1:])
}

// Object types, by what they are.
var (
	activityTypes = []string{"ShellCommandActivity", "CopyActivity", "SqlActivity", "RedshiftCopyActivity", "EmrActivity",
		"HiveActivity", "HiveCopyActivity", "PigActivity", "HadoopActivity"}
	dataNodeTypes     = []string{"S3DataNode", "SqlDataNode", "RedshiftDataNode", "MySqlDataNode", "DynamoDBDataNode"}
	databaseTypes     = []string{"RedshiftDatabase", "RdsDatabase", "JdbcDatabase"}
	preconditionTypes = []string{"S3KeyExists", "S3PrefixNotEmpty", "Exists", "ShellCommandPrecondition", "DynamoDBTableExists",
		"DynamoDBDataExists"}
	formatTypes = []string{"CSV", "TSV", "Custom", "RegEx", "DynamoDBDataFormat", "DynamoDBExportDataFormat"}
)

// ignoredFields are fields whose absence in sluice changes nothing a run does, with why.
var ignoredFields = map[string]string{
	"role":                  "sluice runs with the runner's AWS credentials",
	"resourceRole":          "sluice runs with the runner's AWS credentials",
	"pipelineLogUri":        "the runner keeps each attempt's log in its state database and shows it in status",
	"failureAndRerunMode":   "a failed activity fails its run; its dependents do not run, and a reprocess runs the interval again (as CASCADE)",
	"workerGroup":           "the activity runs on the runner's host",
	"reportProgressTimeout": "sluice has no progress reports; timeout bounds an attempt",
	"description":           "kept in the report only",
	"region":                "the runner's AWS region applies",
	"maximumRetries":        "",
	"scheduleType":          "",
	"parent":                "",
}

type converter struct {
	opts   Options
	def    *definitionFile
	res    *convert.Result
	p      *definition.Pipeline
	params map[string]*parameter
	// paramVars maps a parameter id to its Terraform variable.
	paramVars map[string]string
	entries   map[*object]*convert.Entry
	units     map[*object]*unit
	conns     map[*object]string
	templates map[*object]string
	// retryDelays collects the retryDelay of the activities, for defaults.retry_delay.
	retryDelays map[string]int
	// steps keeps the steps of the activities of a cluster while they merge.
	steps map[*unit][]definition.EMRStep
	// nodeUsers are the activities that use each data node.
	nodeUsers map[*object][]*object
}

// unit is what one Data Pipeline activity became: a chain of sluice activities (checks and
// preparation, the activity itself, then staging out), run in order.
type unit struct {
	obj   *object
	chain []*node
	// main is the node that does the activity's work (an emr_step for EMR activities).
	main *node
}

type node struct {
	id  string
	act *definition.Activity
}

func (u *unit) entry() *node { return u.chain[0] }
func (u *unit) exit() *node  { return u.chain[len(u.chain)-1] }

// Convert converts a definition.
func Convert(data []byte, opts Options) (*convert.Result, error) {
	def, err := parseDefinition(data)
	if err != nil {
		return nil, err
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	name := opts.Name
	if name == "" {
		name = convert.ActivityID(strings.TrimSuffix(path.Base(opts.Source), path.Ext(opts.Source)))
	}
	if err := definition.ValidateName("pipeline", name); err != nil {
		return nil, fmt.Errorf("pipeline name: %w", err)
	}
	c := &converter{
		opts: opts, def: def,
		res:         &convert.Result{Source: opts.Source, Kind: "AWS Data Pipeline", ParamVars: map[string]string{}},
		p:           &definition.Pipeline{Format: definition.FormatPipeline, Name: name, Enabled: true, Activities: map[string]*definition.Activity{}},
		params:      map[string]*parameter{},
		paramVars:   map[string]string{},
		entries:     map[*object]*convert.Entry{},
		units:       map[*object]*unit{},
		conns:       map[*object]string{},
		templates:   map[*object]string{},
		retryDelays: map[string]int{},
		nodeUsers:   map[*object][]*object{},
	}
	c.res.Pipeline = c.p
	for k, v := range opts.Values {
		def.values[k] = v
	}
	c.convert()
	return c.res, nil
}

func (c *converter) entry(o *object) *convert.Entry {
	if e, ok := c.entries[o]; ok {
		return e
	}
	e := c.res.Entry(o.id, o.typ)
	c.entries[o] = e
	return e
}

func (c *converter) convert() {
	for _, p := range c.def.params {
		c.params[strings.TrimPrefix(p.id, "*")] = p
	}
	for _, p := range c.def.params {
		c.parameter(p)
	}
	c.schedule()
	for _, o := range c.def.objects {
		switch {
		case slices.Contains(databaseTypes, o.typ):
			c.database(o)
		case o.typ == "EmrCluster":
			c.emrCluster(o)
		}
	}
	var acts []*object
	for _, o := range c.def.objects {
		if slices.Contains(activityTypes, o.typ) {
			acts = append(acts, o)
			c.activity(o)
		}
	}
	c.wire(acts)
	c.defaults(acts)
	for _, o := range c.def.objects {
		c.rest(o)
	}
	c.res.SortEntries()
}

// --- parameters -------------------------------------------------------------------------------

func (c *converter) param(name string) *parameter { return c.params[strings.TrimPrefix(name, "*")] }

func (c *converter) paramVar(p *parameter) string {
	if v, ok := c.paramVars[p.id]; ok {
		return v
	}
	v := convert.VariableName(strings.TrimPrefix(p.id, "*"))
	c.paramVars[p.id] = v
	return v
}

// parameter makes the variable of a parameter. A secure parameter's value is never written.
func (c *converter) parameter(p *parameter) {
	e := c.res.Entry(p.id, "parameter")
	desc := p.description
	if desc == "" {
		desc = "Data Pipeline parameter " + p.id
	}
	if p.secure {
		e.Become("not a variable: secrets stay out of Terraform")
		e.Note("secure parameter: wherever it is used, the report says where its value must come from (a connection or the runner's environment); its value was not read")
		return
	}
	v := convert.Variable{Name: c.paramVar(p), Description: desc}
	if val, ok := c.def.values[p.id]; ok {
		v.Default = &val
		e.Note("default from the parameter values: %q", val)
	} else if p.def != nil {
		v.Default = p.def
	} else {
		e.Note("no default and no value: terraform asks for variable %s", v.Name)
	}
	if len(p.allowed) > 0 {
		e.Note("allowed values (%s) are not enforced: add a validation block to variable %s if they matter", strings.Join(p.allowed, ", "), v.Name)
	}
	if p.isArray {
		e.Note("an array parameter becomes one comma-separated string")
	}
	c.res.AddVariable(v)
	e.Become("variable %s, pipeline parameter %s", v.Name, p.id)
}

// useParam declares a parameter the templates use in the pipeline's parameters.
func (c *converter) useParam(p *parameter) {
	if c.p.Parameters == nil {
		c.p.Parameters = map[string]string{}
	}
	v := c.paramVar(p)
	val := ""
	for _, have := range c.res.Variables {
		if have.Name == v && have.Default != nil {
			val = *have.Default
		}
	}
	c.p.Parameters[p.id] = val
	c.res.ParamVars[p.id] = v
}

// tmpl, shell and static translate a field of o in each mode.
func (c *converter) tmpl(o *object, field, s string) string {
	return exprCtx{c: c, obj: o, field: field, mode: modeTemplate}.translate(s)
}

func (c *converter) shell(o *object, field, s string) string {
	return exprCtx{c: c, obj: o, field: field, mode: modeShell}.translate(s)
}

func (c *converter) static(o *object, field, s string) string {
	return exprCtx{c: c, obj: o, field: field, mode: modeStatic}.translate(s)
}

// --- schedule ---------------------------------------------------------------------------------

var periodPattern = regexp.MustCompile(`^\s*(\d+)\s*(minute|hour|day|week|month|year)s?\s*$`)

func (c *converter) schedule() {
	dflt := c.def.byID["Default"]
	scheduleType := ""
	if dflt != nil {
		scheduleType = strings.ToLower(dflt.own("scheduleType"))
	}
	var sched *object
	if dflt != nil {
		sched = dflt.ref("schedule")
	}
	if sched == nil {
		// The schedule most activities use.
		counts := map[*object]int{}
		for _, o := range c.def.objects {
			if slices.Contains(activityTypes, o.typ) {
				if s := o.ref("schedule"); s != nil {
					counts[s]++
				}
			}
		}
		for _, o := range c.def.objects {
			if counts[o] > 0 && (sched == nil || counts[o] > counts[sched]) {
				sched = o
			}
		}
	}
	s := &c.p.Schedule
	if scheduleType == "ondemand" || sched == nil {
		c.p.Enabled = false
		s.Every = "1d"
		s.Start = c.startVariable("")
		why := "an on-demand pipeline"
		if scheduleType != "ondemand" {
			why = "a pipeline without a schedule"
		}
		c.res.Decide("The source is %s: the pipeline is published disabled (enabled = false) and runs when asked: "+
			"`sluice-runner run %s --interval START`. The daily schedule only gives the runs their intervals.", why, c.p.Name)
		if dflt != nil {
			c.entry(dflt).Become("pipeline %s (disabled, run on demand)", c.p.Name)
		}
		return
	}
	e := c.entry(sched)
	e.Become("schedule of pipeline %s", c.p.Name)
	period := sched.str("period")
	m := periodPattern.FindStringSubmatch(strings.ToLower(period))
	if m == nil {
		e.Omit("period %q is not N minutes/hours/days/weeks/months/years: the schedule is daily; set it", period)
		m = []string{"", "1", "day"}
	}
	n, _ := strconv.Atoi(m[1])
	unitName := m[2]
	var start time.Time
	switch {
	case sched.str("startDateTime") != "":
		raw := c.static(sched, "startDateTime", sched.str("startDateTime"))
		t, err := parseDPTime(raw)
		if err != nil {
			e.Omit("startDateTime %q is not a time such as 2026-01-01T00:00:00: the start is a variable", raw)
			s.Start = c.startVariable("")
		} else {
			start = t
			s.Start = t.Format(time.RFC3339)
			s.Catchup = true
			e.Note("Data Pipeline ran every period since startDateTime: catchup = true does the same (the plan shows backfill_runs); " +
				"set catchup = false to start from now, and backfill older intervals with sluice-runner backfill")
		}
	default:
		if at := sched.str("startAt"); at != "" && at != "FIRST_ACTIVATION_DATE_TIME" {
			e.Omit("startAt %q is not FIRST_ACTIVATION_DATE_TIME", at)
		}
		s.Start = c.startVariable(unitName)
		c.res.Decide("The schedule started at activation (FIRST_ACTIVATION_DATE_TIME): set variable start to when the first interval starts.")
	}
	switch unitName {
	case "minute":
		s.Every = fmt.Sprintf("%dm", n)
	case "hour":
		s.Every = fmt.Sprintf("%dh", n)
	case "day":
		s.Every = fmt.Sprintf("%dd", n)
	case "week":
		s.Every = fmt.Sprintf("%dd", 7*n)
	case "month", "year":
		at := start
		if at.IsZero() {
			at = time.Date(c.opts.Now.Year(), c.opts.Now.Month(), 1, 0, 0, 0, 0, time.UTC)
			e.Note("a monthly or yearly schedule fires on the start's day and time: cron is set from the first of the month at 00:00; change it with start")
		}
		if unitName == "month" {
			months := "*"
			if n > 1 {
				months = fmt.Sprintf("%d-12/%d", int(at.Month()), n)
				e.Note("every %d months became months %s of each year (cron restarts each January)", n, months)
			}
			s.Cron = fmt.Sprintf("%d %d %d %s *", at.Minute(), at.Hour(), at.Day(), months)
		} else {
			if n > 1 {
				e.Omit("every %d years has no cron form: the schedule is yearly", n)
			}
			s.Cron = fmt.Sprintf("%d %d %d %d *", at.Minute(), at.Hour(), at.Day(), int(at.Month()))
		}
		if at.Day() > 28 {
			e.Note("day %d does not occur in every month: cron skips those months", at.Day())
		}
	}
	if end := sched.str("endDateTime"); end != "" {
		raw := c.static(sched, "endDateTime", end)
		if t, err := parseDPTime(raw); err != nil {
			e.Omit("endDateTime %q is not a time such as 2026-01-01T00:00:00", raw)
		} else {
			s.End = t.Format(time.RFC3339)
		}
	}
	if occ := sched.str("occurrences"); occ != "" {
		k, err := strconv.Atoi(occ)
		switch {
		case err != nil || k < 1:
			e.Omit("occurrences %q is not a positive number", occ)
		case !start.IsZero():
			s.End = addPeriod(start, unitName, n*k).Format(time.RFC3339)
			e.Note("occurrences %d became end %s", k, s.End)
		case unitName == "month" || unitName == "year":
			e.Omit("occurrences %d with a start at activation: set schedule.end to the end of the last interval", k)
		default:
			hours := map[string]float64{"minute": 1.0 / 60, "hour": 1, "day": 24, "week": 168}[unitName] * float64(n*k)
			s.End = fmt.Sprintf("timeadd(var.start, %q)", strconv.FormatFloat(hours*60, 'f', -1, 64)+"m")
			e.Note("occurrences %d became end = start + %d periods", k, k)
		}
	}
	switch scheduleType {
	case "cron":
		c.res.Decide("scheduleType cron: Data Pipeline ran each period at its start; sluice runs it when it ends (one period later), " +
			"with the same @scheduledStartTime (.Start). Activities that read data of the period see it complete.")
	case "", "timeseries":
	default:
		c.res.Decide("scheduleType %q is unknown: the pipeline is scheduled as timeseries (a run when its period ends)", scheduleType)
	}
	if dflt != nil {
		c.entry(dflt).Become("pipeline %s settings", c.p.Name)
	}
}

func (c *converter) startVariable(unitName string) string {
	day := time.Date(c.opts.Now.Year(), c.opts.Now.Month(), c.opts.Now.Day(), 0, 0, 0, 0, time.UTC)
	if unitName == "month" || unitName == "year" {
		day = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	def := day.Format(time.RFC3339)
	c.res.AddVariable(convert.Variable{Name: "start", Description: "Start of the first interval (RFC 3339). The source started at activation; the default is the day of the conversion.", Default: &def})
	return "var.start"
}

func parseDPTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05", time.RFC3339, "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

func addPeriod(t time.Time, unitName string, n int) time.Time {
	switch unitName {
	case "minute":
		return t.Add(time.Duration(n) * time.Minute)
	case "hour":
		return t.Add(time.Duration(n) * time.Hour)
	case "day":
		return t.AddDate(0, 0, n)
	case "week":
		return t.AddDate(0, 0, 7*n)
	case "month":
		return t.AddDate(0, n, 0)
	}
	return t.AddDate(n, 0, 0)
}

// dpDuration turns "2 hours", "30 minutes", "1 day" into a sluice duration.
func dpDuration(s string) (string, bool) {
	m := periodPattern.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		m2 := regexp.MustCompile(`^\s*(\d+)\s*seconds?\s*$`).FindStringSubmatch(strings.ToLower(s))
		if m2 == nil {
			return "", false
		}
		return m2[1] + "s", true
	}
	n, _ := strconv.Atoi(m[1])
	switch m[2] {
	case "minute":
		return fmt.Sprintf("%dm", n), true
	case "hour":
		return fmt.Sprintf("%dh", n), true
	case "day":
		return fmt.Sprintf("%dd", n), true
	case "week":
		return fmt.Sprintf("%dd", 7*n), true
	}
	return "", false
}

// --- databases and resources ------------------------------------------------------------------

var jdbcURL = regexp.MustCompile(`^jdbc:([a-z0-9]+)://([^/:?;]+)(?::(\d+))?(?:/([^?;]*))?`)

// database makes a connection of a database object; its password is never read.
func (c *converter) database(o *object) {
	e := c.entry(o)
	name := convert.ConnectionName(o.id)
	conn := convert.Connection{Name: name, Source: o.id}
	user := c.static(o, "username", o.str("username"))
	if user == "" {
		user = "USER"
	}
	db := c.static(o, "databaseName", o.str("databaseName"))
	host, port, scheme := "", "", ""
	if cs := o.str("connectionString"); cs != "" {
		cs = c.static(o, "connectionString", cs)
		if m := jdbcURL.FindStringSubmatch(cs); m != nil {
			scheme, host, port = m[1], m[2], m[3]
			if db == "" {
				db = m[4]
			}
		} else {
			e.Omit("connectionString %q is not a JDBC URL: write the connection's URL by hand", cs)
		}
	}
	switch o.typ {
	case "RedshiftDatabase":
		conn.Kind = "Redshift"
		if host == "" {
			host = o.str("clusterId") + ".XXXX." + or(o.str("region"), "REGION") + ".redshift.amazonaws.com"
			e.Note("the host is the cluster's endpoint: look it up for cluster %s", o.str("clusterId"))
		}
		conn.Example = fmt.Sprintf("postgres://%s:PASSWORD@%s:%s/%s?sslmode=require", user, host, or(port, "5439"), or(db, "dev"))
	case "RdsDatabase":
		conn.Kind = "RDS (MySQL or PostgreSQL)"
		host = o.str("rdsInstanceId") + ".XXXX." + or(o.str("region"), "REGION") + ".rds.amazonaws.com"
		conn.Example = fmt.Sprintf("mysql://%s:PASSWORD@%s:3306/%s", user, host, or(db, "DATABASE"))
		e.Note("the definition does not say the engine of RDS instance %s: use mysql:// for MySQL or MariaDB, postgres:// for PostgreSQL", o.str("rdsInstanceId"))
		if o.has("jdbcProperties") {
			e.Note("jdbcProperties %v: put the equivalent options in the connection URL's query", o.strs("jdbcProperties"))
		}
	case "JdbcDatabase":
		driver := o.str("jdbcDriverClass")
		switch {
		case scheme == "postgresql" || strings.Contains(driver, "postgresql"):
			conn.Kind = "PostgreSQL"
			conn.Example = fmt.Sprintf("postgres://%s:PASSWORD@%s:%s/%s", user, host, or(port, "5432"), db)
		case scheme == "mysql" || scheme == "mariadb" || strings.Contains(driver, "mysql") || strings.Contains(driver, "mariadb"):
			conn.Kind = "MySQL"
			conn.Example = fmt.Sprintf("mysql://%s:PASSWORD@%s:%s/%s", user, host, or(port, "3306"), db)
		case scheme == "redshift":
			conn.Kind = "Redshift"
			conn.Example = fmt.Sprintf("postgres://%s:PASSWORD@%s:%s/%s?sslmode=require", user, host, or(port, "5439"), db)
		default:
			e.Leave("JDBC driver %q (%s): sluice connects to PostgreSQL, Redshift and MySQL/MariaDB only", driver, scheme)
			return
		}
		if o.has("jdbcDriverJarUri") {
			e.Note("jdbcDriverJarUri is not needed: the runner has its own drivers")
		}
	}
	o.used["jdbcDriverJarUri"] = true
	o.used["clusterId"], o.used["rdsInstanceId"], o.used["region"], o.used["jdbcProperties"] = true, true, true, true
	if o.has("*password") {
		o.used["*password"] = true
		e.Note("*password was not carried over: put it in %s", conn.Env())
	}
	c.conns[o] = name
	c.res.AddConnection(conn)
	e.Become("connection %s (%s)", name, conn.Env())
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// connection returns the connection of a data node: its database's, or (MySqlDataNode) one of
// its own.
func (c *converter) connection(dn *object) (string, bool) {
	if db := dn.ref("database"); db != nil {
		name, ok := c.conns[db]
		return name, ok
	}
	if dn.typ == "MySqlDataNode" && dn.has("connectionString") {
		if name, ok := c.conns[dn]; ok {
			return name, true
		}
		c.database(&object{id: dn.id, typ: "JdbcDatabase", fields: map[string][]value{
			"connectionString": dn.fields["connectionString"], "username": dn.fields["username"],
			"jdbcDriverClass": {{str: "com.mysql.jdbc.Driver"}},
		}, used: map[string]bool{}, def: c.def})
		name := convert.ConnectionName(dn.id)
		c.conns[dn] = name
		dn.used["connectionString"], dn.used["username"] = true, true
		if dn.has("*password") {
			dn.used["*password"] = true
		}
		return name, true
	}
	return "", false
}

// amiReleases maps the AMI versions of EMR 3.x and 2.x to the release the runner starts.
const amiRelease = "emr-5.36.2"

func (c *converter) emrCluster(o *object) {
	e := c.entry(o)
	name := convert.ActivityID(o.id)
	t := &definition.EMRTemplate{Format: definition.FormatEMRTemplate, Name: name, IdleTimeout: "1h", StepConcurrency: 1}
	t.ReleaseLabel = c.static(o, "releaseLabel", o.str("releaseLabel"))
	if t.ReleaseLabel == "" {
		ami := o.str("amiVersion")
		t.ReleaseLabel = amiRelease
		if ami != "" {
			e.Note("amiVersion %s (EMR 2.x/3.x AMIs no longer launch) became release %s, the last EMR 5 release (Hadoop 2, Hive 2, Pig 0.17): "+
				"check the steps, or choose an EMR 6/7 release", ami, amiRelease)
		} else {
			e.Note("no releaseLabel or amiVersion: release %s", amiRelease)
		}
	}
	t.Applications = o.strs("applications")
	if len(t.Applications) == 0 {
		t.Applications = []string{"Hadoop", "Hive", "Pig"}
		e.Note("no applications listed: Hadoop, Hive and Pig, as the EMR releases Data Pipeline used installed them")
	}
	group := func(prefix, dflt string, count int) *definition.InstanceGroup {
		typ := o.str(prefix + "InstanceType")
		if typ == "" {
			typ = dflt
		}
		g := &definition.InstanceGroup{InstanceType: typ, Count: count, Market: definition.MarketOnDemand}
		if n := o.str(prefix + "InstanceCount"); n != "" {
			if k, err := strconv.Atoi(n); err == nil {
				g.Count = k
			} else {
				e.Omit("%sInstanceCount %q is not a number", prefix, n)
			}
		}
		if bid := o.str(prefix + "InstanceBidPrice"); bid != "" {
			g.Market, g.BidPrice = definition.MarketSpot, bid
		}
		return g
	}
	t.InstanceGroups.Master = *group("master", "m5.xlarge", 1)
	if t.InstanceGroups.Master.Market == definition.MarketSpot {
		t.InstanceGroups.Master.Market, t.InstanceGroups.Master.BidPrice = definition.MarketOnDemand, ""
		e.Note("masterInstanceBidPrice dropped: the master is on demand")
	}
	core := group("core", "m5.xlarge", 1)
	if core.Count > 0 {
		t.InstanceGroups.Core = core
	}
	if o.has("taskInstanceType") || o.has("taskInstanceCount") {
		task := group("task", "m5.xlarge", 1)
		if task.Count > 0 {
			t.InstanceGroups.Task = task
		}
	}
	if o.str("masterInstanceType") == "" && o.str("coreInstanceType") == "" {
		e.Note("no instance types: m5.xlarge")
	}
	for i, ba := range o.strs("bootstrapAction") {
		parts := splitEscaped(c.static(o, "bootstrapAction", ba))
		t.BootstrapActions = append(t.BootstrapActions, definition.BootstrapAction{Name: fmt.Sprintf("bootstrap %d", i+1), Path: parts[0], Args: parts[1:]})
	}
	if cfgs := o.refs("configuration"); len(cfgs) > 0 {
		t.Configurations = c.configurations(cfgs)
	}
	t.ServiceRole, t.JobFlowRole = "EMR_DefaultRole", "EMR_EC2_DefaultRole"
	if r := o.str("role"); r != "" && r != "DataPipelineDefaultRole" {
		t.ServiceRole = c.static(o, "role", r)
	}
	if r := o.str("resourceRole"); r != "" && r != "DataPipelineDefaultResourceRole" {
		t.JobFlowRole = c.static(o, "resourceRole", r)
	}
	e.Note("service_role %s and job_flow_role %s: check they exist (the Data Pipeline default roles are not EMR's)", t.ServiceRole, t.JobFlowRole)
	t.LogURI = c.static(o, "pipelineLogUri", o.str("pipelineLogUri"))
	if sn := o.str("subnetId"); sn != "" {
		t.SubnetIDs = []string{c.static(o, "subnetId", sn)}
	}
	sg := &definition.SecurityGroups{
		EMRManagedMaster: o.str("emrManagedMasterSecurityGroupId"), EMRManagedSlave: o.str("emrManagedSlaveSecurityGroupId"),
		ServiceAccess: o.str("serviceAccessSecurityGroupId"), AdditionalMaster: o.strs("additionalMasterSecurityGroupIds"),
		AdditionalSlave: o.strs("additionalSlaveSecurityGroupIds"),
	}
	if sg.EMRManagedMaster != "" || sg.EMRManagedSlave != "" || sg.ServiceAccess != "" || len(sg.AdditionalMaster) > 0 || len(sg.AdditionalSlave) > 0 {
		t.SecurityGroups = sg
	}
	if ta := o.str("terminateAfter"); ta != "" {
		if d, ok := dpDuration(ta); ok {
			t.IdleTimeout = d
			e.Note("terminateAfter %s became idle_timeout %s: the runner terminates the cluster when its steps end; the idle timeout is the safety net", ta, d)
		}
	}
	if o.has("keyPair") {
		e.Note("keyPair %s is not carried over: sluice templates do not log in to the nodes", o.str("keyPair"))
	}
	o.used["keyPair"] = true
	for _, f := range []string{"useOnDemandOnLastAttempt", "enableDebugging", "region", "actionOnResourceFailure", "actionOnTaskFailure", "maximumRetries"} {
		if o.has(f) {
			o.used[f] = true
			e.Note("%s is not carried over", f)
		}
	}
	c.templates[o] = name
	c.res.Templates = append(c.res.Templates, t)
	e.Become("sluice_emr_template %s", name)
}

// configurations turns EmrConfiguration objects (classification, properties, nested
// configurations) into EMR's configuration JSON.
func (c *converter) configurations(cfgs []*object) []byte {
	var list []string
	for _, cf := range cfgs {
		c.entry(cf).Become("configurations of the EMR template")
		props := map[string]string{}
		for _, p := range cf.refs("property") {
			c.entry(p).Become("property of configuration %s", cf.id)
			props[p.str("key")] = p.str("value")
		}
		item := `{"Classification":` + strconv.Quote(cf.str("classification"))
		if len(props) > 0 {
			var kv []string
			for _, k := range convert.SortedKeys(props) {
				kv = append(kv, strconv.Quote(k)+":"+strconv.Quote(props[k]))
			}
			item += `,"Properties":{` + strings.Join(kv, ",") + `}`
		}
		if nested := cf.refs("configuration"); len(nested) > 0 {
			item += `,"Configurations":` + string(c.configurations(nested))
		}
		list = append(list, item+"}")
	}
	return []byte("[" + strings.Join(list, ",") + "]")
}

// splitEscaped splits a Data Pipeline step or bootstrap string at commas; "\\," is a comma.
func splitEscaped(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == '\\' && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == ',':
			cur.WriteByte(',')
			i += 2
		case s[i] == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}
