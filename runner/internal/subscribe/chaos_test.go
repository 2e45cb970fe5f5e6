package subscribe_test

import (
	"context"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
)

// flow produces rounds of one record per key in the background until stopped.
type flow struct {
	p      *producer
	stop   chan struct{}
	done   chan struct{}
	rounds atomic.Int64
}

func startFlow(p *producer, keys int, every time.Duration, data func(string, int) string) *flow {
	f := &flow{p: p, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for n := 1; ; n++ {
			select {
			case <-f.stop:
				return
			default:
			}
			p.round(keys, n, data)
			f.rounds.Store(int64(n))
			time.Sleep(every)
		}
	}()
	return f
}

func (f *flow) end() {
	close(f.stop)
	<-f.done
}

// waitRounds waits until the flow has produced n more rounds.
func (f *flow) waitRounds(t testing.TB, n int64) {
	t.Helper()
	target := f.rounds.Load() + n
	waitFor(t, "the producer", 30*time.Second, func() bool { return f.rounds.Load() >= target })
}

func TestSubscriber_ReplicaDownOthersGoOnAndItCatchesUp(t *testing.T) {
	stream, arn := newStream(t, 2)
	a, b := newReplica(t), newReplica(t)
	bName := b[strings.LastIndex(b, "/")+1 : strings.Index(b, "?")]
	dir := publish(t, "", replication("outage", arn, "a", "b"))
	p := newProducer(t, stream)
	stateURL := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	s := startService(t, svcOpts{registryDir: dir, database: stateURL, conns: map[string]string{"a": a, "b": b}, replicas: []string{"a", "b"}})
	f := startFlow(p, 20, 20*time.Millisecond, insertSQL)
	f.waitRounds(t, 10)

	// Replica b goes down: no new connections, and the subscriber's are cut.
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "ALTER DATABASE "+bName+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", bName); err != nil {
		t.Fatal(err)
	}
	f.waitRounds(t, 30)
	f.end()
	produced := p.produced()
	waitApplied(t, a, count(produced), 60*time.Second) // a goes on
	assertEqual(t, "replica a during b's outage", produced, applied(t, a))
	waitFor(t, "replica b to be reported retrying", 30*time.Second, func() bool {
		for _, st := range shardStates(t, s) {
			if st.Replica == "b" && st.State == state.ShardRetrying && st.LastError != "" {
				return true
			}
		}
		return false
	})
	for _, st := range shardStates(t, s) {
		if st.Replica == "b" && st.State == state.ShardRetrying && st.RecordsBehind != nil {
			t.Errorf("shard %s of replica b is retrying but reports %d records behind: a stale value while it does not read", st.Shard, *st.RecordsBehind)
		}
		if st.Replica == "b" && st.State == state.ShardRetrying && st.MillisBehind != nil {
			t.Errorf("shard %s of replica b is retrying but reports MillisBehindLatest %d: a stale value while it does not read", st.Shard, *st.MillisBehind)
		}
	}

	// The runner is restarted while b is still down: the new one cannot reach b to start its
	// consumers, and status says so on b's shards once the old leases have lapsed.
	s.stop()
	s = startService(t, svcOpts{registryDir: dir, database: stateURL, conns: map[string]string{"a": a, "b": b}, replicas: []string{"a", "b"}})
	waitFor(t, "replica b's shards to show the new runner's error", 30*time.Second, func() bool {
		n := 0
		for _, st := range shardStates(t, s) {
			if st.Replica == "b" && st.State == state.ShardRetrying && strings.Contains(st.LastError, "not currently accepting connections") {
				n++
			}
		}
		return n == 2
	})

	// b returns and catches up.
	if err := pg.Exec(ctx, "postgres", "ALTER DATABASE "+bName+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, b, count(produced), 90*time.Second)
	assertEqual(t, "replica b after its outage", produced, applied(t, b))
	waitFor(t, "replica b reading again without error", 30*time.Second, func() bool {
		for _, st := range shardStates(t, s) {
			if st.Replica == "b" && (st.State != state.ShardReading || st.LastError != "") {
				return false
			}
		}
		return true
	})
}

