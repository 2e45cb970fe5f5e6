package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/kinesis"
)

var local *acctest.Kinesis

// TestMain runs these tests against a real kinesis-local; a missing tool fails the run.
func TestMain(m *testing.M) {
	k, err := acctest.StartKinesis(context.Background())
	local = k
	if err != nil {
		fmt.Fprintln(os.Stderr, "kinesis manager tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	k.Stop()
	os.Exit(code)
}

var seq atomic.Int64

func streamName(t *testing.T) string {
	return fmt.Sprintf("mgr-%d-%d", time.Now().UnixNano()%1e6, seq.Add(1))
}

// counting wraps the real client and counts UpdateShardCount calls.
type counting struct {
	*awskinesis.Client
	updates []int32
}

func (c *counting) UpdateShardCount(ctx context.Context, in *awskinesis.UpdateShardCountInput, opts ...func(*awskinesis.Options)) (*awskinesis.UpdateShardCountOutput, error) {
	c.updates = append(c.updates, *in.TargetShardCount)
	return c.Client.UpdateShardCount(ctx, in, opts...)
}

func newManager(t *testing.T) (*kinesis.Manager, *counting) {
	t.Helper()
	c, err := startedClient()
	if err != nil {
		t.Fatal(err)
	}
	api := &counting{Client: c}
	return kinesis.NewManager(api, nil), api
}

func startedClient() (*awskinesis.Client, error) {
	if local == nil {
		return nil, errors.New("kinesis-local not started")
	}
	return local.Client()
}

func spec(name string, shards int) kinesis.Spec {
	return kinesis.Spec{Name: name, Mode: kinesis.ModeProvisioned, ShardCount: shards, RetentionHours: 24, EncryptionType: kinesis.EncryptionNone}
}

func TestManager_OneToNineInFourCalls(t *testing.T) {
	ctx := context.Background()
	m, api := newManager(t)
	name := streamName(t)
	s, err := m.Create(ctx, spec(name, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	if s.OpenShardCount != 1 || s.Status != "ACTIVE" {
		t.Fatalf("created %+v", s)
	}

	s, err = m.Update(ctx, spec(name, 9), []int{2, 4, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenShardCount != 9 || !reflect.DeepEqual(api.updates, []int32{2, 4, 8, 9}) {
		t.Fatalf("1->9: open=%d calls=%v", s.OpenShardCount, api.updates)
	}

}

// Scaling down from an even count: kinesis-local mis-merges odd counts (9 -> 5 -> 3 ends with
// 4 shards), so the down path is proven from 8, and the manager's own check catches the rest.
func TestManager_EightToOneInThreeCalls(t *testing.T) {
	ctx := context.Background()
	m, api := newManager(t)
	name := streamName(t)
	if _, err := m.Create(ctx, spec(name, 8)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	s, err := m.Update(ctx, spec(name, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenShardCount != 1 || !reflect.DeepEqual(api.updates, []int32{4, 2, 1}) {
		t.Fatalf("8->1: open=%d calls=%v", s.OpenShardCount, api.updates)
	}
}

func TestManager_ModeSwitchInPlaceKeepsShardsThenReshards(t *testing.T) {
	ctx := context.Background()
	m, api := newManager(t)
	name := streamName(t)
	if _, err := m.Create(ctx, spec(name, 4)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	od := spec(name, 0)
	od.Mode = kinesis.ModeOnDemand
	s, err := m.Update(ctx, od, []int{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != kinesis.ModeOnDemand || s.OpenShardCount != 4 {
		t.Fatalf("after ON_DEMAND: %+v", s)
	}
	s, err = m.Update(ctx, spec(name, 1), []int{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != kinesis.ModeProvisioned || s.OpenShardCount != 1 || !reflect.DeepEqual(api.updates, []int32{2, 1}) {
		t.Fatalf("after PROVISIONED 1: %+v calls=%v", s, api.updates)
	}
}

func TestManager_SettingsTagsAndMetrics(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	name := streamName(t)
	sp := spec(name, 1)
	sp.Tags = map[string]string{}
	for i := range 13 { // more than one AddTagsToStream call holds
		sp.Tags[fmt.Sprintf("k%02d", i)] = fmt.Sprint(i)
	}
	sp.RetentionHours = 48
	sp.EncryptionType, sp.KMSKeyID = kinesis.EncryptionKMS, "alias/aws/kinesis"
	sp.ShardLevelMetrics = []string{"ALL"}
	s, err := m.Create(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	if s.RetentionHours != 48 || s.EncryptionType != "KMS" || s.KMSKeyID != "alias/aws/kinesis" || len(s.Tags) != 13 || !kinesis.MetricsEqual(s.ShardLevelMetrics, []string{"ALL"}) {
		t.Fatalf("created %+v", s)
	}

	sp.Tags = map[string]string{"k00": "changed", "new": "v"}
	sp.RetentionHours = 24
	sp.EncryptionType, sp.KMSKeyID = kinesis.EncryptionNone, ""
	sp.ShardLevelMetrics = []string{"IncomingBytes"}
	s, err = m.Update(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.RetentionHours != 24 || s.EncryptionType != "NONE" || !reflect.DeepEqual(s.Tags, sp.Tags) || !reflect.DeepEqual(s.ShardLevelMetrics, []string{"IncomingBytes"}) {
		t.Fatalf("updated %+v", s)
	}
}

func TestManager_RefusesOutdatedPlanBeforeChangingAnything(t *testing.T) {
	ctx := context.Background()
	m, api := newManager(t)
	name := streamName(t)
	if _, err := m.Create(ctx, spec(name, 2)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	// The plan was made when the stream had 1 shard: 1 -> 4 is [2 4]; from 2 it is [4].
	s, err := m.Update(ctx, spec(name, 4), []int{2, 4})
	if !errors.Is(err, kinesis.ErrPlanOutdated) || !strings.Contains(err.Error(), "terraform plan") {
		t.Fatalf("want ErrPlanOutdated naming terraform plan, got %v", err)
	}
	if len(api.updates) != 0 || s.OpenShardCount != 2 {
		t.Fatalf("changed the stream anyway: calls=%v open=%d", api.updates, s.OpenShardCount)
	}
}

func TestManager_CreateExistingSaysImport(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	name := streamName(t)
	if _, err := m.Create(ctx, spec(name, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	_, err := m.Create(ctx, spec(name, 1))
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "terraform import") {
		t.Fatalf("want an 'already exists ... terraform import' error, got %v", err)
	}
}

func TestManager_ShardLimitIsReportedNotRetriedForever(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, _ := newManager(t)
	name := streamName(t)
	_, err := m.Create(ctx, spec(name, 5000)) // kinesis-local runs with a 1000-shard account limit
	if err == nil || !strings.Contains(err.Error(), "LimitExceededException") || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("want LimitExceededException with advice, got %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("a quota error was retried until the deadline")
	}
}

func TestManager_GetAndDeleteMissing(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	if _, err := m.Get(ctx, "does-not-exist"); !errors.Is(err, kinesis.ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	if err := m.Delete(ctx, "does-not-exist", false); err != nil {
		t.Fatalf("Delete missing: %v", err)
	}
}

func TestManager_WaitActiveRespectsContext(t *testing.T) {
	m, _ := newManager(t)
	name := streamName(t)
	ctx := context.Background()
	c, _ := startedClient()
	if _, err := c.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: &name, ShardCount: ptr(int32(1))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if _, err := m.WaitActive(short, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitActive with an expired context: %v", err)
	}
}

func TestManager_Shards(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	name := streamName(t)
	if _, err := m.Create(ctx, spec(name, 2)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	if _, err := m.Update(ctx, spec(name, 3), nil); err != nil {
		t.Fatal(err)
	}
	open, closed, err := m.Shards(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 3 || len(closed) == 0 {
		t.Fatalf("open=%v closed=%v", open, closed)
	}
}

func ptr[T any](v T) *T { return &v }

// busyOnce makes the stream busy right before the manager's first UpdateShardCount reaches AWS,
// as another operator's change would: it starts encryption, which holds the stream UPDATING.
type busyOnce struct {
	counting
	fired bool
}

func (b *busyOnce) UpdateShardCount(ctx context.Context, in *awskinesis.UpdateShardCountInput, opts ...func(*awskinesis.Options)) (*awskinesis.UpdateShardCountOutput, error) {
	if !b.fired {
		b.fired = true
		if _, err := b.StartStreamEncryption(ctx, &awskinesis.StartStreamEncryptionInput{
			StreamName: in.StreamName, EncryptionType: "KMS", KeyId: ptr("alias/aws/kinesis"),
		}); err != nil {
			return nil, err
		}
	}
	return b.counting.UpdateShardCount(ctx, in, opts...)
}

// TestManager_BusyStreamIsWaitedFor: when AWS answers ResourceInUseException because the stream
// is UPDATING, the manager waits for ACTIVE and tries the same call again instead of failing.
func TestManager_BusyStreamIsWaitedFor(t *testing.T) {
	ctx := context.Background()
	c, _ := startedClient()
	api := &busyOnce{counting: counting{Client: c}}
	m := kinesis.NewManager(api, nil)
	name := streamName(t)
	if _, err := m.Create(ctx, spec(name, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Delete(context.Background(), name, true) })
	s, err := m.Update(ctx, spec(name, 2), []int{2})
	if err != nil {
		t.Fatalf("Update of a busy stream: %v", err)
	}
	if s.OpenShardCount != 2 {
		t.Fatalf("open shards = %d, want 2", s.OpenShardCount)
	}
	if !reflect.DeepEqual(api.updates, []int32{2, 2}) {
		t.Fatalf("UpdateShardCount calls = %v, want [2 2]: one refused as busy, one retried", api.updates)
	}
}

// deletedBeforeTags deletes the stream on kinesis-local right after DescribeStreamSummary found
// it: the moment a delete waiter can meet.
type deletedBeforeTags struct {
	*awskinesis.Client
}

func (c deletedBeforeTags) ListTagsForStream(ctx context.Context, in *awskinesis.ListTagsForStreamInput, opts ...func(*awskinesis.Options)) (*awskinesis.ListTagsForStreamOutput, error) {
	if _, err := c.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: in.StreamName}); err != nil {
		return nil, err
	}
	for range 100 { // kinesis-local deletes after a short DELETING phase
		if _, err := c.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: in.StreamName}); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c.Client.ListTagsForStream(ctx, in, opts...)
}

func TestManager_GetOfAStreamDeletedMidwayIsNotFound(t *testing.T) {
	m, api := newManager(t)
	name := streamName(t)
	if _, err := m.Create(context.Background(), spec(name, 1)); err != nil {
		t.Fatal(err)
	}
	_, err := kinesis.NewManager(deletedBeforeTags{api.Client}, nil).Get(context.Background(), name)
	if !errors.Is(err, kinesis.ErrNotFound) {
		t.Fatalf("Get of a stream deleted between its calls: %v, want ErrNotFound", err)
	}
}
