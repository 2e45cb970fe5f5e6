package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Stream replication metrics, computed at scrape time from what the subscribers reported (see
// WatchReplicas). Labels: replication, replica, shard.
//
//	sluice_replica_applied_records{replication,replica,shard}                records the replica has checkpointed
//	sluice_replica_millis_behind_latest{replication,replica,shard}           Kinesis MillisBehindLatest of the last read
//	sluice_replica_records_behind{replication,replica,shard,exact}           records read and not yet applied
//	sluice_replica_last_applied_timestamp_seconds{replication,replica,shard} when a batch was last committed
//	sluice_replica_shard_state{replication,replica,shard,state}              1 for the shard's state (reading, retrying, stopped, finished)
//	sluice_replica_shard_error{replication,replica,shard}                    1 while the shard's last attempt failed

// ReplicaSource gives the subscribers' per-shard reports at scrape time.
type ReplicaSource interface {
	ReplicaShards(ctx context.Context) ([]status.ReplicaShard, error)
}

// SourceReplicas is the sluice_scrape_errors_total source of the replica metrics.
const SourceReplicas = "replicas"

var (
	replicaLabels      = []string{"replication", "replica", "shard"}
	replicaAppliedDesc = prometheus.NewDesc("sluice_replica_applied_records",
		"Records of the shard the replica has checkpointed (applied, or written to the dead-letter prefix), by replication, replica and shard.",
		replicaLabels, nil)
	replicaBehindDesc = prometheus.NewDesc("sluice_replica_millis_behind_latest",
		"Kinesis MillisBehindLatest of the subscriber's last read of the shard: how far its tip is ahead of what the replica's subscriber has read. Missing while unknown.",
		replicaLabels, nil)
	replicaRecordsBehindDesc = prometheus.NewDesc("sluice_replica_records_behind",
		"Records of the shard the replica's subscriber has read and not yet applied. exact=\"true\": every record after the replica's checkpoint (its last read reached the tip); exact=\"false\": a lower bound (the shard holds more it has not read yet). Missing while unknown.",
		append(append([]string(nil), replicaLabels...), "exact"), nil)
	replicaLastAppliedDesc = prometheus.NewDesc("sluice_replica_last_applied_timestamp_seconds",
		"When the replica's subscriber last committed a batch of the shard, as a Unix timestamp.",
		replicaLabels, nil)
	replicaStateDesc = prometheus.NewDesc("sluice_replica_shard_state",
		"1 for the state of the shard's subscriber on the replica: reading, retrying (a transient error), stopped (a poison record, poison = stop) or finished (a closed shard applied to its end).",
		append(append([]string(nil), replicaLabels...), "state"), nil)
	replicaErrorDesc = prometheus.NewDesc("sluice_replica_shard_error",
		"1 while the last attempt of the shard's subscriber on the replica failed (the status page and `sluice-runner status` show the error), else 0.",
		replicaLabels, nil)
)

// WatchReplicas exports the stream replication metrics from src at every scrape.
func (m *Metrics) WatchReplicas(src ReplicaSource, timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	m.scrapeErrors.WithLabelValues(SourceReplicas)
	m.reg.MustRegister(&replicaCollector{m: m, src: src, timeout: timeout})
}

type replicaCollector struct {
	m       *Metrics
	src     ReplicaSource
	timeout time.Duration
}

// Describe implements prometheus.Collector.
func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{replicaAppliedDesc, replicaBehindDesc, replicaRecordsBehindDesc, replicaLastAppliedDesc, replicaStateDesc, replicaErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	shards, err := c.src.ReplicaShards(ctx)
	if err != nil {
		c.m.scrapeErrors.WithLabelValues(SourceReplicas).Inc()
		c.m.logger.Error("metrics: reading the subscribers' shard reports failed; replica metrics are missing from this scrape", "error", err.Error())
		return
	}
	seen := map[[3]string]bool{}
	for _, s := range shards {
		lv := []string{label(s.Replication), label(s.Replica), label(s.Shard)}
		k := [3]string{lv[0], lv[1], lv[2]}
		if seen[k] {
			continue // one series per shard, or the registry rejects the scrape
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(replicaAppliedDesc, prometheus.GaugeValue, float64(s.Applied), lv...)
		if s.MillisBehind != nil {
			ch <- prometheus.MustNewConstMetric(replicaBehindDesc, prometheus.GaugeValue, float64(*s.MillisBehind), lv...)
		}
		if s.RecordsBehind != nil {
			exact := "false"
			if s.RecordsBehindExact {
				exact = "true"
			}
			ch <- prometheus.MustNewConstMetric(replicaRecordsBehindDesc, prometheus.GaugeValue, float64(*s.RecordsBehind), append(lv, exact)...)
		}
		if s.LastApplied != nil {
			ch <- prometheus.MustNewConstMetric(replicaLastAppliedDesc, prometheus.GaugeValue, float64(s.LastApplied.UnixNano())/1e9, lv...)
		}
		ch <- prometheus.MustNewConstMetric(replicaStateDesc, prometheus.GaugeValue, 1, append(lv, label(s.State))...)
		failing := 0.0
		if s.LastError != "" {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(replicaErrorDesc, prometheus.GaugeValue, failing, lv...)
	}
}
