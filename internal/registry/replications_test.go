package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// replicationDoc is a published sluice/replication.v1 document, as the provider writes it.
func replicationDoc(t *testing.T, name string) string {
	t.Helper()
	doc, err := definition.Encode(&definition.Replication{
		Format: definition.FormatReplication, Name: name, StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
		Replicas:      map[string]definition.Replica{"a": {Connection: "a", Region: "us-east-1"}},
		Records:       definition.Records{Format: definition.RecordsStatements},
		Batch:         definition.Batch{MaxRecords: definition.DefaultBatchMaxRecords, MaxBytes: definition.DefaultBatchMaxBytes, MaxLatency: definition.DefaultBatchMaxLatency},
		StartPosition: definition.StartPosition{Type: definition.StartTrimHorizon},
		Poison:        definition.Poison{Policy: definition.PoisonStop},
		PollInterval:  definition.DefaultPollInterval,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// Replications live under replications/ beside pipelines and EMR templates, on every driver:
// put, get (byte for byte, decodable), list by their prefix only, delete.
func TestRegistry_ReplicationsAreKeysLikeTheOthers(t *testing.T) {
	if got := registry.ReplicationKey("warehouse"); got != "replications/warehouse.json" {
		t.Fatalf("ReplicationKey = %q", got)
	}
	forEachDriver(t, func(t *testing.T, reg registry.Registry, _ *atomic.Int64) {
		ctx := context.Background()
		mustPut(t, reg, registry.PipelineKey("daily"), "{}")
		mustPut(t, reg, registry.EMRTemplateKey("spark"), "{}")
		docs := map[string]string{}
		for _, name := range []string{"warehouse", "clicks", "audit.v2"} {
			docs[name] = replicationDoc(t, name)
			mustPut(t, reg, registry.ReplicationKey(name), docs[name])
		}
		want := []string{"replications/audit.v2.json", "replications/clicks.json", "replications/warehouse.json"}
		if got := mustList(t, reg, registry.ReplicationsPrefix); !slices.Equal(got, want) {
			t.Errorf("List(replications/) = %q, want %q", got, want)
		}
		if got := mustList(t, reg, registry.PipelinesPrefix); !slices.Equal(got, []string{"pipelines/daily.json"}) {
			t.Errorf("List(pipelines/) = %q, want only the pipeline", got)
		}
		got := mustGet(t, reg, registry.ReplicationKey("clicks"))
		if got != docs["clicks"] {
			t.Errorf("Get = %s, want the published bytes %s", got, docs["clicks"])
		}
		if r, err := definition.DecodeReplication([]byte(got)); err != nil || r.Name != "clicks" {
			t.Errorf("DecodeReplication of what Get returned: %+v, %v", r, err)
		}
		if err := reg.Delete(ctx, registry.ReplicationKey("clicks")); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := reg.Get(ctx, registry.ReplicationKey("clicks")); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
		if got := mustList(t, reg, registry.ReplicationsPrefix); !slices.Equal(got, []string{want[0], want[2]}) {
			t.Errorf("List after Delete = %q", got)
		}
	})
}

// A replication over the maximum document size is refused in the words of a replication.
func TestRegistry_ReplicationOverTheMaxSizeSaysShortenIt(t *testing.T) {
	reg := openFile(t, filepath.Join(t.TempDir(), "registry"), registry.WithMaxDocumentSize(100))
	err := reg.Put(context.Background(), registry.ReplicationKey("warehouse"), []byte(replicationDoc(t, "warehouse")))
	if !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), `document "replications/warehouse.json" is`) ||
		!strings.Contains(err.Error(), "over the maximum document size of 100B (100 bytes): document too large; shorten the replication (its description, its replicas), or raise max_document_size") {
		t.Errorf("Put over the limit = %v", err)
	}
}
