package graph_test

import (
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/graph"
)

// diamond: extract -> (transform, copy_raw) -> load, with load listing its dependencies out of
// topological order.
func diamond() *definition.Pipeline {
	return &definition.Pipeline{
		Format: definition.FormatPipeline,
		Name:   "daily_clicks",
		Activities: map[string]*definition.Activity{
			"load": {DependsOn: []string{"transform", "copy_raw"},
				RedshiftCopy: &definition.RedshiftCopyActivity{}},
			"transform": {DependsOn: []string{"extract"}, EMRStep: &definition.EMRStepActivity{}},
			"copy_raw":  {DependsOn: []string{"extract"}, S3Copy: &definition.S3CopyActivity{}},
			"extract":   {Shell: &definition.ShellActivity{}},
		},
	}
}

func TestDOT_DiamondIsTopologicalWithEdgesFromDependencyToDependent(t *testing.T) {
	got, err := graph.DOT(diamond())
	if err != nil {
		t.Fatal(err)
	}
	want := `digraph "daily_clicks" {
  rankdir=LR;
  node [shape=box];
  "extract" [label="extract\nshell"];
  "copy_raw" [label="copy_raw\ns3_copy"];
  "transform" [label="transform\nemr_step"];
  "load" [label="load\nredshift_copy"];
  "extract" -> "copy_raw";
  "extract" -> "transform";
  "copy_raw" -> "load";
  "transform" -> "load";
}
`
	if got != want {
		t.Errorf("DOT:\n%s\nwant:\n%s", got, want)
	}
}

func TestMermaid_DiamondIsTopologicalWithPrefixedNodeIDs(t *testing.T) {
	got, err := graph.Mermaid(diamond())
	if err != nil {
		t.Fatal(err)
	}
	want := `flowchart LR
  act_extract["extract<br/>shell"]
  act_copy_raw["copy_raw<br/>s3_copy"]
  act_transform["transform<br/>emr_step"]
  act_load["load<br/>redshift_copy"]
  act_extract --> act_copy_raw
  act_extract --> act_transform
  act_copy_raw --> act_load
  act_transform --> act_load
`
	if got != want {
		t.Errorf("Mermaid:\n%s\nwant:\n%s", got, want)
	}
}

func TestMermaid_ReservedWordEndIsASafeNodeID(t *testing.T) {
	p := &definition.Pipeline{Name: "p", Activities: map[string]*definition.Activity{
		"end": {Shell: &definition.ShellActivity{}},
	}}
	got, err := graph.Mermaid(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "flowchart LR\n  act_end[\"end<br/>shell\"]\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRender_CycleIsAnErrorNamingTheCycle(t *testing.T) {
	p := &definition.Pipeline{Name: "p", Activities: map[string]*definition.Activity{
		"a": {DependsOn: []string{"b"}, Shell: &definition.ShellActivity{}},
		"b": {DependsOn: []string{"a"}, Shell: &definition.ShellActivity{}},
	}}
	for _, f := range graph.Formats() {
		_, err := graph.Render(p, f)
		if err == nil || !strings.Contains(err.Error(), "dependency cycle: a -> b -> a") {
			t.Errorf("%s: error %v, want the cycle a -> b -> a", f, err)
		}
	}
}

func TestRender_UnknownFormatListsTheFormats(t *testing.T) {
	_, err := graph.Render(diamond(), "svg")
	if err == nil || err.Error() != `graph format "svg" is not supported: use dot or mermaid` {
		t.Errorf("error %v", err)
	}
}
