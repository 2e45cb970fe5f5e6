package kinesis

import (
	"reflect"
	"testing"
)

func TestReshardPlan(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
		want     []int
	}{
		{"unchanged", 4, 4, []int{}},
		{"one step up", 2, 4, []int{4}},
		{"one step up not doubling", 3, 5, []int{5}},
		{"one step down", 4, 2, []int{2}},
		{"one step down odd rounds up", 5, 3, []int{3}},
		{"OneToNineTakesFourSteps", 1, 9, []int{2, 4, 8, 9}},
		{"NineToOneTakesFourSteps", 9, 1, []int{5, 3, 2, 1}},
		{"ThreeToHundredTakesSixSteps", 3, 100, []int{6, 12, 24, 48, 96, 100}},
		{"TwoToSevenTakesTwoSteps", 2, 7, []int{4, 7}},
		{"SevenToThreeTakesTwoSteps", 7, 3, []int{4, 3}},
		{"max up", 1, 10000, []int{2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 10000}},
		{"max down", 10000, 1, []int{5000, 2500, 1250, 625, 313, 157, 79, 40, 20, 10, 5, 3, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReshardPlan(tt.from, tt.to)
			if err != nil {
				t.Fatalf("ReshardPlan(%d, %d): %v", tt.from, tt.to, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ReshardPlan(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
			prev := tt.from
			for _, s := range got {
				if !ValidStep(prev, s) {
					t.Fatalf("step %d -> %d breaks AWS's per-call limits", prev, s)
				}
				prev = s
			}
		})
	}
}

func TestReshardPlan_RejectsOutOfRange(t *testing.T) {
	for _, c := range [][2]int{{0, 4}, {4, 0}, {-1, 2}, {2, 10001}, {10001, 2}} {
		if _, err := ReshardPlan(c[0], c[1]); err == nil {
			t.Errorf("ReshardPlan(%d, %d): want error", c[0], c[1])
		}
	}
}

// Every plan from 1..300 to 1..300 is minimal: no plan could take fewer steps, because each step
// at most doubles or halves.
func TestReshardPlan_AllStepsValidAndMinimal(t *testing.T) {
	for from := 1; from <= 300; from++ {
		for to := 1; to <= 300; to++ {
			steps, err := ReshardPlan(from, to)
			if err != nil {
				t.Fatal(err)
			}
			prev := from
			for _, s := range steps {
				if !ValidStep(prev, s) {
					t.Fatalf("%d->%d: invalid step %d->%d", from, to, prev, s)
				}
				prev = s
			}
			if prev != to {
				t.Fatalf("%d->%d: ends at %d", from, to, prev)
			}
			if lb := lowerBound(from, to); len(steps) != lb {
				t.Fatalf("%d->%d: %d steps, minimum is %d (%v)", from, to, len(steps), lb, steps)
			}
		}
	}
}

// lowerBound counts the steps of the greedy bound independently: the number of doublings
// (halvings) needed, computed with multiplication instead of the planner's loop.
func lowerBound(from, to int) int {
	n := 0
	if to > from {
		for c := from; c < to; c *= 2 {
			n++
		}
		return n
	}
	for c := to; c < from; c *= 2 {
		n++
	}
	return n
}

func TestValidStep(t *testing.T) {
	tests := []struct {
		from, to int
		want     bool
	}{
		{2, 4, true}, {2, 5, false}, {9, 5, true}, {9, 4, false}, {1, 1, true}, {0, 1, false}, {5000, 10000, true}, {6000, 10001, false},
	}
	for _, tt := range tests {
		if got := ValidStep(tt.from, tt.to); got != tt.want {
			t.Errorf("ValidStep(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
