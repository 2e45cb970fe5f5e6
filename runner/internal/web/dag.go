package web

import (
	"fmt"
	"sort"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// dagView is a pipeline's graph laid out for an SVG drawn on the server: activities in
// columns by depth (the longest chain of dependencies before them), edges from a dependency's
// right side to its dependent's left side. No layout service and no script: the page is
// complete as served.
type dagView struct {
	Width, Height int
	Nodes         []dagNode
	Edges         []dagEdge
}

type dagNode struct {
	ID, Kind, Class, Title, URL string
	X, Y, W, H                  int
	TextX, TextY, KindY         int
}

type dagEdge struct {
	Path string
}

const (
	dagNodeW, dagNodeH = 150, 40
	dagGapX, dagGapY   = 60, 20
	dagPad             = 10
)

// newDAGView lays out acts (topological order); states colour the nodes (the newest run's
// activity states), and urls link them (the newest run's activity page), both by activity id.
func newDAGView(acts []status.GridActivity, states map[string]string, urls map[string]string) *dagView {
	if len(acts) == 0 {
		return nil
	}
	depth := map[string]int{}
	for _, a := range acts { // topological: dependencies come first
		d := 0
		for _, dep := range a.DependsOn {
			if dd, ok := depth[dep]; ok && dd+1 > d {
				d = dd + 1
			}
		}
		depth[a.ID] = d
	}
	columns := map[int][]string{}
	maxDepth := 0
	for _, a := range acts {
		columns[depth[a.ID]] = append(columns[depth[a.ID]], a.ID)
		maxDepth = max(maxDepth, depth[a.ID])
	}
	pos := map[string][2]int{}
	rows := 0
	for d := 0; d <= maxDepth; d++ {
		ids := columns[d]
		sort.Strings(ids)
		for i, id := range ids {
			pos[id] = [2]int{dagPad + d*(dagNodeW+dagGapX), dagPad + i*(dagNodeH+dagGapY)}
		}
		rows = max(rows, len(ids))
	}
	v := &dagView{
		Width:  2*dagPad + (maxDepth+1)*dagNodeW + maxDepth*dagGapX,
		Height: 2*dagPad + rows*dagNodeH + max(rows-1, 0)*dagGapY,
	}
	for _, a := range acts {
		p := pos[a.ID]
		st := states[a.ID]
		class := "node-none"
		if st != "" {
			class = stateClass(st)
		}
		title := a.ID
		if a.Kind != "" {
			title += " (" + a.Kind + ")"
		}
		if st != "" {
			title += ": " + st
		}
		v.Nodes = append(v.Nodes, dagNode{
			ID: a.ID, Kind: a.Kind, Class: class, Title: title, URL: urls[a.ID],
			X: p[0], Y: p[1], W: dagNodeW, H: dagNodeH, TextX: p[0] + 8, TextY: p[1] + 17, KindY: p[1] + 32,
		})
		for _, dep := range a.DependsOn {
			q, ok := pos[dep]
			if !ok {
				continue
			}
			x1, y1 := q[0]+dagNodeW, q[1]+dagNodeH/2
			x2, y2 := p[0], p[1]+dagNodeH/2
			mid := (x1 + x2) / 2
			v.Edges = append(v.Edges, dagEdge{Path: fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2-4, y2)})
		}
	}
	return v
}
