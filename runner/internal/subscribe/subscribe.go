// Package subscribe is the runner's stream-replication subscriber: it keeps the replicas this
// runner serves equal to a Kinesis stream of changes (format sluice/replication.v1, published
// at replications/<name>.json).
//
// A consumer applies one shard of one replication to one replica. Three rules make it exactly
// once per replica:
//
//   - The checkpoint lives in the replica (sluice.replication_checkpoints): a batch and the
//     checkpoint after it commit in one transaction, so a crash anywhere leaves the replica
//     either before the batch (it is read again) or after it (the checkpoint says so).
//   - The transaction first locks the shard's checkpoint row and checks it is the one the
//     consumer started from; if another consumer moved it, the batch is rolled back.
//   - One consumer per (replication, replica, shard) works at a time across all runners: a
//     lease in the state database, renewed while held, taken over once it lapses. The lease
//     only decides who works (and keeps two runners from reading a shard twice over); the
//     checkpoint is the truth.
//
// A child shard (from a split or a merge) is read only after every parent is applied to its end
// in that replica, the Kinesis Client Library's rule, so each partition key stays in order.
package subscribe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/notify"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// Conns resolves connection names; *conn.Resolver implements it.
type Conns interface {
	Get(ctx context.Context, name string) (*redshift.PgxExecutor, error)
}

// Store reads load files and writes dead letters; *storage.Store implements it.
type Store interface {
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	Open(ctx context.Context, url string) (io.ReadCloser, error)
	Put(ctx context.Context, url string, r io.Reader) error
}

// Notifier tells a target of a poison record; *notify.Sender implements it.
type Notifier interface {
	Send(ctx context.Context, target string, m notify.Message) error
}

// Defaults of Options.
const (
	DefaultLeaseTTL  = 10 * time.Second
	DefaultTick      = 2 * time.Second
	DefaultStopRetry = time.Minute
)

// Options configure a Service.
type Options struct {
	DB       *state.DB
	Registry registry.Registry
	Conns    Conns
	// Kinesis returns a client for a region: a stream is read in the region its ARN names.
	Kinesis func(ctx context.Context, region string) (Kinesis, error)
	Store   Store
	// Notifier may be nil: poison records are then only logged and recorded.
	Notifier Notifier
	// Replicas are the replica names this runner serves, in every replication that has them.
	Replicas []string
	// Owner names this runner in leases; default host-pid-random.
	Owner string
	// LeaseTTL is how long a lease lasts unrenewed: a dead runner's shards are taken over
	// within it (default DefaultLeaseTTL). It is renewed every third of it.
	LeaseTTL time.Duration
	// Tick is how often the registry and the streams' shards are read (default DefaultTick).
	Tick time.Duration
	// StopRetry is how often a shard stopped on a poison record tries the record again, so a
	// fix in the replica (a missing table created) lets it go on (default DefaultStopRetry).
	StopRetry time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service runs the consumers of the replicas a runner serves.
type Service struct {
	db        *state.DB
	reg       registry.Registry
	conns     Conns
	kinesis   func(ctx context.Context, region string) (Kinesis, error)
	store     Store
	notifier  Notifier
	replicas  []string
	owner     string
	leaseTTL  time.Duration
	tick      time.Duration
	stopRetry time.Duration
	log       *slog.Logger
	now       func() time.Time

	mu        sync.Mutex
	consumers map[state.ShardKey]*consumer
	schemas   map[string]bool   // replication/replica pairs whose checkpoint table exists
	failures  map[string]string // replication/replica → the last error serving it, "" when well
	conflicts atomic.Int64      // batches rolled back because the checkpoint moved
}

// New returns a Service; Run starts it.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Registry == nil || o.Conns == nil || o.Kinesis == nil {
		return nil, errors.New("subscribe: DB, Registry, Conns and Kinesis are required")
	}
	s := &Service{
		db: o.DB, reg: o.Registry, conns: o.Conns, kinesis: o.Kinesis, store: o.Store, notifier: o.Notifier,
		replicas: slices.Clone(o.Replicas), owner: o.Owner, leaseTTL: o.LeaseTTL, tick: o.Tick, stopRetry: o.StopRetry,
		log: o.Logger, now: o.Now,
		consumers: map[state.ShardKey]*consumer{}, schemas: map[string]bool{},
		failures: map[string]string{},
	}
	if s.owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		s.owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if s.leaseTTL <= 0 {
		s.leaseTTL = DefaultLeaseTTL
	}
	if s.tick <= 0 {
		s.tick = DefaultTick
	}
	if s.stopRetry <= 0 {
		s.stopRetry = DefaultStopRetry
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// CheckpointConflicts counts the batches this runner rolled back because another consumer had
// moved the replica's checkpoint meanwhile (a lease taken over under a consumer still at work).
func (s *Service) CheckpointConflicts() int64 { return s.conflicts.Load() }

// Owner is the name this runner's leases carry.
func (s *Service) Owner() string { return s.owner }

// Run serves the replicas until ctx ends, then stops every consumer and gives their leases
// back. A consumer stopped mid-batch rolls the batch back; the next holder reads it again.
func (s *Service) Run(ctx context.Context) error {
	s.log.Info("stream subscribers started", "replicas", s.replicas, "owner", s.owner, "lease_ttl", s.leaseTTL.String())
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		s.runTick(ctx)
		select {
		case <-ctx.Done():
			s.stopAll(nil)
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.db.InTx(fctx, func(q state.Q) error { return state.ForgetRunner(fctx, q, s.owner, s.now()) }); err != nil {
				s.log.Warn("removing this runner from the state database", "error", err.Error())
			}
			cancel()
			return nil
		case <-t.C:
		}
	}
}

