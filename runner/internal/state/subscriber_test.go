package state

import (
	"context"
	"testing"
	"time"
)

func TestShardLease_OneHolderUntilItLapsesThenTakenOver(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		k := ShardKey{Replication: "orders", Replica: "eu", Shard: "shardId-000000000000"}
		acquire := func(owner string, now time.Time) bool {
			t.Helper()
			var got bool
			if err := db.InTx(ctx, func(q Q) error {
				var err error
				got, err = AcquireShardLease(ctx, q, k, owner, now, now.Add(10*time.Second))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		renew := func(owner string, until time.Time) bool {
			t.Helper()
			var ok bool
			if err := db.InTx(ctx, func(q Q) error {
				var err error
				ok, err = RenewShardLease(ctx, q, k, owner, until)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		t0 := testEpoch
		if !acquire("r1", t0) {
			t.Fatal("r1 could not take a free lease")
		}
		if acquire("r2", t0.Add(5*time.Second)) {
			t.Fatal("r2 took r1's live lease")
		}
		if !acquire("r1", t0.Add(5*time.Second)) {
			t.Fatal("r1 could not take its own lease again")
		}
		if !renew("r1", t0.Add(20*time.Second)) {
			t.Fatal("r1 could not renew its lease")
		}
		if acquire("r2", t0.Add(19*time.Second)) {
			t.Fatal("r2 took r1's renewed lease before it lapsed")
		}
		// r1 dies: its lease lapses and r2 takes it; r1 can no longer renew it.
		if !acquire("r2", t0.Add(21*time.Second)) {
			t.Fatal("r2 could not take r1's lapsed lease")
		}
		if renew("r1", t0.Add(40*time.Second)) {
			t.Fatal("r1 renewed a lease r2 holds")
		}
		p := ShardProgress{State: ShardReading, Sequence: "42", Applied: 7, LastApplied: t0.Add(22 * time.Second)}
		for _, owner := range []string{"r1", "r2"} { // r1's report is ignored: it holds nothing
			if err := db.InTx(ctx, func(q Q) error { return ReportShard(ctx, q, k, owner, p, t0.Add(22*time.Second)) }); err != nil {
				t.Fatal(err)
			}
			p.Sequence, p.Applied = "99", 99
		}
		shards, err := SubscriberShards(ctx, db.Reader())
		if err != nil {
			t.Fatal(err)
		}
		if len(shards) != 1 || shards[0].Owner != "r2" || shards[0].Sequence != "99" || shards[0].Applied != 99 || !shards[0].LastApplied.Equal(t0.Add(22*time.Second)) {
			t.Fatalf("shards %+v: want r2's report only", shards)
		}
		if err := db.InTx(ctx, func(q Q) error { return ReleaseShardLease(ctx, q, k, "r2") }); err != nil {
			t.Fatal(err)
		}
		if !acquire("r3", t0.Add(23*time.Second)) {
			t.Fatal("r3 could not take a released lease at once")
		}
	})
}

func TestLiveRunners_CountsRunnersSeenUntilNowAndForgetsStoppedOnes(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := testEpoch
		err := db.InTx(ctx, func(q Q) error {
			for _, r := range []struct {
				owner, replica string
				until          time.Time
			}{{"r1", "eu", t0.Add(time.Second)}, {"r2", "eu", t0.Add(-time.Second)}, {"r3", "eu", t0.Add(5 * time.Second)}, {"r3", "us", t0.Add(5 * time.Second)}} {
				if err := SeeRunner(ctx, q, r.owner, r.replica, r.until); err != nil {
					return err
				}
			}
			return ForgetRunner(ctx, q, "r3", t0)
		})
		if err != nil {
			t.Fatal(err)
		}
		for replica, want := range map[string]int{"eu": 1, "us": 0} {
			n, err := LiveRunners(ctx, db.Reader(), replica, t0)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Fatalf("replica %s: %d live runners, want %d", replica, n, want)
			}
		}
	})
}
