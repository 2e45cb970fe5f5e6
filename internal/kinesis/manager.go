package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// ErrNotFound is returned when a stream does not exist.
var ErrNotFound = errors.New("stream not found")

// ErrPlanOutdated is returned when a stream's open shard count changed between plan and apply,
// so the planned UpdateShardCount steps are no longer the ones needed.
var ErrPlanOutdated = errors.New("stream changed since the plan was made")

// AWS's per-call tag limits (AddTagsToStream, RemoveTagsFromStream and CreateStream take 10 each).
const (
	tagsPerCall       = 10
	tagsOnCreate      = 10
	maxBusyRetries    = 20
	firstPollInterval = 200 * time.Millisecond
	maxPollInterval   = 10 * time.Second
)

// API is the part of the Kinesis client the manager uses; *kinesis.Client implements it.
type API interface {
	CreateStream(context.Context, *kinesis.CreateStreamInput, ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DeleteStream(context.Context, *kinesis.DeleteStreamInput, ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	ListTagsForStream(context.Context, *kinesis.ListTagsForStreamInput, ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error)
	AddTagsToStream(context.Context, *kinesis.AddTagsToStreamInput, ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error)
	RemoveTagsFromStream(context.Context, *kinesis.RemoveTagsFromStreamInput, ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error)
	UpdateShardCount(context.Context, *kinesis.UpdateShardCountInput, ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error)
	UpdateStreamMode(context.Context, *kinesis.UpdateStreamModeInput, ...func(*kinesis.Options)) (*kinesis.UpdateStreamModeOutput, error)
	IncreaseStreamRetentionPeriod(context.Context, *kinesis.IncreaseStreamRetentionPeriodInput, ...func(*kinesis.Options)) (*kinesis.IncreaseStreamRetentionPeriodOutput, error)
	DecreaseStreamRetentionPeriod(context.Context, *kinesis.DecreaseStreamRetentionPeriodInput, ...func(*kinesis.Options)) (*kinesis.DecreaseStreamRetentionPeriodOutput, error)
	StartStreamEncryption(context.Context, *kinesis.StartStreamEncryptionInput, ...func(*kinesis.Options)) (*kinesis.StartStreamEncryptionOutput, error)
	StopStreamEncryption(context.Context, *kinesis.StopStreamEncryptionInput, ...func(*kinesis.Options)) (*kinesis.StopStreamEncryptionOutput, error)
	EnableEnhancedMonitoring(context.Context, *kinesis.EnableEnhancedMonitoringInput, ...func(*kinesis.Options)) (*kinesis.EnableEnhancedMonitoringOutput, error)
	DisableEnhancedMonitoring(context.Context, *kinesis.DisableEnhancedMonitoringInput, ...func(*kinesis.Options)) (*kinesis.DisableEnhancedMonitoringOutput, error)
	ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// Manager creates, reads, updates and deletes streams.
type Manager struct {
	api API
	log *slog.Logger
}

// NewManager returns a Manager; a nil logger discards progress lines.
func NewManager(api API, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{api: api, log: log}
}

// Get describes a stream with its tags. A missing stream returns ErrNotFound.
func (m *Manager) Get(ctx context.Context, name string) (*Stream, error) {
	out, err := m.api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		if isCode(err, "ResourceNotFoundException") {
			return nil, fmt.Errorf("stream %q: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("describing stream %q: %w", name, explain(err))
	}
	d := out.StreamDescriptionSummary
	s := &Stream{
		Name:           aws.ToString(d.StreamName),
		ARN:            aws.ToString(d.StreamARN),
		Status:         string(d.StreamStatus),
		Mode:           ModeProvisioned,
		OpenShardCount: int(aws.ToInt32(d.OpenShardCount)),
		RetentionHours: int(aws.ToInt32(d.RetentionPeriodHours)),
		EncryptionType: string(d.EncryptionType),
		KMSKeyID:       aws.ToString(d.KeyId),
		ConsumerCount:  int(aws.ToInt32(d.ConsumerCount)),
	}
	if d.StreamModeDetails != nil && d.StreamModeDetails.StreamMode != "" {
		s.Mode = Mode(d.StreamModeDetails.StreamMode)
	}
	if s.EncryptionType == "" {
		s.EncryptionType = EncryptionNone
	}
	for _, em := range d.EnhancedMonitoring {
		for _, mn := range em.ShardLevelMetrics {
			s.ShardLevelMetrics = append(s.ShardLevelMetrics, string(mn))
		}
	}
	s.ShardLevelMetrics = ExpandMetrics(s.ShardLevelMetrics)
	if s.Tags, err = m.tags(ctx, name); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *Manager) tags(ctx context.Context, name string) (map[string]string, error) {
	tags := map[string]string{}
	in := &kinesis.ListTagsForStreamInput{StreamName: aws.String(name)}
	for {
		out, err := m.api.ListTagsForStream(ctx, in)
		if err != nil {
			// Deleted between DescribeStreamSummary and here (a delete waiter polls exactly then):
			// gone, as Get's callers expect, not a failure.
			if isCode(err, "ResourceNotFoundException") {
				return nil, fmt.Errorf("stream %q: %w", name, ErrNotFound)
			}
			return nil, fmt.Errorf("listing tags of stream %q: %w", name, explain(err))
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !aws.ToBool(out.HasMoreTags) || len(out.Tags) == 0 {
			return tags, nil
		}
		in.ExclusiveStartTagKey = out.Tags[len(out.Tags)-1].Key
	}
}

// Create creates a stream, waits until it is ACTIVE, and applies the settings CreateStream cannot
// take (retention, encryption, metrics, tags beyond 50). When a later step fails the stream
// exists: Create returns what it read back along with the error, so the caller can record it.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Stream, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	in := &kinesis.CreateStreamInput{
		StreamName:        aws.String(spec.Name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamMode(spec.Mode)},
	}
	if spec.Mode == ModeProvisioned {
		in.ShardCount = aws.Int32(int32(spec.ShardCount))
	}
	keys := slices.Sorted(maps.Keys(spec.Tags))
	if len(keys) > 0 {
		in.Tags = map[string]string{}
		for _, k := range keys[:min(len(keys), tagsOnCreate)] {
			in.Tags[k] = spec.Tags[k]
		}
	}
	m.log.Info("creating stream", "stream", spec.Name, "mode", string(spec.Mode), "shards", spec.ShardCount)
	if _, err := m.api.CreateStream(ctx, in); err != nil {
		if isCode(err, "ResourceInUseException") {
			return nil, fmt.Errorf("stream %q already exists in this account and region; import it with `terraform import` instead of creating it: %w", spec.Name, explain(err))
		}
		return nil, fmt.Errorf("creating stream %q: %w", spec.Name, explain(err))
	}
	cur, err := m.WaitActive(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	return m.reconcile(ctx, cur, spec, nil)
}

// Update brings an existing stream to spec. plannedSteps, when not nil, is the sequence of shard
// counts shown in the plan; if the stream's shard count changed since, Update refuses with
// ErrPlanOutdated before making any change rather than doing something the plan did not show.
func (m *Manager) Update(ctx context.Context, spec Spec, plannedSteps []int) (*Stream, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cur, err := m.WaitActive(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	return m.reconcile(ctx, cur, spec, plannedSteps)
}

// PlanShardSteps returns the UpdateShardCount steps an update from cur to spec takes: none when
// the stream ends ON_DEMAND or already has the declared count.
func PlanShardSteps(curOpenShards int, spec Spec) ([]int, error) {
	if spec.Mode != ModeProvisioned || curOpenShards == spec.ShardCount || curOpenShards == 0 {
		return []int{}, nil
	}
	return ReshardPlan(curOpenShards, spec.ShardCount)
}

// reconcile applies the differences between cur and spec: mode first (so a switch to PROVISIONED
// can then reshard), then shard count step by step, retention, encryption, metrics and tags. It
// always returns the stream as last read, so a caller can record partial progress on error.
func (m *Manager) reconcile(ctx context.Context, cur *Stream, spec Spec, plannedSteps []int) (*Stream, error) {
	steps, err := PlanShardSteps(cur.OpenShardCount, spec)
	if err != nil {
		return cur, err
	}
	if plannedSteps != nil && !slices.Equal(steps, plannedSteps) {
		return cur, fmt.Errorf("stream %q has %d open shards, so reaching %d takes steps %v, but the plan showed %v; run `terraform plan` again: %w",
			spec.Name, cur.OpenShardCount, spec.ShardCount, steps, plannedSteps, ErrPlanOutdated)
	}

	if cur.Mode != spec.Mode {
		m.log.Info("switching capacity mode", "stream", spec.Name, "from", string(cur.Mode), "to", string(spec.Mode))
		err := m.whenActive(ctx, spec.Name, func() error {
			_, err := m.api.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{
				StreamARN:         aws.String(cur.ARN),
				StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamMode(spec.Mode)},
			})
			return err
		})
		if err != nil {
			return m.after(ctx, cur, fmt.Errorf("switching stream %q from %s to %s: %w", spec.Name, cur.Mode, spec.Mode, explain(err)))
		}
		if cur, err = m.WaitActive(ctx, spec.Name); err != nil {
			return m.after(ctx, cur, err)
		}
	}

	for i, target := range steps {
		from := cur.OpenShardCount
		m.log.Info("resharding", "stream", spec.Name, "step", i+1, "steps", len(steps), "from", from, "to", target)
		err := m.whenActive(ctx, spec.Name, func() error {
			_, err := m.api.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
				StreamName:       aws.String(spec.Name),
				TargetShardCount: aws.Int32(int32(target)),
				ScalingType:      types.ScalingTypeUniformScaling,
			})
			return err
		})
		if err != nil {
			return m.after(ctx, cur, fmt.Errorf("resharding stream %q, step %d of %d (%d -> %d shards; the stream keeps %d): %w",
				spec.Name, i+1, len(steps), from, target, from, explain(err)))
		}
		if cur, err = m.WaitActive(ctx, spec.Name); err != nil {
			return m.after(ctx, cur, err)
		}
		if cur.OpenShardCount != target {
			// Never build the next step on a count AWS did not reach: its limits are relative
			// to the real count.
			return cur, fmt.Errorf("resharding stream %q, step %d of %d: UpdateShardCount to %d finished with %d open shards; apply again to continue from there",
				spec.Name, i+1, len(steps), target, cur.OpenShardCount)
		}
	}

	if cur.RetentionHours != spec.RetentionHours {
		err := m.whenActive(ctx, spec.Name, func() error {
			if spec.RetentionHours > cur.RetentionHours {
				_, err := m.api.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{
					StreamName: aws.String(spec.Name), RetentionPeriodHours: aws.Int32(int32(spec.RetentionHours)),
				})
				return err
			}
			_, err := m.api.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{
				StreamName: aws.String(spec.Name), RetentionPeriodHours: aws.Int32(int32(spec.RetentionHours)),
			})
			return err
		})
		if err != nil {
			return m.after(ctx, cur, fmt.Errorf("changing retention of stream %q from %dh to %dh: %w", spec.Name, cur.RetentionHours, spec.RetentionHours, explain(err)))
		}
		if cur, err = m.WaitActive(ctx, spec.Name); err != nil {
			return m.after(ctx, cur, err)
		}
	}

	if cur.EncryptionType != spec.EncryptionType || (spec.EncryptionType == EncryptionKMS && cur.KMSKeyID != spec.KMSKeyID) {
		if cur, err = m.reencrypt(ctx, cur, spec); err != nil {
			return m.after(ctx, cur, err)
		}
	}

	if enable, disable := metricsDiff(cur.ShardLevelMetrics, spec.ShardLevelMetrics); len(enable)+len(disable) > 0 {
		if cur, err = m.setMetrics(ctx, cur, enable, disable); err != nil {
			return m.after(ctx, cur, err)
		}
	}

	if set, remove := tagsDiff(cur.Tags, spec.Tags); len(set)+len(remove) > 0 {
		if err := m.setTags(ctx, spec.Name, set, remove); err != nil {
			return m.after(ctx, cur, err)
		}
	}
	return m.Get(ctx, spec.Name)
}

