package datapipeline

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/load"
)

// newNode adds a sluice activity with a unique id derived from base.
func (c *converter) newNode(base string, a *definition.Activity) *node {
	id := convert.UniqueID(convert.ActivityID(base), func(s string) bool { _, ok := c.p.Activities[s]; return ok })
	c.p.Activities[id] = a
	return &node{id: id, act: a}
}

// activity converts one activity object into a unit.
func (c *converter) activity(o *object) {
	e := c.entry(o)
	u := &unit{obj: o}
	var pre []*node
	var main *definition.Activity
	var post []*node
	base := convert.ActivityID(o.id)
	switch o.typ {
	case "ShellCommandActivity":
		pre, main, post = c.shellActivity(o, base)
	case "CopyActivity":
		pre, main = c.copyActivity(o, base)
	case "SqlActivity":
		main = c.sqlActivity(o)
	case "RedshiftCopyActivity":
		pre, main = c.redshiftCopy(o, base)
	default: // the EMR activities
		main = c.emrActivity(o)
	}
	if main == nil {
		if e.Status != convert.LeftOut {
			e.Leave("nothing to run")
		}
		for _, n := range append(pre, post...) {
			delete(c.p.Activities, n.id)
		}
		return
	}
	c.common(o, main)
	waits := c.preconditions(o, base)
	if len(waits) > 0 {
		main.WaitFor = waits[0].WaitFor
		for i, w := range waits[1:] {
			if w.WaitFor != nil {
				// One wait_for per activity: the others wait in activities of their own before it.
				pre = append([]*node{c.newNode(fmt.Sprintf("%s_wait_%d", base, i+2), &definition.Activity{
					WaitFor: w.WaitFor, Shell: &definition.ShellActivity{Command: []string{"true"}}})}, pre...)
			} else {
				pre = append([]*node{c.newNode(fmt.Sprintf("%s_check_%d", base, i+2), w)}, pre...)
			}
		}
	}
	u.main = c.newNode(base, main)
	u.chain = append(append(pre, u.main), post...)
	for i := 1; i < len(u.chain); i++ {
		u.chain[i].act.DependsOn = append(u.chain[i].act.DependsOn, u.chain[i-1].id)
	}
	c.units[o] = u
	o.used["dependsOn"], o.used["precondition"], o.used["schedule"] = true, true, true
	ids := make([]string, len(u.chain))
	for i, n := range u.chain {
		ids[i] = n.id
	}
	e.Become("activity %s", strings.Join(ids, " → "))
	for _, f := range o.unused() {
		c.unusedField(o, f)
	}
}

// unusedField reports a field the conversion did not read.
func (c *converter) unusedField(o *object, f string) {
	e := c.entry(o)
	if why, ok := ignoredFields[f]; ok {
		if why != "" {
			e.Note("%s is not carried over: %s", f, why)
		}
		return
	}
	if strings.HasPrefix(f, "*") {
		e.Omit("field %s (a secret, not shown) is not carried over", f)
		return
	}
	e.Omit("field %s (%s) is not carried over", f, truncate(strings.Join(o.strs(f), ","), 80))
}

