package definition

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ActivityIDPattern is the form of an activity id: a lower-case letter, then up to 62 lower-case
// letters, digits or underscores (63 characters at most). Ids appear in job names, metric labels
// and file paths, so they are kept plain.
const ActivityIDPattern = `^[a-z][a-z0-9_]{0,62}$`

var activityIDPattern = regexp.MustCompile(ActivityIDPattern)

// ValidateDAG checks the activity graph: at least one activity, ids of the documented form
// (ActivityIDPattern), every depends_on naming an existing other activity, and no cycles. Each
// cycle is reported once, on its alphabetically smallest activity, in dependency order
// ("a -> b -> c -> a": a depends on b, b on c, c on a). Problems come back sorted by path.
func ValidateDAG(acts map[string]*Activity) []Problem {
	var probs Problems
	if len(acts) == 0 {
		return []Problem{{Path: "activities", Message: "a pipeline needs at least one activity"}}
	}
	ids := sortedKeys(acts)
	for _, id := range ids {
		if !activityIDPattern.MatchString(id) {
			probs.add("activities."+id, "activity id %q must be a lower-case letter followed by up to 62 lower-case letters, digits or underscores", id)
		}
		a := acts[id]
		if a == nil {
			continue
		}
		seen := map[string]bool{}
		for _, dep := range a.DependsOn {
			switch {
			case dep == id:
				probs.add("activities."+id+".depends_on", "activity %q depends on itself", id)
			case seen[dep]:
				probs.add("activities."+id+".depends_on", "activity %q lists %q twice", id, dep)
			case !hasKey(acts, dep):
				probs.add("activities."+id+".depends_on", "activity %q depends on %q, which is not an activity of this pipeline (activities: %s)", id, dep, strings.Join(ids, ", "))
			}
			seen[dep] = true
		}
	}
	for _, cycle := range findCycles(acts, ids) {
		probs.add("activities."+cycle[0]+".depends_on", "dependency cycle: %s (each depends on the next)", strings.Join(cycle, " -> "))
	}
	probs.sort()
	return probs
}

// TopoOrder returns the activity ids in an order where every activity comes after those it
// depends on. Among activities that are ready at the same time the alphabetically smallest comes
// first, so the order is deterministic. The error lists ValidateDAG's problems when the graph is
// not valid.
func TopoOrder(acts map[string]*Activity) ([]string, error) {
	if probs := Problems(ValidateDAG(acts)); len(probs) > 0 {
		return nil, probs
	}
	indegree := make(map[string]int, len(acts))
	dependents := make(map[string][]string, len(acts))
	for id, a := range acts {
		deps := uniqueDeps(a)
		indegree[id] = len(deps)
		for _, dep := range deps {
			dependents[dep] = append(dependents[dep], id)
		}
	}
	var ready []string
	for id, n := range indegree {
		if n == 0 {
			ready = append(ready, id)
		}
	}
	sort.Strings(ready)
	order := make([]string, 0, len(acts))
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		order = append(order, id)
		for _, d := range dependents[id] {
			indegree[d]--
			if indegree[d] == 0 {
				i := sort.SearchStrings(ready, d)
				ready = append(ready, "")
				copy(ready[i+1:], ready[i:])
				ready[i] = d
			}
		}
	}
	if len(order) != len(acts) {
		return nil, errors.New("dependency cycle") // unreachable: ValidateDAG reports cycles
	}
	return order, nil
}

func uniqueDeps(a *Activity) []string {
	if a == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range a.DependsOn {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// findCycles returns one cycle per strongly connected component of more than one activity,
// starting at the component's smallest id and following the smallest next id that stays in the
// component. Self-dependencies and unknown ids are reported elsewhere and ignored here.
func findCycles(acts map[string]*Activity, ids []string) [][]string {
	edges := make(map[string][]string, len(ids))
	for _, id := range ids {
		var out []string
		for _, d := range uniqueDeps(acts[id]) {
			if d != id && hasKey(acts, d) {
				out = append(out, d)
			}
		}
		sort.Strings(out)
		edges[id] = out
	}
	var cycles [][]string
	for _, comp := range stronglyConnected(ids, edges) {
		if len(comp) < 2 {
			continue
		}
		in := map[string]bool{}
		for _, id := range comp {
			in[id] = true
		}
		sort.Strings(comp)
		cycles = append(cycles, shortestCycle(comp[0], edges, in))
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i][0] < cycles[j][0] })
	return cycles
}

// shortestCycle finds, by breadth-first search in sorted order, the shortest path from start
// back to start inside the component.
func shortestCycle(start string, edges map[string][]string, in map[string]bool) []string {
	prev := map[string]string{}
	queue := []string{start}
	visited := map[string]bool{start: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range edges[cur] {
			if !in[next] {
				continue
			}
			if next == start {
				path := []string{start}
				for n := cur; n != start; n = prev[n] {
					path = append(path, n)
				}
				// path is start, cur, …, second: reverse all but the first, then close it.
				for i, j := 1, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return append(path, start)
			}
			if !visited[next] {
				visited[next] = true
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return []string{start, start} // unreachable for a component of two or more
}

// stronglyConnected is Tarjan's algorithm, iterating ids and edges in sorted order.
func stronglyConnected(ids []string, edges map[string][]string) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for _, id := range ids {
		if _, seen := index[id]; !seen {
			visit(id)
		}
	}
	return comps
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// add appends a problem.
func (ps *Problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}
