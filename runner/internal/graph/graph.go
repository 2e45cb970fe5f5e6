// Package graph renders a pipeline's activity DAG as Graphviz DOT or a Mermaid flowchart. Nodes
// are labelled with the activity id and kind; edges go from a dependency to its dependent. The
// output is deterministic: nodes in definition.TopoOrder, each node's incoming edges in the same
// order.
package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Formats of the rendered graph.
const (
	FormatDOT     = "dot"
	FormatMermaid = "mermaid"
)

// Formats lists the formats Render accepts.
func Formats() []string { return []string{FormatDOT, FormatMermaid} }

// Render renders the pipeline's DAG in format (FormatDOT or FormatMermaid). The error lists the
// DAG's problems when it is not valid.
func Render(p *definition.Pipeline, format string) (string, error) {
	switch format {
	case FormatDOT:
		return DOT(p)
	case FormatMermaid:
		return Mermaid(p)
	default:
		return "", fmt.Errorf("graph format %q is not supported: use %s", format, strings.Join(Formats(), " or "))
	}
}

// node is one activity in render order.
type node struct {
	id   string
	kind string
	deps []string // in render order
}

func nodes(p *definition.Pipeline) ([]node, error) {
	order, err := definition.TopoOrder(p.Activities)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q has no valid activity graph:\n%w", p.Name, err)
	}
	pos := make(map[string]int, len(order))
	for i, id := range order {
		pos[id] = i
	}
	out := make([]node, 0, len(order))
	for _, id := range order {
		a := p.Activities[id]
		n := node{id: id, kind: kindLabel(a)}
		if a != nil { // TopoOrder has checked the dependencies: no duplicates, no unknown ids
			n.deps = append(n.deps, a.DependsOn...)
		}
		sort.Slice(n.deps, func(i, j int) bool { return pos[n.deps[i]] < pos[n.deps[j]] })
		out = append(out, n)
	}
	return out, nil
}

// kindLabel is the activity's kind; "?" when none is set, kinds joined by "+" when several are
// (both invalid, but the graph still shows them).
func kindLabel(a *definition.Activity) string {
	if a == nil {
		return "?"
	}
	if k := a.Kinds(); len(k) > 0 {
		return strings.Join(k, "+")
	}
	return "?"
}

// DOT renders the DAG as a Graphviz digraph, left to right.
func DOT(p *definition.Pipeline) (string, error) {
	ns, err := nodes(p)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(p.Name))
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=box];\n")
	for _, n := range ns {
		fmt.Fprintf(&b, "  %s [label=%s];\n", dotQuote(n.id), dotQuote(n.id+"\n"+n.kind))
	}
	for _, n := range ns {
		for _, d := range n.deps {
			fmt.Fprintf(&b, "  %s -> %s;\n", dotQuote(d), dotQuote(n.id))
		}
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// dotQuote makes a DOT quoted string; a newline becomes DOT's \n line break.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Mermaid renders the DAG as a Mermaid flowchart, left to right. Node ids are the activity ids
// prefixed with "act_", so that ids Mermaid reserves (such as "end") cannot break the chart.
func Mermaid(p *definition.Pipeline) (string, error) {
	ns, err := nodes(p)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range ns {
		fmt.Fprintf(&b, "  act_%s[\"%s<br/>%s\"]\n", n.id, mermaidText(n.id), mermaidText(n.kind))
	}
	for _, n := range ns {
		for _, d := range n.deps {
			fmt.Fprintf(&b, "  act_%s --> act_%s\n", d, n.id)
		}
	}
	return b.String(), nil
}

// mermaidText escapes text for a quoted Mermaid label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}
