package definition

import (
	"strings"
	"testing"
)

// graph builds activities from "id: dep dep" lines; every activity is a shell activity.
func graph(lines ...string) map[string]*Activity {
	acts := map[string]*Activity{}
	for _, l := range lines {
		id, deps, _ := strings.Cut(l, ":")
		acts[strings.TrimSpace(id)] = &Activity{DependsOn: strings.Fields(deps), Shell: &ShellActivity{Command: []string{"true"}}}
	}
	return acts
}

func TestValidateDAG_ReportsEachProblemWithPathAndNames(t *testing.T) {
	tests := []struct {
		name string
		acts map[string]*Activity
		want []Problem
	}{
		{"no activities", nil, []Problem{{"activities", "a pipeline needs at least one activity"}}},
		{"unknown dependency names the activity and the missing id", graph("load: extract", "transform:"),
			[]Problem{{"activities.load.depends_on", `activity "load" depends on "extract", which is not an activity of this pipeline (activities: load, transform)`}}},
		{"self dependency", graph("a: a"), []Problem{{"activities.a.depends_on", `activity "a" depends on itself`}}},
		{"duplicate dependency", graph("a:", "b: a a"), []Problem{{"activities.b.depends_on", `activity "b" lists "a" twice`}}},
		{"cycle of three named in order from the smallest id", graph("c: a", "a: b", "b: c", "d: a"),
			[]Problem{{"activities.a.depends_on", "dependency cycle: a -> b -> c -> a (each depends on the next)"}}},
		{"two separate cycles", graph("x: y", "y: x", "b: a", "a: b"), []Problem{
			{"activities.a.depends_on", "dependency cycle: a -> b -> a (each depends on the next)"},
			{"activities.x.depends_on", "dependency cycle: x -> y -> x (each depends on the next)"},
		}},
		{"shortest cycle through the smallest id", graph("a: b c", "b: d", "c: a", "d: a"),
			[]Problem{{"activities.a.depends_on", "dependency cycle: a -> c -> a (each depends on the next)"}}},
		{"upper-case id", graph("Load:"), []Problem{{"activities.Load", `activity id "Load" must be a lower-case letter followed by up to 62 lower-case letters, digits or underscores`}}},
		{"id starting with a digit", graph("1st:"), []Problem{{"activities.1st", `activity id "1st" must be a lower-case letter followed by up to 62 lower-case letters, digits or underscores`}}},
		{"id of 64 characters", graph(strings.Repeat("a", 64) + ":"), []Problem{{"activities." + strings.Repeat("a", 64), `activity id "` + strings.Repeat("a", 64) + `" must be a lower-case letter followed by up to 62 lower-case letters, digits or underscores`}}},
		{"valid diamond", graph("a:", "b: a", "c: a", "d: b c"), nil},
		{"id of 63 characters is fine", graph(strings.Repeat("a", 63) + ":"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateDAG(tc.acts)
			if len(got) != len(tc.want) {
				t.Fatalf("ValidateDAG = %v\nwant %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("problem %d = %v\nwant %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestValidateDAG_IsDeterministic(t *testing.T) {
	acts := graph("e: d", "d: c", "c: b", "b: a e", "a:", "x: y", "y: x z", "z:", "q: nope")
	first := Problems(ValidateDAG(acts)).Error()
	for range 50 {
		if got := Problems(ValidateDAG(acts)).Error(); got != first {
			t.Fatalf("run differs:\n%s\nvs\n%s", got, first)
		}
	}
	if !strings.Contains(first, "dependency cycle: b -> e -> d -> c -> b") {
		t.Fatalf("problems:\n%s", first)
	}
}

func TestTopoOrder_DependenciesFirstThenAlphabetical(t *testing.T) {
	tests := []struct {
		name string
		acts map[string]*Activity
		want string
	}{
		{"chain", graph("load: transform", "transform: extract", "extract:"), "extract transform load"},
		{"diamond", graph("d: b c", "c: a", "b: a", "a:"), "a b c d"},
		{"independent roots alphabetical", graph("z:", "m:", "a:"), "a m z"},
		{"a ready smaller id jumps the queue", graph("b:", "c:", "a: b", "d: a"), "b a c d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TopoOrder(tc.acts)
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("TopoOrder = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestTopoOrder_RefusesAnInvalidGraph(t *testing.T) {
	_, err := TopoOrder(graph("a: b", "b: a"))
	if err == nil || !strings.Contains(err.Error(), "activities.a.depends_on: dependency cycle: a -> b -> a") {
		t.Fatalf("TopoOrder error = %v", err)
	}
}
