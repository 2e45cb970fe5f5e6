// Package streamput puts changes into a stream replication's Kinesis stream: the stream_put
// activity and the `put` command. Producing a change once, into the stream, instead of running
// it on each replica is what keeps replicas equal: a replica that is down misses nothing, its
// subscriber applies the change when it returns.
//
// Each change goes in a sluice/change.v1 envelope whose id stays the same when an attempt is
// retried (pipeline, interval, run, activity, position), so a change that reaches the stream
// twice — an attempt that put it and died before recording success — is applied once: the
// subscribers record applied ids in the replica, in the transaction that applies the change.
package streamput

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// Kinesis is what putting needs of a Kinesis client.
type Kinesis interface {
	PutRecord(ctx context.Context, in *kinesis.PutRecordInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error)
}

// Options are what the executor needs.
type Options struct {
	// Registry holds the published replications.
	Registry registry.Registry
	// Kinesis returns a client for a region (the stream's, from its ARN).
	Kinesis func(ctx context.Context, region string) (Kinesis, error)
	// Store lists the files of a load.
	Store *storage.Store
}

// Executor runs stream_put activities.
type Executor struct {
	opts    Options
	mu      sync.Mutex
	clients map[string]Kinesis
}

// New returns a stream_put executor.
func New(opts Options) *Executor {
	return &Executor{opts: opts, clients: map[string]Kinesis{}}
}

// Execute puts the activity's changes, in order, each after the previous one.
func (e *Executor) Execute(ctx context.Context, t *activity.Task) (*activity.Result, error) {
	a := t.Activity.StreamPut
	if a == nil {
		return nil, activity.Permanent(errors.New("not a stream_put activity"))
	}
	rep, err := ReadReplication(ctx, e.opts.Registry, a.Replication)
	if err == nil {
		err = CheckStatements(rep)
	}
	if err != nil {
		return nil, activity.Permanent(err)
	}
	base := ChangeIDBase(t)
	var changes []definition.ChangeRecord
	for i, sql := range a.Statements {
		changes = append(changes, definition.ChangeRecord{Format: definition.FormatChange, ID: base + strconv.Itoa(i), SQL: sql})
	}
	if l := a.Load; l != nil {
		if e.opts.Store == nil {
			return nil, activity.Permanent(errors.New("no storage configured to list the load's files"))
		}
		objs, err := e.opts.Store.List(ctx, l.From)
		if err != nil {
			return nil, fmt.Errorf("listing the files of the load under %s: %w", l.From, err)
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("no files under %s: nothing to load into %s (the files may not have landed yet)", l.From, l.Table)
		}
		files := make([]string, len(objs))
		for i, o := range objs {
			files[i] = o.URL
		}
		changes = append(changes, definition.ChangeRecord{Format: definition.FormatChange, ID: base + "0", Load: &definition.LoadRecord{
			Format: definition.FormatLoadRecord, Table: l.Table, Files: files, FileFormat: l.Format,
			InsertMode: l.InsertMode, KeyColumns: l.KeyColumns, Options: l.Options,
		}})
	}
	if len(changes) == 0 {
		return nil, activity.Permanent(errors.New("nothing to put: set statements or load"))
	}
	key := a.PartitionKey
	if key == "" {
		key = rep.Name
	}
	client, err := e.client(ctx, rep)
	if err != nil {
		return nil, err
	}
	seqs, err := Put(ctx, client, rep, key, changes)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(t.Log, "put %d change(s) into replication %s (stream %s), partition key %q, sequence numbers %s to %s\n",
		len(changes), rep.Name, rep.StreamARN, key, seqs[0], seqs[len(seqs)-1])
	return &activity.Result{
		Summary: fmt.Sprintf("put %d change(s) into replication %s", len(changes), rep.Name),
		Details: map[string]any{"replication": rep.Name, "stream_arn": rep.StreamARN, "partition_key": key, "first_id": changes[0].ID, "sequence_numbers": seqs},
	}, nil
}

