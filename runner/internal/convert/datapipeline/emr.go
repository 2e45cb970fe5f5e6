package datapipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// emrActivity converts EmrActivity, HiveActivity, HiveCopyActivity, PigActivity and
// HadoopActivity into an emr_step on their cluster's template.
func (c *converter) emrActivity(o *object) *definition.Activity {
	e := c.entry(o)
	cluster := o.ref("runsOn")
	if cluster == nil || cluster.typ != "EmrCluster" {
		e.Leave("runsOn is not an EmrCluster: %s needs one (a workerGroup on an existing cluster is not carried over)", o.typ)
		return nil
	}
	tmpl, ok := c.templates[cluster]
	if !ok {
		e.Leave("its cluster %s did not convert", cluster.id)
		return nil
	}
	var steps []definition.EMRStep
	name := o.str("name")
	if name == "" {
		name = o.id
	}
	for _, pre := range o.strs("preStepCommand") {
		steps = append(steps, definition.EMRStep{Name: name + " (pre)", Command: []string{"bash", "-c", c.shell(o, "preStepCommand", pre)}})
	}
	switch o.typ {
	case "EmrActivity":
		for i, s := range o.strs("step") {
			st := c.emrStep(o, c.tmpl(o, "step", s))
			st.Name = fmt.Sprintf("%s %d", name, i+1)
			steps = append(steps, st)
		}
		o.used["input"], o.used["output"] = true, true
	case "HadoopActivity":
		jar := c.tmpl(o, "jarUri", o.str("jarUri"))
		var args []string
		for _, a := range o.strs("argument") {
			args = append(args, c.tmpl(o, "argument", a))
		}
		steps = append(steps, definition.EMRStep{Name: name, Jar: &definition.JarStep{Jar: jar, MainClass: o.str("mainClass"), Args: args}})
		if q := o.str("hadoopQueue"); q != "" {
			e.Note("hadoopQueue %s: pass -Dmapreduce.job.queuename=%s in the arguments if the cluster has queues", q, q)
		}
		o.used["input"], o.used["output"] = true, true
	case "HiveActivity":
		steps = append(steps, c.hiveStep(o, name))
	case "PigActivity":
		steps = append(steps, c.pigStep(o, name))
	case "HiveCopyActivity":
		st, ok := c.hiveCopyStep(o, name)
		if !ok {
			return nil
		}
		steps = append(steps, st)
	}
	for _, post := range o.strs("postStepCommand") {
		steps = append(steps, definition.EMRStep{Name: name + " (post)", Command: []string{"bash", "-c", c.shell(o, "postStepCommand", post)}})
	}
	if len(steps) == 0 {
		e.Leave("no step")
		return nil
	}
	if o.has("preActivityTaskConfig") || o.has("postActivityTaskConfig") {
		o.used["preActivityTaskConfig"], o.used["postActivityTaskConfig"] = true, true
		e.Omit("preActivityTaskConfig and postActivityTaskConfig (ShellScriptConfig) are not carried over: add command steps")
	}
	return &definition.Activity{EMRStep: &definition.EMRStepActivity{Template: tmpl, Steps: steps}}
}

// emrStep parses an EmrActivity step: "JAR,arg,arg…". command-runner.jar becomes a command
// step, hadoop-streaming.jar a streaming step, any other JAR a jar step.
func (c *converter) emrStep(o *object, s string) definition.EMRStep {
	parts := splitEscaped(s)
	jar, args := parts[0], parts[1:]
	switch {
	case strings.HasSuffix(jar, "command-runner.jar"):
		return definition.EMRStep{Command: args}
	case strings.Contains(jar, "hadoop-streaming"):
		st := &definition.StreamingStep{}
		ok := true
		for i := 0; i < len(args); i++ {
			if i+1 >= len(args) {
				ok = false
				break
			}
			v := args[i+1]
			switch args[i] {
			case "-input":
				st.Input = append(st.Input, s3n(v))
			case "-output":
				st.Output = s3n(v)
			case "-mapper":
				st.Mapper = v
			case "-reducer":
				st.Reducer = v
			case "-files", "-file", "-cacheFile":
				for _, f := range strings.Split(v, ",") {
					st.Files = append(st.Files, s3n(strings.SplitN(f, "#", 2)[0]))
				}
			default:
				ok = false
			}
			i++
		}
		if ok && st.Mapper != "" && len(st.Input) > 0 && st.Output != "" {
			return definition.EMRStep{Streaming: st}
		}
		c.entry(o).Note("the streaming step has arguments sluice's streaming step does not take: it runs as a jar step")
	}
	return definition.EMRStep{Jar: &definition.JarStep{Jar: jar, Args: args}}
}