// after re-reads the stream after a failed step, so the caller records what really happened.
func (m *Manager) after(ctx context.Context, last *Stream, err error) (*Stream, error) {
	if s, gerr := m.Get(context.WithoutCancel(ctx), last.Name); gerr == nil {
		return s, err
	}
	return last, err
}

func (m *Manager) reencrypt(ctx context.Context, cur *Stream, spec Spec) (*Stream, error) {
	var err error
	if cur.EncryptionType == EncryptionKMS {
		m.log.Info("stopping encryption", "stream", spec.Name)
		err = m.whenActive(ctx, spec.Name, func() error {
			_, err := m.api.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{
				StreamName: aws.String(spec.Name), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(cur.KMSKeyID),
			})
			return err
		})
		if err != nil {
			return cur, fmt.Errorf("stopping encryption of stream %q: %w", spec.Name, explain(err))
		}
		if cur, err = m.WaitActive(ctx, spec.Name); err != nil {
			return cur, err
		}
	}
	if spec.EncryptionType == EncryptionKMS {
		m.log.Info("starting encryption", "stream", spec.Name, "kms_key_id", spec.KMSKeyID)
		err = m.whenActive(ctx, spec.Name, func() error {
			_, err := m.api.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{
				StreamName: aws.String(spec.Name), EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(spec.KMSKeyID),
			})
			return err
		})
		if err != nil {
			return cur, fmt.Errorf("starting KMS encryption of stream %q with key %q: %w", spec.Name, spec.KMSKeyID, explain(err))
		}
		if cur, err = m.WaitActive(ctx, spec.Name); err != nil {
			return cur, err
		}
	}
	return cur, nil
}