func (e *Executor) client(ctx context.Context, rep *definition.Replication) (Kinesis, error) {
	arn, err := definition.ParseStreamARN(rep.StreamARN)
	if err != nil {
		return nil, activity.Permanent(fmt.Errorf("replication %s: %w", rep.Name, err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.clients[arn.Region]; ok {
		return c, nil
	}
	c, err := e.opts.Kinesis(ctx, arn.Region)
	if err != nil {
		return nil, fmt.Errorf("a Kinesis client for %s (replication %s): %w", arn.Region, rep.Name, err)
	}
	e.clients[arn.Region] = c
	return c, nil
}

// ChangeIDBase is the id prefix of a task's changes: the same for every attempt of the task, so
// a retried put is recognised, and different for every run (a reprocess applies again).
func ChangeIDBase(t *activity.Task) string {
	return t.Pipeline + "/" + t.Interval.Start.UTC().Format(time.RFC3339) + "/run-" + activity.RunIDString(t.RunID) + "/" + t.ActivityID + "/"
}

// ReadReplication reads a published replication by name: decoded strictly and validated, every
// error naming the registry and the key.
func ReadReplication(ctx context.Context, reg registry.Registry, name string) (*definition.Replication, error) {
	if reg == nil {
		return nil, errors.New("no registry configured: pass --registry or set SLUICE_REGISTRY")
	}
	if err := definition.ValidateName("replication", name); err != nil {
		return nil, err
	}
	key := registry.ReplicationKey(name)
	data, err := reg.Get(ctx, key)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil, fmt.Errorf("replication %q is not in registry %s (no document at key %s): publish it with sluice_stream_replication", name, reg.URL(), key)
	case err != nil:
		return nil, fmt.Errorf("reading replication %s: %w", name, err)
	}
	rep, err := definition.DecodeReplication(data)
	if err != nil {
		return nil, fmt.Errorf("registry %s, key %s: %w", reg.URL(), key, err)
	}
	if probs := definition.ValidateReplication(rep); len(probs) > 0 {
		return nil, fmt.Errorf("registry %s, key %s: replication %s is invalid:\n%w", reg.URL(), key, rep.Name, definition.Problems(probs))
	}
	return rep, nil
}

// CheckStatements refuses a replication whose records are not changes: a rows replication
// carries JSON rows of one table.
func CheckStatements(rep *definition.Replication) error {
	if rep.Records.Format != definition.RecordsStatements {
		return fmt.Errorf("replication %s carries %q records (JSON rows for %s): changes can only be put into a %q replication",
			rep.Name, rep.Records.Format, rep.Records.Table, definition.RecordsStatements)
	}
	return nil
}

// Put puts the changes in order with one partition key. Each PutRecord names the sequence number
// of the one before (SequenceNumberForOrdering): PutRecords does not keep the order of the
// records of one call, and order is the point. It returns the sequence numbers.
func Put(ctx context.Context, client Kinesis, rep *definition.Replication, key string, changes []definition.ChangeRecord) ([]string, error) {
	arn, err := definition.ParseStreamARN(rep.StreamARN)
	if err != nil {
		return nil, fmt.Errorf("replication %s: %w", rep.Name, err)
	}
	if key == "" || len([]rune(key)) > definition.MaxPartitionKeyLength {
		return nil, fmt.Errorf("partition key %q: must be 1 to %d characters", key, definition.MaxPartitionKeyLength)
	}
	seqs := make([]string, 0, len(changes))
	var prev *string
	for _, c := range changes {
		data, err := json.Marshal(c)
		if err != nil {
			return seqs, fmt.Errorf("change %s: %w", c.ID, err)
		}
		if len(data) > definition.MaxRecordBytes {
			return seqs, fmt.Errorf("change %s is %d bytes, over Kinesis's record limit of %d: split the statement, or load the data from files (load)", c.ID, len(data), definition.MaxRecordBytes)
		}
		out, err := client.PutRecord(ctx, &kinesis.PutRecordInput{
			StreamName: aws.String(arn.Stream), PartitionKey: aws.String(key), Data: data, SequenceNumberForOrdering: prev,
		})
		if err != nil {
			return seqs, fmt.Errorf("putting change %s into stream %s: %w", c.ID, rep.StreamARN, err)
		}
		prev = out.SequenceNumber
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	return seqs, nil
}