// s3n rewrites the s3n:// and s3a:// schemes of old definitions to s3://.
func s3n(s string) string {
	for _, p := range []string{"s3n://", "s3a://"} {
		if strings.HasPrefix(s, p) {
			return "s3://" + strings.TrimPrefix(s, p)
		}
	}
	return s
}

// scriptVariables are a Hive or Pig activity's scriptVariable values, NAME=VALUE.
func (c *converter) scriptVariables(o *object, flag string) []string {
	var out []string
	for _, v := range o.strs("scriptVariable") {
		out = append(out, flag, c.tmpl(o, "scriptVariable", v))
	}
	return out
}

func (c *converter) hiveStep(o *object, name string) definition.EMRStep {
	e := c.entry(o)
	vars := c.scriptVariables(o, "-d")
	// Data Pipeline made Hive tables ${input1} and ${output1} from the data nodes when staging.
	staged := o.str("stage") != "false"
	o.used["stage"] = true
	ddl, declared := c.hiveTables(o, staged)
	if uri := o.str("scriptUri"); uri != "" {
		if staged && declared != "" {
			e.Omit("scriptUri: the tables %s that Data Pipeline declared from the data nodes must be declared in the script", declared)
		}
		args := append([]string{"hive-script", "--run-hive-script", "--args", "-f", c.tmpl(o, "scriptUri", uri)}, vars...)
		return definition.EMRStep{Name: name, Command: args}
	}
	script := c.tmpl(o, "hiveScript", o.str("hiveScript"))
	if ddl != "" {
		// Data Pipeline's ${input1} and ${output1} name the tables declared here.
		for _, t := range strings.Split(declared, ", ") {
			script = strings.ReplaceAll(script, "${"+t+"}", t)
		}
		script = ddl + script
		e.Note("the Hive tables %s are declared before the script, from the data nodes", declared)
	}
	return definition.EMRStep{Name: name, Command: append([]string{"hive", "-e", script}, vars...)}
}

func (c *converter) pigStep(o *object, name string) definition.EMRStep {
	e := c.entry(o)
	vars := c.scriptVariables(o, "-p")
	o.used["stage"] = true
	var inOut []string
	for i, in := range o.refs("input") {
		if loc, ok := c.s3Location(in); ok {
			c.dataNode(in, o)
			inOut = append(inOut, "-p", fmt.Sprintf("input%d=%s", i+1, loc))
		}
	}
	for i, out := range o.refs("output") {
		if loc, ok := c.s3Location(out); ok {
			c.dataNode(out, o)
			inOut = append(inOut, "-p", fmt.Sprintf("output%d=%s", i+1, loc))
		}
	}
	if len(inOut) > 0 {
		e.Note("the data nodes' locations are passed as Pig parameters input1…, output1…; Data Pipeline loaded them as relations, which the script must now LOAD and STORE")
		if strings.Contains(o.str("script"), "${input1}") || strings.Contains(o.str("script"), "$input1") {
			e.Omit("the script uses ${input1} as a relation: LOAD it from the parameter")
		}
	}
	if uri := o.str("scriptUri"); uri != "" {
		return definition.EMRStep{Name: name, Command: append(append([]string{"pig-script", "--run-pig-script", "--args", "-f", c.tmpl(o, "scriptUri", uri)}, vars...), inOut...)}
	}
	script := c.tmpl(o, "script", o.str("script"))
	return definition.EMRStep{Name: name, Command: append(append([]string{"pig", "-e", script}, vars...), inOut...)}
}

