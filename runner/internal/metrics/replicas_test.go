package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/metrics"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

type replicaShards struct {
	shards []status.ReplicaShard
	err    error
}

func (r replicaShards) ReplicaShards(context.Context) ([]status.ReplicaShard, error) {
	return r.shards, r.err
}

func TestReplicas_PerShardAppliedLagStateAndError(t *testing.T) {
	behind, records, none := int64(1500), int64(3200), int64(0)
	last := time.Unix(1_790_000_000, 0)
	m := metrics.New(nil, nil)
	m.WatchReplicas(replicaShards{shards: []status.ReplicaShard{
		{Replication: "orders", Replica: "eu", Shard: "shardId-000000000000", State: "reading", Applied: 120, MillisBehind: &behind, RecordsBehind: &records, LastApplied: &last},
		{Replication: "orders", Replica: "us", Shard: "shardId-000000000000", State: "stopped", Applied: 7, LastError: "poison record 42: boom", RecordsBehind: &none, RecordsBehindExact: true},
		{Replication: "orders", Replica: "us", Shard: "shardId-000000000000", State: "reading", Applied: 9}, // a duplicate row: one series
	}}, 0)
	want := `
# HELP sluice_replica_applied_records Records of the shard the replica has checkpointed (applied, or written to the dead-letter prefix), by replication, replica and shard.
# TYPE sluice_replica_applied_records gauge
sluice_replica_applied_records{replica="eu",replication="orders",shard="shardId-000000000000"} 120
sluice_replica_applied_records{replica="us",replication="orders",shard="shardId-000000000000"} 7
# HELP sluice_replica_millis_behind_latest Kinesis MillisBehindLatest of the subscriber's last read of the shard: how far its tip is ahead of what the replica's subscriber has read. Missing while unknown.
# TYPE sluice_replica_millis_behind_latest gauge
sluice_replica_millis_behind_latest{replica="eu",replication="orders",shard="shardId-000000000000"} 1500
# HELP sluice_replica_records_behind Records of the shard the replica's subscriber has read and not yet applied. exact="true": every record after the replica's checkpoint (its last read reached the tip); exact="false": a lower bound (the shard holds more it has not read yet). Missing while unknown.
# TYPE sluice_replica_records_behind gauge
sluice_replica_records_behind{exact="false",replica="eu",replication="orders",shard="shardId-000000000000"} 3200
sluice_replica_records_behind{exact="true",replica="us",replication="orders",shard="shardId-000000000000"} 0
# HELP sluice_replica_last_applied_timestamp_seconds When the replica's subscriber last committed a batch of the shard, as a Unix timestamp.
# TYPE sluice_replica_last_applied_timestamp_seconds gauge
sluice_replica_last_applied_timestamp_seconds{replica="eu",replication="orders",shard="shardId-000000000000"} 1.79e+09
# HELP sluice_replica_shard_error 1 while the last attempt of the shard's subscriber on the replica failed (the status page and ` + "`sluice-runner status`" + ` show the error), else 0.
# TYPE sluice_replica_shard_error gauge
sluice_replica_shard_error{replica="eu",replication="orders",shard="shardId-000000000000"} 0
sluice_replica_shard_error{replica="us",replication="orders",shard="shardId-000000000000"} 1
# HELP sluice_replica_shard_state 1 for the state of the shard's subscriber on the replica: reading, retrying (a transient error), stopped (a poison record, poison = stop) or finished (a closed shard applied to its end).
# TYPE sluice_replica_shard_state gauge
sluice_replica_shard_state{replica="eu",replication="orders",shard="shardId-000000000000",state="reading"} 1
sluice_replica_shard_state{replica="us",replication="orders",shard="shardId-000000000000",state="stopped"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"sluice_replica_applied_records", "sluice_replica_millis_behind_latest", "sluice_replica_records_behind", "sluice_replica_last_applied_timestamp_seconds",
		"sluice_replica_shard_error", "sluice_replica_shard_state"); err != nil {
		t.Fatal(err)
	}
}

func TestReplicas_SourceErrorIsCountedAndTheRestServed(t *testing.T) {
	m := metrics.New(nil, nil)
	m.WatchReplicas(replicaShards{err: errors.New("state database down")}, 0)
	m.RunStarted("p")
	n, err := testutil.GatherAndCount(m.Registry(), "sluice_runs_started_total", "sluice_replica_applied_records")
	if err != nil || n != 1 {
		t.Fatalf("gathered %d series (%v): want the run counter alone", n, err)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var errorsCounted float64
	for _, mf := range mfs {
		if mf.GetName() != "sluice_scrape_errors_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == metrics.SourceReplicas {
					errorsCounted = mt.GetCounter().GetValue()
				}
			}
		}
	}
	// The first gather's error is counted; the second's may or may not be yet (collectors run
	// concurrently), hence at least 1.
	if errorsCounted < 1 {
		t.Fatalf("sluice_scrape_errors_total{source=%q} = %v, want at least 1", metrics.SourceReplicas, errorsCounted)
	}
}