func (m *Manager) setMetrics(ctx context.Context, cur *Stream, enable, disable []string) (*Stream, error) {
	name := cur.Name
	toMetrics := func(ss []string) []types.MetricsName {
		out := make([]types.MetricsName, len(ss))
		for i, s := range ss {
			out[i] = types.MetricsName(s)
		}
		return out
	}
	var err error
	if len(disable) > 0 {
		err = m.whenActive(ctx, name, func() error {
			_, err := m.api.DisableEnhancedMonitoring(ctx, &kinesis.DisableEnhancedMonitoringInput{StreamName: aws.String(name), ShardLevelMetrics: toMetrics(disable)})
			return err
		})
		if err != nil {
			return cur, fmt.Errorf("disabling shard-level metrics %v on stream %q: %w", disable, name, explain(err))
		}
		if cur, err = m.WaitActive(ctx, name); err != nil {
			return cur, err
		}
	}
	if len(enable) > 0 {
		err = m.whenActive(ctx, name, func() error {
			_, err := m.api.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{StreamName: aws.String(name), ShardLevelMetrics: toMetrics(enable)})
			return err
		})
		if err != nil {
			return cur, fmt.Errorf("enabling shard-level metrics %v on stream %q: %w", enable, name, explain(err))
		}
		if cur, err = m.WaitActive(ctx, name); err != nil {
			return cur, err
		}
	}
	return cur, nil
}