// hiveTables declares Hive tables input1…, output1… over S3 data nodes with column lists, as
// Data Pipeline did for a staged HiveActivity.
func (c *converter) hiveTables(o *object, staged bool) (ddl, names string) {
	var b strings.Builder
	var declared []string
	for _, side := range []string{"input", "output"} {
		for i, dn := range o.refs(side) {
			c.dataNode(dn, o)
			if !staged {
				continue
			}
			tbl := fmt.Sprintf("%s%d", side, i+1)
			loc, ok := c.s3Location(dn)
			if !ok {
				continue
			}
			cols, sep := c.columns(dn)
			if len(cols) == 0 {
				c.entry(o).Omit("data node %s has no column list: table ${%s} is not declared; declare it in the script", dn.id, tbl)
				continue
			}
			fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (%s) ROW FORMAT DELIMITED FIELDS TERMINATED BY '%s' LOCATION '%s';\n",
				tbl, strings.Join(cols, ", "), sep, strings.TrimSuffix(loc, "/"))
			declared = append(declared, tbl)
		}
	}
	if len(declared) == 0 {
		return "", ""
	}
	return b.String(), strings.Join(declared, ", ")
}

// columns returns a data node's Hive columns ("name type") and field separator.
func (c *converter) columns(dn *object) ([]string, string) {
	f := dn.ref("dataFormat")
	if f == nil {
		return nil, ","
	}
	c.entry(f).Become("columns of %s", dn.id)
	sep := ","
	switch f.typ {
	case "TSV":
		sep = `\t`
	case "Custom":
		sep = or(f.str("columnSeparator"), ",")
	}
	var cols []string
	for _, col := range f.strs("column") {
		fields := strings.Fields(col)
		if len(fields) == 1 {
			fields = append(fields, "STRING")
		}
		cols = append(cols, fields[0]+" "+strings.Join(fields[1:], " "))
	}
	return cols, sep
}

// hiveCopyStep writes the Hive script a HiveCopyActivity ran: DynamoDB ↔ S3 through external
// tables, with the filter.
func (c *converter) hiveCopyStep(o *object, name string) (definition.EMRStep, bool) {
	e := c.entry(o)
	in, out := o.ref("input"), o.ref("output")
	if in == nil || out == nil {
		e.Leave("needs an input and an output data node")
		return definition.EMRStep{}, false
	}
	var ddl []string
	var cols []string
	for i, dn := range []*object{in, out} {
		c.dataNode(dn, o)
		tbl := []string{"src", "dst"}[i]
		cs, sep := c.columns(dn)
		if len(cs) == 0 {
			e.Leave("data node %s has no column list (dataFormat with column): the Hive tables cannot be declared", dn.id)
			return definition.EMRStep{}, false
		}
		if cols == nil {
			cols = cs
		}
		switch dn.typ {
		case "DynamoDBDataNode":
			var mapping []string
			for _, col := range cs {
				n := strings.Fields(col)[0]
				mapping = append(mapping, n+":"+n)
			}
			ddl = append(ddl, fmt.Sprintf("CREATE EXTERNAL TABLE %s (%s) STORED BY 'org.apache.hadoop.hive.dynamodb.DynamoDBStorageHandler' "+
				"TBLPROPERTIES (\"dynamodb.table.name\" = \"%s\", \"dynamodb.column.mapping\" = \"%s\");",
				tbl, strings.Join(cs, ", "), c.tmpl(dn, "tableName", dn.str("tableName")), strings.Join(mapping, ",")))
		case "S3DataNode":
			loc, ok := c.s3Location(dn)
			if !ok {
				e.Leave("data node %s has no location", dn.id)
				return definition.EMRStep{}, false
			}
			ddl = append(ddl, fmt.Sprintf("CREATE EXTERNAL TABLE %s (%s) ROW FORMAT DELIMITED FIELDS TERMINATED BY '%s' LOCATION '%s';",
				tbl, strings.Join(cs, ", "), sep, strings.TrimSuffix(loc, "/")))
		default:
			e.Leave("HiveCopyActivity copies between DynamoDB and S3; %s is a %s", dn.id, dn.typ)
			return definition.EMRStep{}, false
		}
	}
	query := "INSERT OVERWRITE TABLE dst SELECT * FROM src"
	if f := o.str("filterSql"); f != "" {
		query += " WHERE " + c.tmpl(o, "filterSql", f)
	}
	e.Note("the Hive script that Data Pipeline generated is written out (external tables src and dst, then INSERT OVERWRITE): check it")
	o.used["generatedScriptsPath"] = true
	return definition.EMRStep{Name: name, Command: []string{"hive", "-e", strings.Join(append(ddl, query+";"), "\n")}}, true
}

