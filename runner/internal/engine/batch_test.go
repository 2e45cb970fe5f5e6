package engine

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/groupcommit"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// TestEachDistinct: repeats of an instance are written after the batch, one by one; a batch
// that fails as a whole is written again item by item, so that only the bad item fails.
func TestEachDistinct(t *testing.T) {
	key := func(s state.Start) state.RunKey { return state.RunKey{RunID: s.RunID, Activity: s.Activity} }
	items := []state.Start{{RunID: 1, Activity: "a"}, {RunID: 1, Activity: "b"}, {RunID: 1, Activity: "a", JobID: 7}, {RunID: 2, Activity: "bad"}}
	var writes [][]state.Start
	write := func(batch []state.Start) ([]groupcommit.Result[int64], error) {
		writes = append(writes, slices.Clone(batch))
		out := make([]groupcommit.Result[int64], len(batch))
		for i, s := range batch {
			if s.Activity == "bad" {
				return nil, errors.New("a bad item fails its whole batch")
			}
			out[i].Value = s.RunID*100 + s.JobID
		}
		return out, nil
	}
	var fellBack []int
	res := eachDistinct(items, key, write, func(n int, _ error) { fellBack = append(fellBack, n) })
	if !slices.Equal(fellBack, []int{3}) {
		t.Errorf("fallbacks reported: %v, want one of the batch of 3", fellBack)
	}
	// The batch of the 3 distinct ones failed; then each distinct one, then the repeat.
	if len(writes) != 5 || len(writes[0]) != 3 {
		t.Fatalf("writes %v: want the batch of 3 distinct items, then 4 single writes", writes)
	}
	if writes[4][0].JobID != 7 {
		t.Errorf("the repeat was not written last: %v", writes)
	}
	want := []string{"100 <nil>", "100 <nil>", "107 <nil>", "0 a bad item fails its whole batch"}
	for i, r := range res {
		if got := fmt.Sprintf("%d %v", r.Value, r.Err); got != want[i] {
			t.Errorf("item %d: %s, want %s", i, got, want[i])
		}
	}

	// Without a bad item: one write for the distinct ones, one for the repeat.
	writes = nil
	res = eachDistinct(items[:3], key, write, nil)
	if len(writes) != 2 || len(writes[0]) != 2 {
		t.Errorf("writes %v: want the 2 distinct items at once, then the repeat", writes)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("item %d: %v", i, r.Err)
		}
	}
}
