package state

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The newest runs of every pipeline, in one statement, the same on both databases: newest
// interval first and, within an interval, the newest reprocess first; at most n; pipelines
// without runs have none; one pipeline alone when asked.
func TestNewestRunCells_SameOnBothDatabases(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := testEpoch.Add(1000 * time.Hour)
		err := db.InTx(ctx, func(q Q) error {
			for _, p := range []string{"a", "b", "c"} {
				if err := PutPipeline(ctx, q, PipelineRow{Name: p, Version: "v1", Enabled: true, Owner: "o"}, now); err != nil {
					return err
				}
			}
			if _, err := InsertRuns(ctx, q, db.Dialect, hourlyRuns("a", 0, 10, 1), now); err != nil {
				return err
			}
			if _, err := InsertRuns(ctx, q, db.Dialect, hourlyRuns("b", 0, 2, 1), now); err != nil {
				return err
			}
			// Hours 7 and 8 of a reprocessed: seq 1 and 2 of hour 7, seq 1 of hour 8.
			for _, r := range []struct{ hour, seq int }{{7, 1}, {7, 2}, {8, 1}} {
				nr := hourlyRuns("a", r.hour, 1, 1)[0]
				nr.Seq = r.seq
				if _, _, err := InsertRun(ctx, q, nr, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		show := func(m map[string][]string, p string) string { return strings.Join(m[p], " ") }
		read := func(pipelines []string, n int) map[string][]string {
			cells, err := NewestRunCells(ctx, db.Reader(), db.Dialect, pipelines, n)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string][]string{}
			for p, cs := range cells {
				for _, c := range cs {
					out[p] = append(out[p], fmt.Sprintf("%d.%d", c.IntervalStart.Sub(testEpoch)/time.Hour, c.Seq))
				}
			}
			return out
		}
		got := read(nil, 5)
		if s := show(got, "a"); s != "9.0 8.1 8.0 7.2 7.1" {
			t.Errorf("a: %s", s)
		}
		if s := show(got, "b"); s != "1.0 0.0" {
			t.Errorf("b: %s", s)
		}
		if _, ok := got["c"]; ok || len(got) != 2 {
			t.Errorf("pipelines with cells: %v", got)
		}
		if got := read([]string{"b"}, 25); len(got) != 1 || show(got, "b") != "1.0 0.0" {
			t.Errorf("b alone: %v", got)
		}
		if s := show(read([]string{"a", "c"}, 7), "a"); s != "9.0 8.1 8.0 7.2 7.1 7.0 6.0" {
			t.Errorf("a, 7 newest: %s", s)
		}
		if got := read([]string{}, 5); len(got) != 0 {
			t.Errorf("no pipelines asked: %v", got)
		}
	})
}