// common sets what every activity shares: retries, timeout, alarms.
func (c *converter) common(o *object, a *definition.Activity) {
	e := c.entry(o)
	if r := o.str("maximumRetries"); r != "" {
		if n, err := strconv.Atoi(r); err == nil {
			a.Retries = &n
		} else {
			e.Omit("maximumRetries %q is not a number", r)
		}
	}
	if d := o.str("retryDelay"); d != "" {
		if dur, ok := dpDuration(d); ok {
			c.retryDelays[dur]++
		} else {
			e.Omit("retryDelay %q is not a duration", d)
		}
	}
	if t := o.str("attemptTimeout"); t != "" {
		if dur, ok := dpDuration(t); ok {
			a.Timeout = dur
		} else {
			e.Omit("attemptTimeout %q is not a duration", t)
		}
	}
	if m := o.str("maxActiveInstances"); m != "" {
		if n, err := strconv.Atoi(m); err == nil && n > c.p.Schedule.MaxActiveRuns {
			c.p.Schedule.MaxActiveRuns = n
		}
	}
	if s := o.ref("schedule"); s != nil && c.entries[s] == nil {
		e.Omit("its schedule %s differs from the pipeline's: it runs on the pipeline's schedule; split it into a pipeline of its own if that matters", s.id)
	}
	for _, ro := range o.refs("runsOn") {
		if ro.typ == "Ec2Resource" {
			e.Note("runsOn %s: the activity runs on the runner's host", ro.id)
		}
	}
	o.used["runsOn"] = true
	for _, al := range o.refs("onFail") {
		c.alarm(o, al, "on_failure")
	}
	for _, al := range o.refs("onSuccess") {
		c.alarm(o, al, "on_success")
	}
	late := o.str("lateAfterTimeout")
	for _, al := range o.refs("onLateAction") {
		if late == "" {
			c.entry(al).Omit("onLateAction of %s without lateAfterTimeout: never late", o.id)
			continue
		}
		c.alarm(o, al, "on_late")
	}
	if late != "" {
		d, ok := dpDuration(late)
		switch {
		case !ok:
			e.Omit("lateAfterTimeout %q is not a duration", late)
		case c.p.Notify == nil || c.p.Notify.OnLate == nil:
			e.Omit("lateAfterTimeout without an SnsAlarm in onLateAction: nobody would be told")
		default:
			if c.p.Notify.OnLate.After == "" || d < c.p.Notify.OnLate.After {
				c.p.Notify.OnLate.After = d
			}
			e.Note("lateAfterTimeout %s is measured from the end of the interval, for the whole run", late)
		}
	}
}

// alarm adds an SnsAlarm's topic to the pipeline's notify.
func (c *converter) alarm(from, al *object, on string) {
	e := c.entry(al)
	if al.typ != "SnsAlarm" {
		e.Leave("%s action of %s: sluice notifies; it does not terminate (attemptTimeout becomes the activity's timeout)", al.typ, from.id)
		return
	}
	topic := c.static(al, "topicArn", al.str("topicArn"))
	if topic == "" {
		e.Leave("no topicArn")
		return
	}
	if c.p.Notify == nil {
		c.p.Notify = &definition.Notify{}
	}
	n := c.p.Notify
	switch on {
	case "on_failure":
		if !slices.Contains(n.OnFailure, topic) {
			n.OnFailure = append(n.OnFailure, topic)
		}
	case "on_success":
		if !slices.Contains(n.OnSuccess, topic) {
			n.OnSuccess = append(n.OnSuccess, topic)
		}
	case "on_late":
		if n.OnLate == nil {
			n.OnLate = &definition.OnLate{}
		}
		if !slices.Contains(n.OnLate.Targets, topic) {
			n.OnLate.Targets = append(n.OnLate.Targets, topic)
		}
	}
	e.Become("notify.%s of the pipeline (from %s)", on, from.id)
	if al.has("subject") || al.has("message") {
		al.used["subject"], al.used["message"] = true, true
		if !slices.Contains(e.Notes, subjectNote) {
			e.Note(subjectNote)
		}
	}
	if !slices.Contains(c.res.Decisions, notifyDecision) {
		c.res.Decide(notifyDecision)
	}
}

const subjectNote = "subject and message are not carried over: sluice's message names the pipeline, the run, the activity and the error"
const notifyDecision = "Alarms became the pipeline's notify: Data Pipeline alarmed per activity, sluice per run (a failure of any activity notifies on_failure)."

// preconditions turns the activity's preconditions and those of its input data nodes into wait
// conditions (or check activities for shell preconditions).
func (c *converter) preconditions(o *object, base string) []*definition.Activity {
	pcs := o.refs("precondition")
	for _, in := range o.refs("input") {
		pcs = append(pcs, in.refs("precondition")...)
	}
	var out []*definition.Activity
	for _, pc := range pcs {
		if a := c.precondition(o, pc, base); a != nil {
			out = append(out, a)
		}
	}
	// wait_for first: a shell check cannot be the activity's own wait.
	slices.SortStableFunc(out, func(a, b *definition.Activity) int {
		switch {
		case a.WaitFor != nil && b.WaitFor == nil:
			return -1
		case a.WaitFor == nil && b.WaitFor != nil:
			return 1
		}
		return 0
	})
	if len(out) > 0 && out[0].WaitFor == nil {
		// Only checks: they run before the activity; the first one is returned as a check too.
		return out
	}
	return out
}

