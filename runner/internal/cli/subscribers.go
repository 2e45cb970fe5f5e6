package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/notify"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/subscribe"
)

// subscribers is what serve needs of the stream subscribers: they run beside the engine until
// the command ends.
type subscribers interface {
	Run(ctx context.Context) error
}

// newSubscribers builds the stream subscribers of the replicas cfg names (nil when it names
// none).
func (rt *runtime) newSubscribers(log *slog.Logger, secrets redact.Scrubber) (subscribers, error) {
	if len(rt.cfg.Replicas) == 0 {
		return nil, nil
	}
	if rt.awsErr != nil {
		return nil, usageErrorf("replicas %v: stream subscribers read Kinesis and need an AWS configuration: %v", rt.cfg.Replicas, rt.awsErr)
	}
	aws := rt.aws
	sub, err := subscribe.New(subscribe.Options{
		DB: rt.db, Registry: rt.reg, Conns: rt.conns,
		// The stream is read in the region its ARN names, whatever the runner's own region.
		Kinesis: func(_ context.Context, region string) (subscribe.Kinesis, error) {
			return kinesis.NewFromConfig(aws.Config(), func(o *kinesis.Options) {
				o.Region = region
				if ep := aws.Endpoint(awsclient.Kinesis); ep != "" {
					o.BaseEndpoint = &ep
				}
			}), nil
		},
		Store:    storage.New(aws.S3()),
		Notifier: notify.New(notify.Options{SNS: aws.SNS(), Logger: log, Secrets: secrets}),
		Replicas: rt.cfg.Replicas, LeaseTTL: time.Duration(rt.cfg.ReplicaLease),
		Logger: log,
	})
	if err != nil {
		return nil, ioError(err)
	}
	return sub, nil
}

// replicaSource reads the subscribers' shard reports from the state database, for metrics,
// status and the status page.
type replicaSource struct{ db *state.DB }

func (s replicaSource) ReplicaShards(ctx context.Context) ([]status.ReplicaShard, error) {
	return replicaShards(ctx, s.db, time.Now())
}

func replicaShards(ctx context.Context, db *state.DB, now time.Time) ([]status.ReplicaShard, error) {
	rows, err := state.SubscriberShards(ctx, db.Reader())
	if err != nil {
		return nil, fmt.Errorf("replicas: %w", err)
	}
	out := make([]status.ReplicaShard, 0, len(rows))
	for _, r := range rows {
		out = append(out, status.ReplicaShard{
			Replication: r.Replication, Replica: r.Replica, Shard: r.Shard, State: r.State,
			Owner: r.Owner, LeaseHeld: r.LeaseUntil.After(now), Sequence: r.Sequence, Applied: r.Applied,
			MillisBehind: r.MillisBehind, LastApplied: r.LastApplied, LastError: r.LastError, UpdatedAt: r.UpdatedAt,
			RecordsBehind: r.RecordsBehind, RecordsBehindExact: r.RecordsBehind != nil && r.MillisBehind != nil && *r.MillisBehind == 0,
		})
	}
	return out, nil
}

// scrubShards removes known secrets from the shards' errors: a replica's connection error may
// quote what the runner must never show.
func scrubShards(s redact.Scrubber, shards []status.ReplicaShard) {
	for i := range shards {
		shards[i].LastError = s.Scrub(shards[i].LastError)
	}
}

// writeReplicas prints the replicas section of status: per replication and replica, each
// shard's state, applied records and sequence, lag and last error.
func writeReplicas(w io.Writer, shards []status.ReplicaShard, now time.Time) {
	if len(shards) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "replicas")
	prev := ""
	for _, s := range shards {
		if k := s.Replication + "\x00" + s.Replica; k != prev {
			prev = k
			fmt.Fprintf(w, "  replication %s, replica %s\n", s.Replication, s.Replica)
		}
		line := fmt.Sprintf("    %-24s %-9s applied %d", s.Shard, s.State, s.Applied)
		if s.MillisBehind != nil {
			line += fmt.Sprintf("  behind %s", (time.Duration(*s.MillisBehind) * time.Millisecond).String())
		}
		if lag := s.RecordsLag(); lag != "" {
			line += ", " + lag
		}
		if s.LastApplied != nil {
			line += fmt.Sprintf("  last applied %s (%s ago)", s.LastApplied.Format(time.RFC3339), now.Sub(*s.LastApplied).Round(time.Second))
		}
		if s.Sequence != "" {
			line += "  sequence " + s.Sequence
		}
		lease := "lease " + s.Owner
		if !s.LeaseHeld {
			lease += " (lapsed)"
		}
		fmt.Fprintln(w, line+"  "+lease)
		if s.LastError != "" {
			fmt.Fprintf(w, "      error: %s\n", firstLine(s.LastError))
		}
	}
}
