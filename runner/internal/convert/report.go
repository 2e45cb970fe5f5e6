package convert

import (
	"fmt"
	"strings"
)

// Report renders CONVERSION.md: the summary, the connections the runner needs, what a person
// must decide, and every source object with what it became.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Conversion of %s\n\n", text(r.Source))
	counts := r.Counts()
	fmt.Fprintf(&b, "Converted from %s by `sluice-runner convert` into pipeline `%s`", r.Kind, text(r.Pipeline.Name))
	if len(r.Templates) > 0 {
		names := make([]string, len(r.Templates))
		for i, t := range r.Templates {
			names[i] = "`" + t.Name + "`"
		}
		fmt.Fprintf(&b, " and EMR template %s", strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, ".\n\n%d source objects: %d converted, %d partly converted, %d left out; %d expressions not translated.\n\n",
		len(r.Entries), counts[Converted], counts[Partial], counts[LeftOut], len(r.Untranslated))
	if r.Complete() {
		b.WriteString("**Everything was converted.** Check the connections and the decisions below, then `terraform apply`.\n\n")
	} else {
		b.WriteString("**Not everything was converted** (the command exited 2): the objects marked *partial* or *left out* and the " +
			"expressions below need a person before this pipeline does what the source did.\n\n")
	}

	b.WriteString("## Connections\n\n")
	if len(r.Connections) == 0 {
		b.WriteString("The pipeline uses no database connection.\n\n")
	} else {
		b.WriteString("Each runner resolves these names from its environment (or its config file, where a Secrets Manager ARN may stand " +
			"in for the URL). No password was carried over: put it in the variable, never in the Terraform.\n\n")
		b.WriteString("| connection | runner variable | kind | from | example value |\n| --- | --- | --- | --- | --- |\n")
		for _, c := range r.Connections {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | `%s` |\n", c.Name, c.Env(), cell(c.Kind), cell(c.Source), cell(c.Example))
		}
		b.WriteString("\n")
	}

	if len(r.SecretEnvs) > 0 {
		b.WriteString("## Secrets in the runner's environment\n\nShell commands read these secrets from the runner's environment; set them " +
			"there (they are not in the Terraform or the published pipeline).\n\n| variable | stands for |\n| --- | --- |\n")
		for _, k := range SortedKeys(r.SecretEnvs) {
			fmt.Fprintf(&b, "| `%s` | %s |\n", k, cell(r.SecretEnvs[k]))
		}
		b.WriteString("\n")
	}

	if len(r.Variables) > 0 {
		b.WriteString("## Variables\n\n| variable | default | description |\n| --- | --- | --- |\n")
		for _, v := range r.Variables {
			def := "(none: set it)"
			switch {
			case v.Sensitive:
				def = "(secret: set it outside the source)"
			case v.Default != nil:
				def = "`" + cell(*v.Default) + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, cell(v.Description))
		}
		b.WriteString("\n")
	}

	if len(r.Decisions) > 0 {
		b.WriteString("## Decisions for a person\n\n")
		for _, d := range r.Decisions {
			fmt.Fprintf(&b, "- %s\n", text(d))
		}
		b.WriteString("\n")
	}

	if len(r.Untranslated) > 0 {
		b.WriteString("## Expressions not translated\n\n| object | field | expression | why |\n| --- | --- | --- | --- |\n")
		for _, u := range r.Untranslated {
			fmt.Fprintf(&b, "| %s | %s | `%s` | %s |\n", cell(u.Object), cell(u.Field), cell(u.Expression), cell(u.Why))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Source objects\n\n| id | type | became | status |\n| --- | --- | --- | --- |\n")
	for _, e := range r.Entries {
		became := strings.Join(e.Became, "; ")
		if became == "" {
			became = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(e.ID), cell(e.Type), cell(became), e.Status)
	}
	b.WriteString("\n")
	var noted bool
	for _, e := range r.Entries {
		if len(e.Notes) == 0 {
			continue
		}
		if !noted {
			b.WriteString("## Notes on the objects\n\n")
			noted = true
		}
		fmt.Fprintf(&b, "### %s (%s) — %s\n\n", text(e.ID), text(e.Type), e.Status)
		for _, n := range e.Notes {
			fmt.Fprintf(&b, "- %s\n", text(n))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// text makes free text from the source safe in Markdown: no HTML, one line.
func text(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r\n", " ", "\n", " ", "\r", " ", "\x00", "").Replace(s)
	return s
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'").Replace(text(s))
}
