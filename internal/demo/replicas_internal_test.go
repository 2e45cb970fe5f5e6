package demo

import (
	"strings"
	"testing"
	"time"
)

func TestBehindLatest_ReadsTheReplicaAndTheValue(t *testing.T) {
	for _, tc := range []struct {
		line    string
		replica string
		value   int64
		ok      bool
	}{
		{`sluice_replica_millis_behind_latest{replica="euw1",replication="warehouse",shard="shardId-000000000001"} 23400`, "euw1", 23400, true},
		{`sluice_replica_millis_behind_latest{replica="use1_a",replication="warehouse",shard="shardId-000000000002"} 0`, "use1_a", 0, true},
		{`sluice_replica_millis_behind_latest{replica="use1_b",replication="warehouse",shard="s"} 1.5e+06`, "use1_b", 1_500_000, true},
		{`sluice_replica_applied_records{replica="euw1",replication="warehouse",shard="s"} 12`, "", 0, false},
		{`# HELP sluice_replica_millis_behind_latest Kinesis MillisBehindLatest`, "", 0, false},
		{`sluice_replica_millis_behind_latest{replication="warehouse"} 5`, "", 0, false},
	} {
		replica, value, ok := behindLatest(tc.line)
		if replica != tc.replica || value != tc.value || ok != tc.ok {
			t.Errorf("%s: got %q %d %v, want %q %d %v", tc.line, replica, value, ok, tc.replica, tc.value, tc.ok)
		}
	}
}

// The producer's model of a table is what the replicas are checked against: its updates,
// deletes and ALTER must be the ones its statements make.
func TestProducerRound_ModelFollowsTheStatements(t *testing.T) {
	tbl := &prodTable{name: "orders", key: "orders", rows: map[int64]*prodRow{}}
	var all []string
	for r := range 10 {
		all = append(all, tbl.round(r, 10, r == 6)...)
	}
	if !strings.HasPrefix(all[0], "CREATE TABLE analytics.orders (") {
		t.Errorf("first change %q, want the CREATE TABLE", all[0])
	}
	// 100 rows inserted; round 9 deletes the ids of batch 7 (71..80) divisible by 10: 80.
	if tbl.inserted != 100 || len(tbl.rows) != 99 || tbl.rows[80] != nil {
		t.Errorf("inserted %d, holds %d rows (row 80: %v), want 100, 99 and row 80 deleted", tbl.inserted, len(tbl.rows), tbl.rows[80])
	}
	// id 1: 1, then *2+1 in round 1 = 3. id 31 (batch 3): 31, *2+1 in round 4 = 63, +7 = 70.
	// id 95 (batch 9, the last): not updated yet.
	for id, want := range map[int64]int64{1: 3, 31: 70, 95: 95} {
		if got := tbl.rows[id].amount; got != want {
			t.Errorf("row %d amount %d, want %d", id, got, want)
		}
	}
	var alter, withRegion, deletes int
	for _, c := range all {
		switch {
		case strings.HasPrefix(c, "ALTER TABLE analytics.orders ADD COLUMN region"):
			alter++
		case strings.HasPrefix(c, "INSERT INTO analytics.orders (id, created_at, amount, status, region)"):
			withRegion++
		case c == "DELETE FROM analytics.orders WHERE id BETWEEN 71 AND 80 AND id % 10 = 0":
			deletes++
		}
	}
	if alter != 1 || withRegion != 4 || deletes != 1 {
		t.Errorf("%d ALTER, %d inserts with region, %d deletes; want 1, 4 (rounds 6-9), 1:\n%s", alter, withRegion, deletes, strings.Join(all, "\n"))
	}
}

func TestProducerBehind_IsTheAgeOfTheOldestRoundMissing(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tbl := &prodTable{marks: []roundMark{{maxID: 10, at: now.Add(-3 * time.Second)}, {maxID: 20, at: now.Add(-2 * time.Second)}}}
	for applied, want := range map[int64]time.Duration{0: 3 * time.Second, 10: 2 * time.Second, 15: 2 * time.Second, 20: 0} {
		if got := tbl.behind(applied, now); got != want {
			t.Errorf("holding ids up to %d: behind %s, want %s", applied, got, want)
		}
	}
}