// --- wiring -----------------------------------------------------------------------------------

// wire merges the EMR activities of each cluster into one emr_step (steps in dependency order)
// unless that would make a cycle, then sets depends_on from dependsOn.
func (c *converter) wire(acts []*object) {
	// group: the activity that stands for each object after merging.
	group := map[*object]*object{}
	for _, o := range acts {
		group[o] = o
	}
	byCluster := map[*object][]*object{}
	var clusters []*object
	for _, o := range acts {
		u := c.units[o]
		if u == nil || u.main.act.EMRStep == nil {
			continue
		}
		cl := o.ref("runsOn")
		if len(byCluster[cl]) == 0 {
			clusters = append(clusters, cl)
		}
		byCluster[cl] = append(byCluster[cl], o)
	}
	for _, cl := range clusters {
		members := byCluster[cl]
		if len(members) < 2 {
			continue
		}
		head := members[0]
		for _, m := range members {
			group[m] = head
		}
		if c.cyclic(acts, group) {
			for _, m := range members {
				group[m] = m
			}
			c.entry(cl).Note("its activities run as separate emr_step activities, one transient cluster each: merging them would make a cycle with the activities between them")
			continue
		}
		c.merge(cl, c.ordered(members))
	}
	for _, o := range acts {
		u := c.units[o]
		if u == nil {
			continue
		}
		for _, dep := range o.refs("dependsOn") {
			du := c.units[dep]
			if du == nil {
				c.entry(o).Omit("dependsOn %s, which did not convert: the dependency is dropped", dep.id)
				continue
			}
			if group[dep] == group[o] {
				continue // steps of one cluster: ordered in the emr_step
			}
			entry := u.entry()
			if !slices.Contains(entry.act.DependsOn, du.exit().id) {
				entry.act.DependsOn = append(entry.act.DependsOn, du.exit().id)
			}
		}
	}
	for _, a := range c.p.Activities {
		slices.Sort(a.DependsOn)
		a.DependsOn = slices.Compact(a.DependsOn)
	}
}

// cyclic reports whether the activities' dependsOn, with each group contracted to one node, has
// a cycle.
func (c *converter) cyclic(acts []*object, group map[*object]*object) bool {
	edges := map[*object][]*object{}
	for _, o := range acts {
		for _, d := range o.refs("dependsOn") {
			if g, ok := group[d]; ok && g != group[o] {
				edges[group[o]] = append(edges[group[o]], g)
			}
		}
	}
	state := map[*object]int{}
	var visit func(*object) bool
	visit = func(n *object) bool {
		switch state[n] {
		case 1:
			return true
		case 2:
			return false
		}
		state[n] = 1
		for _, m := range edges[n] {
			if visit(m) {
				return true
			}
		}
		state[n] = 2
		return false
	}
	for _, o := range acts {
		if visit(group[o]) {
			return true
		}
	}
	return false
}