func (m *Manager) setTags(ctx context.Context, name string, set map[string]string, remove []string) error {
	for chunk := range slices.Chunk(remove, tagsPerCall) {
		if _, err := m.api.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String(name), TagKeys: chunk}); err != nil {
			return fmt.Errorf("removing tags %v from stream %q: %w", chunk, name, explain(err))
		}
	}
	keys := slices.Sorted(maps.Keys(set))
	for chunk := range slices.Chunk(keys, tagsPerCall) {
		tags := make(map[string]string, len(chunk))
		for _, k := range chunk {
			tags[k] = set[k]
		}
		if _, err := m.api.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: tags}); err != nil {
			return fmt.Errorf("tagging stream %q: %w", name, explain(err))
		}
	}
	return nil
}

// Delete deletes a stream and waits until it is gone. A stream that is already gone is not an
// error. Without enforceConsumerDeletion, AWS refuses to delete a stream with registered
// consumers, and the error says so.
func (m *Manager) Delete(ctx context.Context, name string, enforceConsumerDeletion bool) error {
	m.log.Info("deleting stream", "stream", name)
	err := m.whenActive(ctx, name, func() error {
		_, err := m.api.DeleteStream(ctx, &kinesis.DeleteStreamInput{
			StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(enforceConsumerDeletion),
		})
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound) || isCode(err, "ResourceNotFoundException"):
		return nil
	case err != nil && !enforceConsumerDeletion && isCode(err, "ResourceInUseException"):
		return fmt.Errorf("deleting stream %q: it has registered consumers; deregister them or set enforce_consumer_deletion = true: %w", name, err)
	case err != nil:
		return fmt.Errorf("deleting stream %q: %w", name, explain(err))
	}
	return m.waitGone(ctx, name)
}

