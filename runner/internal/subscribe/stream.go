package subscribe

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinesis is the part of the Kinesis client a subscriber uses (*kinesis.Client satisfies it).
type Kinesis interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// shard is one shard of the stream as ListShards describes it.
type shard struct {
	id      string
	parents []string // ParentShardId and AdjacentParentShardId (a merge), when set
	closed  bool     // it has an ending sequence number: resharding closed it
}

// listShards lists every shard of the stream still within its retention: open ones and the
// closed parents of a reshard.
func listShards(ctx context.Context, k Kinesis, stream string) ([]shard, error) {
	var out []shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		page, err := k.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the shards of stream %s: %w", stream, err)
		}
		for _, s := range page.Shards {
			sh := shard{id: aws.ToString(s.ShardId)}
			for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
				if aws.ToString(p) != "" {
					sh.parents = append(sh.parents, aws.ToString(p))
				}
			}
			sh.closed = s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, sh)
		}
		if page.NextToken == nil {
			return out, nil
		}
		// With a NextToken the stream must not be named again.
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

// ready lists the shards a replica may read now, by the rule the Kinesis Client Library
// follows: a shard is read only once every parent it has is consumed to its end (finished in
// the replica's checkpoints), so a partition key's records from before a split or merge are
// all applied before any from after it. A parent no longer listed has aged out of the stream's
// retention: nothing of it is left to read, so it does not hold its children back.
func ready(shards []shard, cps map[string]checkpoint) []shard {
	listed := make(map[string]bool, len(shards))
	for _, s := range shards {
		listed[s.id] = true
	}
	var out []shard
	for _, s := range shards {
		if cps[s.id].finished {
			continue
		}
		ok := true
		for _, p := range s.parents {
			if listed[p] && !cps[p].finished {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// iteratorInput is where a shard is read from: after the checkpoint's sequence number, or at the
// start position when the replica has applied nothing of it yet.
func iteratorInput(stream, shardID string, cp checkpoint, timestamp *string) (*kinesis.GetShardIteratorInput, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shardID)}
	if cp.sequence != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(cp.sequence)
		return in, nil
	}
	in.ShardIteratorType = types.ShardIteratorType(cp.start)
	if in.ShardIteratorType == types.ShardIteratorTypeAtTimestamp {
		t, err := parseTimestamp(timestamp)
		if err != nil {
			return nil, err
		}
		in.Timestamp = &t
	}
	return in, nil
}