// ordered sorts a cluster's activities so that each comes after those it depends on.
func (c *converter) ordered(members []*object) []*object {
	var out []*object
	done := map[*object]bool{}
	var visit func(*object)
	visit = func(o *object) {
		if done[o] {
			return
		}
		done[o] = true
		for _, d := range o.refs("dependsOn") {
			if slices.Contains(members, d) {
				visit(d)
			}
		}
		out = append(out, o)
	}
	for _, m := range members {
		visit(m)
	}
	return out
}

// merge makes the first activity's emr_step hold every member's steps, in order; the members'
// own emr_step activities go, and their units point at the merged one.
func (c *converter) merge(cl *object, members []*object) {
	head := c.units[members[0]]
	merged := head.main
	base := convert.ActivityID(cl.id)
	// Rename the merged activity for the cluster.
	delete(c.p.Activities, merged.id)
	newID := convert.UniqueID(base, func(s string) bool { _, ok := c.p.Activities[s]; return ok })
	for _, a := range c.p.Activities {
		for i, d := range a.DependsOn {
			if d == merged.id {
				a.DependsOn[i] = newID
			}
		}
	}
	merged.id = newID
	c.p.Activities[newID] = merged.act
	c.steps = map[*unit][]definition.EMRStep{}
	for _, m := range members {
		u := c.units[m]
		c.steps[u] = u.main.act.EMRStep.Steps
	}
	merged.act.EMRStep.Steps = nil
	var ids []string
	for _, m := range members {
		u := c.units[m]
		ids = append(ids, m.id)
		merged.act.EMRStep.Steps = append(merged.act.EMRStep.Steps, c.stepsOf(u)...)
		if u != head {
			if u.main.act.WaitFor != nil {
				if merged.act.WaitFor == nil {
					merged.act.WaitFor = u.main.act.WaitFor
				} else {
					w := c.newNode(convert.ActivityID(m.id)+"_wait", &definition.Activity{WaitFor: u.main.act.WaitFor, Shell: &definition.ShellActivity{Command: []string{"true"}}})
					w.act.DependsOn = append(w.act.DependsOn, u.main.act.DependsOn...)
					merged.act.DependsOn = append(merged.act.DependsOn, w.id)
				}
			}
			merged.act.DependsOn = append(merged.act.DependsOn, u.main.act.DependsOn...)
			if u.main.act.Retries != nil && (merged.act.Retries == nil || *u.main.act.Retries > *merged.act.Retries) {
				merged.act.Retries = u.main.act.Retries
			}
			if u.main.act.Timeout != "" && merged.act.Timeout == "" {
				merged.act.Timeout = u.main.act.Timeout
			}
			delete(c.p.Activities, u.main.id)
			for _, a := range c.p.Activities {
				for i, d := range a.DependsOn {
					if d == u.main.id {
						a.DependsOn[i] = merged.id
					}
				}
			}
			for i, n := range u.chain {
				if n == u.main {
					u.chain[i] = merged
				}
			}
			u.main = merged
		}
		e := c.entry(m)
		e.Became = []string{fmt.Sprintf("steps of activity %s (one emr_step on cluster %s)", merged.id, cl.id)}
	}
	c.entry(cl).Note("activities %s run as ordered steps of one emr_step activity %s on one transient cluster", strings.Join(ids, ", "), merged.id)
	if merged.act.Timeout != "" {
		c.entry(cl).Note("the merged activity's timeout is %s, one member's attemptTimeout: it now bounds all the steps together", merged.act.Timeout)
	}
}

// stepsOf returns the steps a unit's emr_step holds (kept aside before the merge).
func (c *converter) stepsOf(u *unit) []definition.EMRStep {
	if s, ok := c.steps[u]; ok {
		return s
	}
	return u.main.act.EMRStep.Steps
}