// stopAll stops the consumers keep does not keep and waits for them.
func (s *Service) stopAll(keep func(*consumer) bool) {
	s.mu.Lock()
	var stopping []*consumer
	for k, c := range s.consumers {
		select {
		case <-c.done:
			delete(s.consumers, k)
			continue
		default:
		}
		if keep == nil || !keep(c) {
			c.cancel(nil)
			stopping = append(stopping, c)
			delete(s.consumers, k)
		}
	}
	s.mu.Unlock()
	for _, c := range stopping {
		<-c.done
	}
}

// runTick reads the published replications and starts a consumer for every shard a served
// replica may read now and whose lease this runner can take.
func (s *Service) runTick(ctx context.Context) {
	// Say this runner serves its replicas, so runners share their shards out.
	until := s.now().Add(s.leaseTTL)
	if err := s.db.InTx(ctx, func(q state.Q) error {
		for _, r := range s.replicas {
			if err := state.SeeRunner(ctx, q, s.owner, r, until); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		s.log.Warn("recording this runner in the state database", "error", err.Error())
	}
	keys, err := s.reg.List(ctx, registry.ReplicationsPrefix)
	var le *registry.ListError
	if err != nil && !errors.As(err, &le) {
		s.log.Warn("reading the registry's replications", "error", err.Error())
		return // keep the consumers running: the registry being unreadable removes nothing
	}
	if le != nil {
		s.log.Warn("some replications in the registry cannot be read", "error", le.Error())
	}
	live := map[string]string{} // replication → version of the documents read now
	broken := map[string]bool{} // replications whose document cannot be read or is invalid now
	for _, key := range keys {
		rep, err := s.readReplication(ctx, key)
		if err != nil {
			s.log.Error("replication not served", "key", key, "error", err.Error())
			broken[strings.TrimSuffix(strings.TrimPrefix(key, registry.ReplicationsPrefix), ".json")] = true
			continue
		}
		var mine []string
		for _, r := range rep.ReplicaNames() {
			if slices.Contains(s.replicas, r) {
				mine = append(mine, r)
			}
		}
		live[rep.Name] = rep.Version
		if len(mine) == 0 {
			continue
		}
		s.serveReplication(ctx, rep, mine)
	}
	// A consumer of a replication that is gone, or was republished with a new version, stops;
	// the next tick starts it again on the new document from the replica's checkpoint.
	s.stopAll(func(c *consumer) bool {
		v, ok := live[c.key.Replication]
		if !ok && (le != nil || broken[c.key.Replication]) {
			// Unreadable is not removed, and a broken new version is not served: the consumer
			// goes on with the document it has until a good one is published.
			return true
		}
		return ok && v == c.version
	})
}

func (s *Service) readReplication(ctx context.Context, key string) (*definition.Replication, error) {
	data, err := s.reg.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	rep, err := definition.DecodeReplication(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if probs := definition.ValidateReplication(rep); len(probs) > 0 {
		return nil, fmt.Errorf("replication %s is invalid: %w", rep.Name, definition.Problems(probs))
	}
	return rep, nil
}

func (s *Service) serveReplication(ctx context.Context, rep *definition.Replication, replicas []string) {
	arn, err := definition.ParseStreamARN(rep.StreamARN)
	if err != nil {
		s.log.Error("replication not served", "replication", rep.Name, "error", err.Error())
		return
	}
	kin, err := s.kinesis(ctx, arn.Region)
	if err != nil {
		s.failAll(ctx, rep, replicas, fmt.Errorf("Kinesis in %s: %w", arn.Region, err))
		return
	}
	shards, err := listShards(ctx, kin, arn.Stream)
	if err != nil {
		s.failAll(ctx, rep, replicas, err)
		return
	}
	ids := make([]string, len(shards))
	for i, sh := range shards {
		ids[i] = sh.id
	}
	for _, replica := range replicas {
		if err := s.serveReplica(ctx, rep, replica, arn.Stream, kin, shards); err != nil {
			s.fail(ctx, rep.Name, replica, ids, err)
			continue
		}
		s.fail(ctx, rep.Name, replica, nil, nil)
	}
}

func (s *Service) failAll(ctx context.Context, rep *definition.Replication, replicas []string, err error) {
	for _, r := range replicas {
		s.fail(ctx, rep.Name, r, nil, err)
	}
}

// fail records (err != nil) or clears the error of serving a replica, logging a change once. The
// error also goes on the replica's shards that no live consumer reports on (status would
// otherwise show what they last did, before the replica became unreachable).
func (s *Service) fail(ctx context.Context, replication, replica string, shards []string, err error) {
	if err != nil {
		now := s.now()
		if rerr := s.db.InTx(ctx, func(q state.Q) error {
			return state.ReportReplicaError(ctx, q, replication, replica, s.owner, err.Error(), shards, now)
		}); rerr != nil {
			s.log.Warn("recording a replica's error", "replication", replication, "replica", replica, "error", rerr.Error())
		}
	}
	k := replication + "/" + replica
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	prev := s.failures[k]
	s.failures[k] = msg
	s.mu.Unlock()
	switch {
	case msg != "" && msg != prev:
		s.log.Warn("replica not served now; retrying every tick", "replication", replication, "replica", replica, "error", msg)
	case msg == "" && prev != "":
		s.log.Info("replica served again", "replication", replication, "replica", replica)
		if err := s.db.InTx(ctx, func(q state.Q) error { return state.ClearReplicaError(ctx, q, replication, replica) }); err != nil {
			s.log.Warn("clearing a replica's error", "replication", replication, "replica", replica, "error", err.Error())
		}
	}
}

func (s *Service) serveReplica(ctx context.Context, rep *definition.Replication, replica, stream string, kin Kinesis, shards []shard) error {
	connName := rep.Replicas[replica].Connection
	x, err := s.conns.Get(ctx, connName)
	if err != nil {
		return fmt.Errorf("connection %s: %w", connName, err)
	}
	sk := rep.Name + "/" + replica
	s.mu.Lock()
	haveSchema := s.schemas[sk]
	s.mu.Unlock()
	if !haveSchema {
		if err := ensureSchema(ctx, x); err != nil {
			return err
		}
		s.mu.Lock()
		s.schemas[sk] = true
		s.mu.Unlock()
	}
	cps, err := readCheckpoints(ctx, x.Pool(), rep.Name)
	if err != nil {
		return err
	}
	if len(cps) == 0 && rep.StartPosition.Type == definition.StartLatest {
		if err := initLatest(ctx, x, rep.Name, shards); err != nil {
			return err
		}
		if cps, err = readCheckpoints(ctx, x.Pool(), rep.Name); err != nil {
			return err
		}
	}
	// Share the replica's ready shards out among the runners serving it: this runner consumes
	// at most its fair share (rounded up, so together they cover every shard), gives back what
	// it holds beyond it, and takes free or lapsed leases up to it.
	now := s.now()
	var live int
	if err := s.db.InTx(ctx, func(q state.Q) error {
		var err error
		live, err = state.LiveRunners(ctx, q, replica, now)
		return err
	}); err != nil {
		return err
	}
	readyShards := ready(shards, cps)
	share := (len(readyShards) + max(live, 1) - 1) / max(live, 1)
	mine := s.running(rep.Name, replica)
	for len(mine) > share {
		c := mine[len(mine)-1]
		mine = mine[:len(mine)-1]
		c.log.Info("giving the shard back: other runners serve this replica too", "runners", live, "share", share)
		c.cancel(nil) // it rolls back any batch in flight and releases the lease
	}
	for _, sh := range readyShards {
		if len(mine) >= share {
			break
		}
		key := state.ShardKey{Replication: rep.Name, Replica: replica, Shard: sh.id}
		if s.isRunning(key) {
			continue
		}
		var got bool
		if err := s.db.InTx(ctx, func(q state.Q) error {
			var err error
			got, err = state.AcquireShardLease(ctx, q, key, s.owner, now, now.Add(s.leaseTTL))
			return err
		}); err != nil {
			return err
		}
		if !got {
			continue
		}
		mine = append(mine, s.start(ctx, rep, key, connName, stream, kin, sh))
	}
	return nil
}

// running lists this runner's live consumers of a replication's replica, by shard id.
func (s *Service) running(replication, replica string) []*consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*consumer
	for k, c := range s.consumers {
		if k.Replication != replication || k.Replica != replica {
			continue
		}
		select {
		case <-c.done:
			continue
		case <-c.stopping:
			continue
		default:
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *consumer) int { return strings.Compare(a.key.Shard, b.key.Shard) })
	return out
}

func (s *Service) isRunning(key state.ShardKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consumers[key]
	if !ok {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

func (s *Service) start(ctx context.Context, rep *definition.Replication, key state.ShardKey, connName, stream string, kin Kinesis, sh shard) *consumer {
	maxLatency, _ := definition.ParseDuration(rep.Batch.MaxLatency)
	poll, _ := definition.ParseDuration(rep.PollInterval)
	c := &consumer{
		svc: s, rep: rep, key: key, conn: connName, stream: stream, kin: kin, version: rep.Version,
		log:  s.log.With("replication", key.Replication, "replica", key.Replica, "shard", key.Shard),
		done: make(chan struct{}), stopping: make(chan struct{}),
		maxRecords: rep.Batch.MaxRecords, maxBytes: rep.Batch.MaxBytes, maxLatency: maxLatency, pollEvery: poll,
		callGap: rep.FlowingCallGap(),
		prog:    state.ShardProgress{State: state.ShardReading},
	}
	// The consumer outlives this tick: its context is the service's, not the tick's.
	cctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var once sync.Once
	c.cancel = func(err error) {
		once.Do(func() { close(c.stopping) })
		cancel(err)
	}
	s.mu.Lock()
	s.consumers[key] = c
	s.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			cancel(ctx.Err())
		case <-c.done:
		}
	}()
	c.log.Info("shard lease taken; consuming", "parents", sh.parents)
	go c.run(cctx)
	return c
}

// deadLetter is the document written for a poison record under poison = "dead_letter".
type deadLetter struct {
	Replication  string    `json:"replication"`
	Replica      string    `json:"replica"`
	Shard        string    `json:"shard"`
	Sequence     string    `json:"sequence_number"`
	PartitionKey string    `json:"partition_key"`
	Arrival      time.Time `json:"approximate_arrival"`
	Error        string    `json:"error"`
	// Data is the record as text when it is UTF-8, else DataBase64 holds its bytes.
	Data       string `json:"data,omitempty"`
	DataBase64 string `json:"data_base64,omitempty"`

	url string
}

func (c *consumer) deadLetter(r record, err error) deadLetter {
	dl := deadLetter{
		Replication: c.key.Replication, Replica: c.key.Replica, Shard: c.key.Shard,
		Sequence: r.sequence, PartitionKey: r.partitionKey, Arrival: r.arrival.UTC(), Error: err.Error(),
	}
	if utf8.Valid(r.data) {
		dl.Data = string(r.data)
	} else {
		dl.DataBase64 = base64.StdEncoding.EncodeToString(r.data)
	}
	// One object per record, named by where it came from: writing it again is harmless.
	dl.url = storage.Join(c.rep.Poison.DeadLetter, c.key.Replication+"/"+c.key.Replica+"/"+c.key.Shard+"/"+r.sequence+".json")
	return dl
}

func (s *Service) putDeadLetter(ctx context.Context, dl deadLetter) error {
	if s.store == nil {
		return errors.New("no storage to write dead letters to")
	}
	doc, err := json.MarshalIndent(dl, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the dead letter of record %s: %w", dl.Sequence, err)
	}
	if err := s.store.Put(ctx, dl.url, bytes.NewReader(doc)); err != nil {
		return fmt.Errorf("writing the dead letter of record %s to %s: %w", dl.Sequence, dl.url, err)
	}
	return nil
}

// notifyPoison tells the replication's poison.notify targets of a poison record. A failed
// notification is logged: it must not hold the replica back.
func (s *Service) notifyPoison(ctx context.Context, c *consumer, sequence string, err error, deadLettered bool) {
	if s.notifier == nil {
		return
	}
	what := "stopped on poison record " + sequence
	if deadLettered {
		what = "poison record " + sequence + " written to " + c.rep.Poison.DeadLetter + " and skipped"
	}
	m := notify.Message{
		Event: notify.EventFailure, Pipeline: "replication " + c.key.Replication, Owner: c.rep.Owner,
		Activity: "replica " + c.key.Replica + ", shard " + c.key.Shard,
		Error:    what + ": " + err.Error(),
	}
	for _, target := range c.rep.Poison.Notify {
		if nerr := s.notifier.Send(context.WithoutCancel(ctx), target, m); nerr != nil {
			c.log.Warn("notifying of a poison record", "target", notify.RedactTarget(target), "error", nerr.Error())
		}
	}
}