func (c *converter) precondition(from, pc *object, base string) *definition.Activity {
	e := c.entry(pc)
	w := &definition.WaitFor{}
	if d := pc.str("preconditionTimeout"); d != "" {
		if dur, ok := dpDuration(d); ok {
			w.Timeout = dur
		}
	}
	if d := pc.str("retryDelay"); d != "" {
		if dur, ok := dpDuration(d); ok {
			w.PokeInterval = dur
		}
	}
	pc.used["maximumRetries"] = true
	switch pc.typ {
	case "S3KeyExists":
		w.S3KeyExists = c.tmpl(pc, "s3Key", pc.str("s3Key"))
	case "S3PrefixNotEmpty":
		w.S3PrefixNotEmpty = c.tmpl(pc, "s3Prefix", pc.str("s3Prefix"))
	case "Exists":
		// Exists on a data node: the node's location or table.
		var dn *object
		for _, in := range append(from.refs("input"), from.refs("output")...) {
			if slices.Contains(in.refs("precondition"), pc) {
				dn = in
			}
		}
		if dn == nil {
			e.Leave("Exists on %s is not attached to one of its data nodes", from.id)
			return nil
		}
		switch dn.typ {
		case "S3DataNode":
			if f := dn.str("filePath"); f != "" {
				w.S3KeyExists = c.tmpl(dn, "filePath", f)
			} else {
				w.S3PrefixNotEmpty = dirSlash(c.tmpl(dn, "directoryPath", dn.str("directoryPath")))
			}
		case "SqlDataNode", "RedshiftDataNode", "MySqlDataNode":
			conn, ok := c.connection(dn)
			if !ok {
				e.Leave("the database of %s did not convert", dn.id)
				return nil
			}
			schema, table := c.tableOf(dn)
			w.SQLReturnsRows = &definition.SQLReturnsRows{Connection: conn, SQL: fmt.Sprintf(
				"SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
				sqlLiteral(or(schema, "public")), sqlLiteral(table))}
		default:
			e.Leave("Exists on %s (%s) has no sluice wait condition", dn.id, dn.typ)
			return nil
		}
	case "ShellCommandPrecondition":
		cmd := c.shell(pc, "command", pc.str("command"))
		if cmd == "" {
			if uri := pc.str("scriptUri"); uri != "" {
				cmd = "aws s3 cp " + shellQuote(c.shell(pc, "scriptUri", uri)) + " /tmp/precondition.$$ && sh /tmp/precondition.$$"
				for _, a := range pc.strs("scriptArgument") {
					cmd += " " + shellQuote(c.shell(pc, "scriptArgument", a))
				}
				e.Note("scriptUri is fetched with the AWS CLI on the runner's host")
			}
		}
		if cmd == "" {
			e.Leave("no command or scriptUri")
			return nil
		}
		a := &definition.Activity{Shell: &definition.ShellActivity{Command: []string{"bash", "-c", cmd}}}
		retries := 0
		if r, err := strconv.Atoi(pc.str("maximumRetries")); err == nil {
			retries = r
		}
		if w.Timeout != "" && w.PokeInterval != "" {
			e.Note("sluice polls no shell command: the check runs as an activity before %s, retried %d times; give it retries "+
				"(and defaults.retry_delay) to wait up to %s", from.id, retries, w.Timeout)
		} else {
			e.Note("the check runs as an activity before %s: when it fails, the run fails (Data Pipeline waited); give it retries to wait", from.id)
		}
		a.Retries = &retries
		e.Become("activity %s_check_* before %s", base, from.id)
		return a
	default:
		e.Leave("%s has no sluice wait condition (sluice waits on S3 keys and prefixes and SQL queries)", pc.typ)
		c.entry(from).Omit("precondition %s (%s) is not carried over", pc.id, pc.typ)
		return nil
	}
	e.Become("wait_for of %s", from.id)
	return &definition.Activity{WaitFor: w}
}

// --- shell ------------------------------------------------------------------------------------

// stagingRoot is where staged data lives on the runner's host, per run and activity.
const stagingParam = "staging_dir"

