package kinesis

import "fmt"

// AWS's UpdateShardCount limits (UNIFORM_SCALING). One call may at most double the open shard
// count, or at least halve it; a stream has at most MaxShards shards; and by default a stream may
// be rescaled at most MaxScalingOpsPerDay times in a rolling 24 hours.
const (
	MaxShards           = 10000
	MaxScalingOpsPerDay = 10
	minShards           = 1
	maxScaleUpFactor    = 2
	maxScaleDownDivisor = 2
)

// ReshardPlan returns the shard counts UpdateShardCount must be called with, in order, to go from
// `from` open shards to `to`. Each step stays within AWS's per-call limits, and the plan takes the
// fewest steps possible: every step doubles (or halves) until the target is within one step.
// An empty plan means no call is needed.
//
// The AWS provider issues one call and fails beyond 2x (hashicorp/terraform-provider-aws#46699);
// planning the steps lets one apply make any change.
func ReshardPlan(from, to int) ([]int, error) {
	if from < minShards || from > MaxShards {
		return nil, fmt.Errorf("current shard count %d is outside %d-%d", from, minShards, MaxShards)
	}
	if to < minShards || to > MaxShards {
		return nil, fmt.Errorf("target shard count %d is outside %d-%d", to, minShards, MaxShards)
	}
	steps := []int{}
	for cur := from; cur != to; {
		switch {
		case to > cur:
			cur = min(to, cur*maxScaleUpFactor)
		default:
			// Halving an odd count rounds up: AWS refuses a target below half the current count.
			cur = max(to, ceilDiv(cur, maxScaleDownDivisor))
		}
		steps = append(steps, cur)
	}
	return steps, nil
}

// ValidStep reports whether one UpdateShardCount call from `from` to `to` is within AWS's limits.
func ValidStep(from, to int) bool {
	if to < minShards || to > MaxShards || from < minShards {
		return false
	}
	return to <= from*maxScaleUpFactor && to*maxScaleDownDivisor >= from
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