// openShards lists the stream's open shards.
func openShards(t testing.TB, c *kinesis.Client, stream string) []types.Shard {
	t.Helper()
	out, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var open []types.Shard
	for _, s := range out.Shards {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	return open
}

func TestSubscriber_ReshardWhileFlowingKeepsEveryKeyInOrder(t *testing.T) {
	stream, arn := newStream(t, 2)
	a := newReplica(t)
	r := replication("reshard", arn, "a")
	dir := publish(t, "", r)
	p := newProducer(t, stream)
	c := kinesisClient(t)
	ctx := context.Background()
	startService(t, svcOpts{registryDir: dir, conns: map[string]string{"a": a}, replicas: []string{"a"}})
	f := startFlow(p, 40, 10*time.Millisecond, insertSQL)
	f.waitRounds(t, 10)

	// Split the first shard at the middle of its hash key range.
	s0 := openShards(t, c, stream)[0]
	lo, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: s0.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, stream)
	f.waitRounds(t, 10)

	// Merge the two children of the split back into one.
	var children []types.Shard
	for _, s := range openShards(t, c, stream) {
		if aws.ToString(s.ParentShardId) == aws.ToString(s0.ShardId) {
			children = append(children, s)
		}
	}
	if len(children) != 2 {
		t.Fatalf("split made %d children, want 2", len(children))
	}
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(stream), ShardToMerge: children[0].ShardId, AdjacentShardToMerge: children[1].ShardId}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, stream)
	f.waitRounds(t, 10)

	// And a uniform scaling, 2 → 4, as sluice_kinesis_stream does it.
	if _, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(stream), TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, stream)
	f.waitRounds(t, 10)
	f.end()

	produced := p.produced()
	waitApplied(t, a, count(produced), 90*time.Second)
	assertEqual(t, "replica a across split, merge and 2 → 4", produced, applied(t, a))

	// Every closed shard is finished in the replica's checkpoints, and the open ones are not.
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var closed, finished int
	for _, s := range out.Shards {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			closed++
		}
	}
	queryRow(t, a, `SELECT COUNT(*) FROM sluice.replication_checkpoints WHERE replication = 'reshard' AND finished`, &finished)
	t.Logf("shards: %d listed, %d closed by resharding, %d finished in the replica", len(out.Shards), closed, finished)
	if closed < 4 || finished != closed {
		t.Fatalf("%d closed shards, %d finished in the replica: want every closed shard finished (and at least 4 closed)", closed, finished)
	}
}