func (c *converter) stagingDir(act string) string {
	if c.p.Parameters == nil {
		c.p.Parameters = map[string]string{}
	}
	if _, ok := c.p.Parameters[stagingParam]; !ok {
		def := "/var/tmp/sluice-staging"
		c.res.AddVariable(convert.Variable{Name: stagingParam, Description: "Directory on the runner's host where staged inputs and outputs of shell activities live (per run and activity).", Default: &def})
		c.p.Parameters[stagingParam] = def
		c.res.ParamVars[stagingParam] = stagingParam
	}
	return "{{ .Params." + stagingParam + " }}/{{ .RunID }}/" + act
}

func (c *converter) shellActivity(o *object, base string) (pre []*node, main *definition.Activity, post []*node) {
	e := c.entry(o)
	cmd := ""
	if s := o.str("command"); s != "" {
		cmd = c.shell(o, "command", s)
	}
	env := map[string]string{}
	stage := o.str("stage") == "true" || strings.Contains(o.str("command"), "_STAGING_DIR")
	o.used["stage"] = true
	if uri := o.str("scriptUri"); uri != "" {
		script := c.tmpl(o, "scriptUri", uri)
		args := ""
		for _, a := range o.strs("scriptArgument") {
			args += " " + shellQuote(c.shell(o, "scriptArgument", a))
		}
		local := script
		if !strings.HasPrefix(script, "file://") && !strings.HasPrefix(script, "/") {
			dir := c.stagingDir(base)
			local = dir + "/script/" + path.Base(script)
			pre = append(pre, c.newNode(base+"_fetch_script", &definition.Activity{S3Copy: &definition.S3CopyActivity{From: script, To: "file://" + local}}))
		}
		local = strings.TrimPrefix(local, "file://")
		cmd = "chmod +x " + shellQuote(local) + " && " + shellQuote(local) + args
	}
	if cmd == "" {
		e.Leave("neither command nor scriptUri")
		return nil, nil, nil
	}
	if stage {
		dir := c.stagingDir(base)
		for i, in := range o.refs("input") {
			loc, ok := c.s3Location(in)
			if !ok {
				e.Omit("input %s is not an S3 data node: not staged", in.id)
				continue
			}
			local := fmt.Sprintf("%s/input%d/", dir, i+1)
			if !strings.HasSuffix(loc, "/") {
				local += path.Base(loc)
			}
			env[fmt.Sprintf("INPUT%d_STAGING_DIR", i+1)] = fmt.Sprintf("%s/input%d", dir, i+1)
			pre = append(pre, c.newNode(fmt.Sprintf("%s_stage_input%d", base, i+1), &definition.Activity{S3Copy: &definition.S3CopyActivity{From: loc, To: "file://" + local}}))
		}
		var mk []string
		for i, out := range o.refs("output") {
			loc, ok := c.s3Location(out)
			if !ok {
				e.Omit("output %s is not an S3 data node: not staged", out.id)
				continue
			}
			local := fmt.Sprintf("%s/output%d", dir, i+1)
			env[fmt.Sprintf("OUTPUT%d_STAGING_DIR", i+1)] = local
			mk = append(mk, fmt.Sprintf(`"$OUTPUT%d_STAGING_DIR"`, i+1))
			post = append(post, c.newNode(fmt.Sprintf("%s_stage_output%d", base, i+1), &definition.Activity{S3Copy: &definition.S3CopyActivity{From: "file://" + local + "/", To: dirSlash(loc)}}))
		}
		if len(mk) > 0 {
			cmd = "mkdir -p " + strings.Join(mk, " ") + " && " + cmd
		}
		e.Note("staging: inputs are copied to %s/inputN and outputs from .../outputN on the runner's host (parameter %s)", dir, stagingParam)
	} else {
		o.used["input"], o.used["output"] = true, true
	}
	if o.has("stdout") || o.has("stderr") {
		o.used["stdout"], o.used["stderr"] = true, true
		e.Note("stdout and stderr are kept in the attempt's log in the runner's state (sluice-runner status), not in S3")
	}
	main = &definition.Activity{Shell: &definition.ShellActivity{Command: []string{"bash", "-c", cmd}, Env: env}}
	if len(env) == 0 {
		main.Shell.Env = nil
	}
	return pre, main, post
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func dirSlash(s string) string {
	if s == "" || strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

// s3Location is where an S3 data node's data is: directoryPath (a prefix, with its slash) or
// filePath (an object).
func (c *converter) s3Location(dn *object) (string, bool) {
	if dn == nil || dn.typ != "S3DataNode" {
		return "", false
	}
	c.entry(dn)
	if f := dn.str("filePath"); f != "" {
		return c.tmpl(dn, "filePath", f), true
	}
	if d := dn.str("directoryPath"); d != "" {
		return dirSlash(c.tmpl(dn, "directoryPath", d)), true
	}
	if m := dn.str("manifestFilePath"); m != "" {
		c.entry(dn).Omit("manifestFilePath: sluice reads prefixes and objects, not manifests; the manifest itself is used as the location")
		return c.tmpl(dn, "manifestFilePath", m), true
	}
	c.entry(dn).Leave("no directoryPath, filePath or manifestFilePath")
	return "", false
}

// --- copy -------------------------------------------------------------------------------------

func (c *converter) copyActivity(o *object, base string) ([]*node, *definition.Activity) {
	e := c.entry(o)
	in, out := o.ref("input"), o.ref("output")
	if in == nil || out == nil {
		e.Leave("needs an input and an output data node")
		return nil, nil
	}
	c.dataNode(in, o)
	c.dataNode(out, o)
	switch {
	case in.typ == "S3DataNode" && out.typ == "S3DataNode":
		from, ok1 := c.s3Location(in)
		to, ok2 := c.s3Location(out)
		if !ok1 || !ok2 {
			e.Leave("a data node has no location")
			return nil, nil
		}
		if strings.HasSuffix(from, "/") {
			to = dirSlash(to)
		}
		if in.ref("dataFormat") != nil || out.ref("dataFormat") != nil {
			e.Note("the files are copied as they are: CopyActivity's conversion between data formats is not done")
		}
		if in.str("compression") != out.str("compression") {
			e.Omit("compression %q → %q is not done: the files are copied as they are", in.str("compression"), out.str("compression"))
		}
		return nil, &definition.Activity{S3Copy: &definition.S3CopyActivity{From: from, To: to}}
	case in.typ == "S3DataNode" && (out.typ == "SqlDataNode" || out.typ == "MySqlDataNode"):
		conn, ok := c.connection(out)
		if !ok {
			e.Leave("the database of %s did not convert", out.id)
			return nil, nil
		}
		from, _ := c.s3Location(in)
		format, opts := c.formatOptions(in, o)
		schema, table := c.tableOf(out)
		if out.has("insertQuery") {
			out.used["insertQuery"] = true
			e.Omit("insertQuery of %s is not carried over: the rows are loaded as they are", out.id)
		}
		var pre []*node
		if n := c.createTable(out, base); n != nil {
			pre = append(pre, n)
		}
		return pre, &definition.Activity{RedshiftCopy: &definition.RedshiftCopyActivity{
			Connection: conn, Table: or(schema, c.defaultSchema(out)) + "." + table, From: from, Format: format,
			InsertMode: definition.InsertAppend, Options: opts}}
	case (in.typ == "SqlDataNode" || in.typ == "MySqlDataNode") && out.typ == "S3DataNode":
		conn, ok := c.connection(in)
		if !ok {
			e.Leave("the database of %s did not convert", in.id)
			return nil, nil
		}
		to, ok := c.s3Location(out)
		if !ok {
			e.Leave("output %s has no location", out.id)
			return nil, nil
		}
		query := c.tmpl(in, "selectQuery", in.str("selectQuery"))
		if query == "" {
			schema, table := c.tableOf(in)
			if schema != "" {
				table = schema + "." + table
			}
			query = "SELECT * FROM " + table
		}
		in.used["selectQuery"], in.used["table"] = true, true
		x := &definition.ExportActivity{Connection: conn, Query: query, To: to, Format: definition.ExportCSV, Gzip: out.str("compression") == "gzip"}
		if f := out.ref("dataFormat"); f != nil && f.typ != "CSV" {
			c.entry(f).Omit("data format %s: the export writes csv", f.typ)
		}
		if strings.HasPrefix(c.exampleOf(conn), "postgres://") && strings.Contains(c.exampleOf(conn), "5439") {
			e.Note("on Redshift the export is an UNLOAD: set export.iam_role")
		}
		return nil, &definition.Activity{Export: x}
	}
	e.Leave("copying %s to %s has no sluice activity", in.typ, out.typ)
	return nil, nil
}

// defaultSchema is a table's schema when the node names none: public (PostgreSQL, Redshift) or
// the database (MySQL).
func (c *converter) defaultSchema(dn *object) string {
	if db := dn.ref("database"); db != nil && dn.typ != "RedshiftDataNode" {
		if ex := c.exampleOf(c.conns[db]); strings.HasPrefix(ex, "mysql://") {
			// A MySQL table's schema is its database: the connection's.
			if name := ex[strings.LastIndex(ex, "/")+1:]; name != "" && name != "DATABASE" {
				return name
			}
		}
	}
	return "public"
}

func (c *converter) exampleOf(conn string) string {
	for _, cn := range c.res.Connections {
		if cn.Name == conn {
			return cn.Example
		}
	}
	return ""
}

// tableOf returns a SQL data node's schema and table.
func (c *converter) tableOf(dn *object) (schema, table string) {
	switch dn.typ {
	case "RedshiftDataNode":
		table = c.static(dn, "tableName", dn.str("tableName"))
		schema = c.static(dn, "schemaName", dn.str("schemaName"))
	default:
		table = c.static(dn, "table", dn.str("table"))
	}
	if i := strings.IndexByte(table, '.'); i > 0 && schema == "" {
		schema, table = table[:i], table[i+1:]
	}
	return schema, table
}

// createTable runs createTableSql before the load, when the table does not exist yet.
func (c *converter) createTable(dn *object, base string) *node {
	sql := dn.str("createTableSql")
	if sql == "" {
		return nil
	}
	conn, ok := c.connection(dn)
	if !ok {
		return nil
	}
	stmt := c.tmpl(dn, "createTableSql", sql)
	stmt = createIfNotExists.ReplaceAllString(strings.TrimSpace(stmt), "${1} IF NOT EXISTS ")
	c.entry(dn).Become("activity %s_create_table (createTableSql)", base)
	return c.newNode(base+"_create_table", &definition.Activity{SQL: &definition.SQLActivity{Connection: conn, Statements: []string{strings.TrimSuffix(stmt, ";")}}})
}

var createIfNotExists = regexp.MustCompile(`(?i)^(create\s+(?:temp\s+|temporary\s+)?table)\s+(?:if\s+not\s+exists\s+)?`)

// formatOptions maps an S3 data node's data format to a COPY format and options.
func (c *converter) formatOptions(in, act *object) (string, []string) {
	format := definition.FormatCSV
	var opts []string
	if in.str("compression") == "gzip" {
		opts = append(opts, "GZIP")
	}
	f := in.ref("dataFormat")
	if f == nil {
		return format, opts
	}
	fe := c.entry(f)
	fe.Become("COPY format of %s", act.id)
	f.used["column"] = true
	switch f.typ {
	case "CSV":
		if f.has("escapeChar") {
			fe.Note("escapeChar %q: CSV quoting applies", f.str("escapeChar"))
		}
	case "TSV":
		format = definition.FormatText
		opts = append(opts, "DELIMITER '\t'")
		if sep := f.str("columnSeparator"); sep != "" && sep != `\t` {
			opts[len(opts)-1] = "DELIMITER " + sqlLiteral(sep)
		}
		if f.str("escapeChar") == `\` {
			opts = append(opts, "ESCAPE")
		}
		f.used["escapeChar"], f.used["recordSeparator"] = true, true
	case "Custom":
		format = definition.FormatText
		sep := or(f.str("columnSeparator"), ",")
		opts = append(opts, "DELIMITER "+sqlLiteral(sep))
		if rs := f.str("recordSeparator"); rs != "" && rs != `\n` {
			fe.Omit("recordSeparator %q: COPY reads one record per line", rs)
		}
	default:
		fe.Leave("data format %s cannot be loaded with COPY", f.typ)
		c.entry(act).Omit("its input's data format %s is not carried over: loaded as CSV", f.typ)
	}
	return format, opts
}

func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// --- sql --------------------------------------------------------------------------------------

func (c *converter) sqlActivity(o *object) *definition.Activity {
	e := c.entry(o)
	db := o.ref("database")
	if db == nil {
		e.Leave("no database")
		return nil
	}
	conn, ok := c.conns[db]
	if !ok {
		e.Leave("its database %s did not convert", db.id)
		return nil
	}
	script := o.str("script")
	if script == "" {
		if uri := o.str("scriptUri"); uri != "" {
			e.Leave("scriptUri %s: the script is in S3, and sluice's SQL lives in the definition; paste the script into statements", uri)
			return nil
		}
		e.Leave("no script")
		return nil
	}
	stmts := convert.SplitSQL(c.tmpl(o, "script", script))
	if args := o.strs("scriptArgument"); len(args) > 0 {
		var lits []string
		for _, a := range args {
			lits = append(lits, sqlLiteral(c.tmpl(o, "scriptArgument", a)))
		}
		for i, s := range stmts {
			stmts[i], lits = bindArgs(s, lits)
		}
		if len(lits) > 0 {
			e.Omit("%d scriptArgument values have no ? to bind to", len(lits))
		}
	}
	if q := o.str("queue"); q != "" {
		e.Note("queue %s: set the WLM queue with the connection's user or a SET query_group statement", q)
	}
	o.used["input"], o.used["output"] = true, true
	return &definition.Activity{SQL: &definition.SQLActivity{Connection: conn, Statements: stmts}}
}

// bindArgs replaces the ? outside quotes with the next literals.
func bindArgs(s string, lits []string) (string, []string) {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '?' && len(lits) > 0:
			b.WriteString(lits[0])
			lits = lits[1:]
			continue
		}
		b.WriteByte(ch)
	}
	return b.String(), lits
}

// --- redshift copy ----------------------------------------------------------------------------

var formatOption = regexp.MustCompile(`(?i)^\s*(?:format\s+(?:as\s+)?)?(csv|json|parquet|avro|orc)\b(.*)$`)

func (c *converter) redshiftCopy(o *object, base string) ([]*node, *definition.Activity) {
	e := c.entry(o)
	in, out := o.ref("input"), o.ref("output")
	if in == nil || out == nil {
		e.Leave("needs an input and an output data node")
		return nil, nil
	}
	c.dataNode(in, o)
	c.dataNode(out, o)
	if out.typ != "RedshiftDataNode" && out.typ != "SqlDataNode" {
		e.Leave("output %s is a %s: RedshiftCopyActivity loads Redshift", out.id, out.typ)
		return nil, nil
	}
	conn, ok := c.connection(out)
	if !ok {
		e.Leave("the database of %s did not convert", out.id)
		return nil, nil
	}
	var from string
	switch in.typ {
	case "S3DataNode":
		from, ok = c.s3Location(in)
		if !ok {
			e.Leave("input %s has no location", in.id)
			return nil, nil
		}
	case "DynamoDBDataNode":
		from = "dynamodb://" + c.static(in, "tableName", in.str("tableName"))
		ratio := "50"
		if p := in.str("readThroughputPercent"); p != "" {
			if f, err := strconv.ParseFloat(p, 64); err == nil && f > 0 && f <= 1.5 {
				ratio = strconv.Itoa(max(1, int(f*100+0.5)))
			}
		} else {
			e.Note("no readThroughputPercent: READRATIO 50 (half the table's read capacity)")
		}
		opts := []string{"READRATIO " + ratio}
		for _, raw := range o.strs("commandOptions") {
			opt := strings.TrimSpace(c.static(o, "commandOptions", raw))
			if !strings.HasPrefix(strings.ToUpper(opt), "READRATIO") {
				opts = append(opts, opt)
			}
		}
		schema, table := c.tableOf(out)
		mode := strings.ToUpper(or(o.str("insertMode"), definition.InsertAppend))
		keys := out.strs("primaryKeys")
		if (mode == definition.InsertKeepExisting || mode == definition.InsertOverwriteExisting) && len(keys) == 0 {
			e.Omit("insertMode %s needs primaryKeys on %s: loaded with APPEND", mode, out.id)
			mode = definition.InsertAppend
		}
		e.Note("Redshift reads DynamoDB table %s itself: set redshift_copy.iam_role", strings.TrimPrefix(from, "dynamodb://"))
		var pre []*node
		if n := c.createTable(out, base); n != nil {
			pre = append(pre, n)
		}
		return pre, &definition.Activity{RedshiftCopy: &definition.RedshiftCopyActivity{Connection: conn, Table: or(schema, "public") + "." + table,
			From: from, Format: definition.FormatCSV, InsertMode: mode, KeyColumns: keys, Options: opts}}
	default:
		e.Leave("input %s is a %s: RedshiftCopyActivity reads S3 or DynamoDB", in.id, in.typ)
		return nil, nil
	}
	format, opts := c.formatOptions(in, o)
	formatSet := in.ref("dataFormat") != nil
	known := load.KnownOptions()
	for _, raw := range o.strs("commandOptions") {
		opt := strings.TrimSpace(c.static(o, "commandOptions", raw))
		if m := formatOption.FindStringSubmatch(opt); m != nil {
			formatSet = true
			switch strings.ToLower(m[1]) {
			case "csv":
				format = definition.FormatCSV
				if q := strings.TrimSpace(m[2]); q != "" {
					opts = append(opts, "QUOTE "+strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(q, "QUOTE"), "AS")))
				}
			case "json":
				format = definition.FormatJSON
				if arg := strings.TrimSpace(m[2]); arg != "" && !strings.EqualFold(arg, "'auto'") {
					e.Omit("JSON %s: sluice loads JSON with 'auto' (column names); a JSONPaths file is not carried over", arg)
				}
			case "parquet":
				format = definition.FormatParquet
			default:
				e.Omit("COPY format %s is not carried over (csv, json, parquet)", m[1])
			}
			continue
		}
		kw := strings.ToUpper(strings.Fields(opt + " x")[0])
		if slices.Contains(known, kw) {
			opts = append(opts, opt)
		} else {
			e.Omit("commandOptions %q: sluice does not accept %s", opt, kw)
		}
	}
	if !formatSet {
		// Without a data format or a format option, COPY reads Redshift's own delimited text.
		format = definition.FormatText
		e.Note("no data format: the files load as Redshift's default, '|'-delimited text (format text)")
	}
	schema, table := c.tableOf(out)
	mode := strings.ToUpper(o.str("insertMode"))
	switch mode {
	case "":
		mode = definition.InsertAppend
		e.Note("no insertMode: APPEND, as Data Pipeline")
	case definition.InsertTruncate, definition.InsertAppend, definition.InsertKeepExisting, definition.InsertOverwriteExisting:
	default:
		e.Omit("insertMode %q is unknown: APPEND", mode)
		mode = definition.InsertAppend
	}
	keys := out.strs("primaryKeys")
	if (mode == definition.InsertKeepExisting || mode == definition.InsertOverwriteExisting) && len(keys) == 0 {
		e.Omit("insertMode %s needs the table's key columns, which %s does not list in primaryKeys (Data Pipeline read them from Redshift): "+
			"loaded with APPEND; set insert_mode %s and key_columns", mode, out.id, mode)
		mode = definition.InsertAppend
	}
	if o.has("transformSql") {
		e.Omit("transformSql (%s) is not carried over: load into a staging table and INSERT … SELECT in a sql activity", truncate(o.str("transformSql"), 60))
	}
	if q := o.str("queue"); q != "" {
		e.Note("queue %s: set the WLM queue with the connection's user", q)
	}
	e.Note("Redshift reads the files with an IAM role: set redshift_copy.iam_role (Data Pipeline used the pipeline's credentials)")
	var pre []*node
	if n := c.createTable(out, base); n != nil {
		pre = append(pre, n)
	}
	return pre, &definition.Activity{RedshiftCopy: &definition.RedshiftCopyActivity{
		Connection: conn, Table: or(schema, "public") + "." + table, From: from, Format: format, InsertMode: mode, KeyColumns: keys, Options: opts}}
}

// dataNode records a data node as used by an activity, and reads its fields.
func (c *converter) dataNode(dn, act *object) {
	e := c.entry(dn)
	c.nodeUsers[dn] = append(c.nodeUsers[dn], act)
	e.Become("part of activity %s", convert.ActivityID(act.id))
	for _, f := range []string{"schedule", "precondition", "compression", "dataFormat", "s3EncryptionType", "readThroughputPercent",
		"writeThroughputPercent", "region", "database", "selectQuery", "primaryKeys"} {
		if dn.has(f) {
			dn.used[f] = true
		}
	}
	if dn.str("s3EncryptionType") == "NONE" {
		e.Note("s3EncryptionType NONE: the bucket's default encryption applies")
	}
	if q := dn.str("selectQuery"); q != "" && act.typ != "SqlActivity" && act.typ != "CopyActivity" {
		e.Omit("selectQuery (%s) is not carried over", truncate(q, 60))
	}
}