// Shards lists a stream's open and closed shard IDs.
func (m *Manager) Shards(ctx context.Context, name string) (open, closed []string, err error) {
	in := &kinesis.ListShardsInput{StreamName: aws.String(name)}
	open, closed = []string{}, []string{}
	for {
		out, err := m.api.ListShards(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("listing shards of stream %q: %w", name, explain(err))
		}
		for _, s := range out.Shards {
			if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
				closed = append(closed, aws.ToString(s.ShardId))
			} else {
				open = append(open, aws.ToString(s.ShardId))
			}
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	sort.Strings(open)
	sort.Strings(closed)
	return open, closed, nil
}

// WaitActive polls until the stream is ACTIVE, with backoff from 200 ms to 10 s, until ctx ends.
func (m *Manager) WaitActive(ctx context.Context, name string) (*Stream, error) {
	var last *Stream
	err := poll(ctx, func() (bool, error) {
		s, err := m.Get(ctx, name)
		if err != nil {
			return false, err
		}
		last = s
		return s.Status == string(types.StreamStatusActive), nil
	})
	if err != nil {
		status := "unknown"
		if last != nil {
			status = last.Status
		}
		return last, fmt.Errorf("waiting for stream %q to become ACTIVE (last status %s): %w", name, status, err)
	}
	return last, nil
}

func (m *Manager) waitGone(ctx context.Context, name string) error {
	err := poll(ctx, func() (bool, error) {
		_, err := m.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("waiting for stream %q to be deleted: %w", name, err)
	}
	return nil
}

// whenActive runs fn, and while AWS answers ResourceInUseException (the stream is CREATING or
// UPDATING), waits for ACTIVE and tries again.
func (m *Manager) whenActive(ctx context.Context, name string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !isCode(err, "ResourceInUseException") || attempt >= maxBusyRetries {
			return err
		}
		s, werr := m.WaitActive(ctx, name)
		if werr != nil {
			return werr
		}
		if s.Status == string(types.StreamStatusActive) && attempt > 1 {
			// ACTIVE yet still in use: the refusal is not about status (e.g. consumers on
			// delete). Give up rather than loop.
			return err
		}
	}
}

func poll(ctx context.Context, done func() (bool, error)) error {
	wait := firstPollInterval
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gave up waiting: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, maxPollInterval)
	}
}

func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

// explain adds what to do to the AWS refusals a user can act on.
func explain(err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode() {
	case "LimitExceededException":
		return fmt.Errorf("%w (AWS Kinesis limit reached: shards per account and region, 10 scaling operations per stream per rolling 24 hours, or 2 capacity-mode switches per 24 hours; request a quota increase or wait, then apply again — nothing was lost)", err)
	case "ResourceInUseException":
		return fmt.Errorf("%w (the stream is busy with another change; wait for it to become ACTIVE and apply again)", err)
	case "InvalidArgumentException":
		return fmt.Errorf("%w (AWS rejected the request's arguments)", err)
	case "AccessDeniedException", "KMSAccessDeniedException":
		return fmt.Errorf("%w (check the IAM permissions of the provider's credentials)", err)
	}
	return err
}