func TestSubscriber_TwoRunnersCompetingApplyEachRecordOnce(t *testing.T) {
	stream, arn := newStream(t, 4)
	a, b := newReplica(t), newReplica(t)
	stateURL := newStateDatabase(t)
	dir := publish(t, "", replication("shared", arn, "a", "b"))
	p := newProducer(t, stream)
	conns := map[string]string{"a": a, "b": b}
	r1 := startService(t, svcOpts{registryDir: dir, database: stateURL, conns: conns, replicas: []string{"a", "b"}})
	r2 := startService(t, svcOpts{registryDir: dir, database: stateURL, conns: conns, replicas: []string{"a", "b"}})
	f := startFlow(p, 30, 10*time.Millisecond, insertSQL)

	// Watch who holds which lease while both run.
	owners := map[string]bool{}
	var mu sync.Mutex
	watch := func() {
		for _, st := range shardStates(t, r2) {
			if st.LeaseUntil.After(time.Now()) {
				mu.Lock()
				owners[st.Owner] = true
				mu.Unlock()
			}
		}
	}
	for range 15 {
		watch()
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	if len(owners) != 2 {
		t.Fatalf("lease holders while both ran: %v; want both runners sharing the 8 shards", owners)
	}
	mu.Unlock()
	// Runner 1 stops (its leases are given back): runner 2 takes every shard over.
	r1.stop()
	f.waitRounds(t, 20)
	f.end()
	produced := p.produced()
	waitApplied(t, a, count(produced), 60*time.Second)
	waitApplied(t, b, count(produced), 60*time.Second)
	assertEqual(t, "replica a", produced, applied(t, a))
	assertEqual(t, "replica b", produced, applied(t, b))
	for _, st := range shardStates(t, r2) {
		if st.Owner != r2.svc.Owner() {
			t.Fatalf("shard %s of %s is still leased to %s after runner 1 stopped", st.Shard, st.Replica, st.Owner)
		}
	}
}

// newStateDatabase creates a PostgreSQL state database (several runners share one).
func newStateDatabase(t testing.TB) string {
	t.Helper()
	name := "state_" + strings.TrimPrefix(newReplicaName(), "replica_")
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return pg.URL(name)
}

// A runner whose clock runs an hour ahead takes every lease at once, while the runner that held
// them goes on applying until its next renewal (10 s later) tells it the lease is gone: for those
// seconds two consumers apply each shard. The checkpoint in the replica, not the lease, must keep
// every record to one apply.
func TestSubscriber_LeaseTakenFromAConsumerStillAtWorkAppliesNothingTwice(t *testing.T) {
	stream, arn := newStream(t, 2)
	a := newReplica(t)
	stateURL := newStateDatabase(t)
	dir := publish(t, "", replication("skewed", arn, "a"))
	p := newProducer(t, stream)
	conns := map[string]string{"a": a}
	f := startFlow(p, 20, 10*time.Millisecond, insertSQL)
	r1 := startService(t, svcOpts{registryDir: dir, database: stateURL, conns: conns, replicas: []string{"a"}, leaseTTL: 30 * time.Second})
	waitFor(t, "runner 1 applying", 30*time.Second, func() bool { return count(applied(t, a)) > 0 })
	ahead := func() time.Time { return time.Now().Add(time.Hour) }
	r2 := startService(t, svcOpts{registryDir: dir, database: stateURL, conns: conns, replicas: []string{"a"}, now: ahead})
	f.waitRounds(t, 40) // well within runner 1's 10 s between renewals
	f.end()
	produced := p.produced()
	waitApplied(t, a, count(produced), 60*time.Second)
	assertEqual(t, "replica a", produced, applied(t, a))
	if r1.svc.CheckpointConflicts()+r2.svc.CheckpointConflicts() == 0 {
		t.Fatal("no batch was rolled back for a moved checkpoint: the two consumers never overlapped, so the test proved nothing")
	}
	t.Logf("batches rolled back because the checkpoint moved: runner 1 %d, runner 2 %d", r1.svc.CheckpointConflicts(), r2.svc.CheckpointConflicts())
}

// A replica that is down before any consumer of it ever started still shows in status: each
// shard of the stream, retrying with the error, rather than nothing at all. When it returns,
// its consumers take over those rows and it catches up.
func TestSubscriber_ReplicaDownFromTheFirstStartIsReported(t *testing.T) {
	stream, arn := newStream(t, 2)
	b := newReplica(t)
	bName := b[strings.LastIndex(b, "/")+1 : strings.Index(b, "?")]
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "ALTER DATABASE "+bName+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	dir := publish(t, "", replication("never_up", arn, "b"))
	p := newProducer(t, stream)
	p.round(20, 1, insertSQL)
	s := startService(t, svcOpts{registryDir: dir, conns: map[string]string{"b": b}, replicas: []string{"b"}})
	waitFor(t, "both shards of replica b reported retrying with the connection error", 30*time.Second, func() bool {
		n := 0
		for _, st := range shardStates(t, s) {
			if st.Replica == "b" && st.State == state.ShardRetrying && strings.Contains(st.LastError, "not currently accepting connections") &&
				st.MillisBehind == nil && st.RecordsBehind == nil {
				n++
			}
		}
		return n == 2
	})
	if err := pg.Exec(ctx, "postgres", "ALTER DATABASE "+bName+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, b, p.total(), 60*time.Second)
	assertEqual(t, "replica b once it is up", p.produced(), applied(t, b))
	waitFor(t, "replica b reading without error on both shards", 30*time.Second, func() bool {
		st := shardStates(t, s)
		for _, sh := range st {
			if sh.State != state.ShardReading || sh.LastError != "" {
				return false
			}
		}
		return len(st) == 2
	})
}
