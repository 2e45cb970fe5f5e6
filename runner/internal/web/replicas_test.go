package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// replicaSource is fixedSource with stream replicas.
type replicaSource struct {
	fixedSource
	shards []status.ReplicaShard
}

func (s *replicaSource) ReplicaShards(context.Context) ([]status.ReplicaShard, error) {
	return s.shards, nil
}

func TestIndex_ShowsEveryReplicaShardWithItsLagAndEscapedError(t *testing.T) {
	behind := int64(192000)
	src := &replicaSource{fixedSource: fixedSource{pipelines: fixture()}, shards: []status.ReplicaShard{
		{Replication: "orders", Replica: "us_a", Shard: "shardId-000000000000", State: "reading", Owner: "vm-1", LeaseHeld: true, Applied: 1890, LastApplied: ptr(at("2026-11-18T11:59:00Z"))},
		{Replication: "orders", Replica: "eu", Shard: "shardId-000000000001", State: "stopped", Owner: "vm-2", Applied: 412, MillisBehind: &behind, LastError: scriptError},
	}}
	srv := newServer(t, src, nil)
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	wantContains(t, body, `id="replicas"`, "shardId-000000000000", `<span class="badge state-stopped">stopped</span>`, "1890", "3m12s", "vm-2 <span class=\"muted\">(lapsed)</span>",
		"COPY failed: &lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; more")
	if strings.Contains(body, "<script>") {
		t.Fatal("the error's markup reached the page unescaped")
	}
	resp, body = get(t, srv.URL+"/api/replicas")
	var shards []status.ReplicaShard
	if err := json.Unmarshal([]byte(body), &shards); err != nil || resp.StatusCode != http.StatusOK || len(shards) != 2 || *shards[1].MillisBehind != behind {
		t.Fatalf("/api/replicas: %d %s (%v)", resp.StatusCode, body, err)
	}
}

func TestAPIReplicas_NotFoundWithoutSubscribers(t *testing.T) {
	srv := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	resp, body := get(t, srv.URL+"/api/replicas")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no stream replicas") {
		t.Fatalf("/api/replicas: %d %s", resp.StatusCode, body)
	}
	if _, body := get(t, srv.URL+"/"); strings.Contains(body, `id="replicas"`) {
		t.Fatal("a runner without replicas shows a replicas section")
	}
}
