package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReplicas_FileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(path, []byte("replicas: [us_a, us_b]\nreplica_lease: 30s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if len(c.Replicas) != 0 || time.Duration(c.ReplicaLease) != DefaultReplicaLease {
		t.Fatalf("defaults: replicas %v, lease %s", c.Replicas, time.Duration(c.ReplicaLease))
	}
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Replicas, []string{"us_a", "us_b"}) || time.Duration(c.ReplicaLease) != 30*time.Second {
		t.Fatalf("from the file: replicas %v, lease %s", c.Replicas, time.Duration(c.ReplicaLease))
	}
	if err := c.LoadEnv([]string{"SLUICE_REPLICAS= eu , ,eu_b", "SLUICE_REPLICA_LEASE=5s"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Replicas, []string{"eu", "eu_b"}) || time.Duration(c.ReplicaLease) != 5*time.Second {
		t.Fatalf("from the environment: replicas %v, lease %s", c.Replicas, time.Duration(c.ReplicaLease))
	}
}

func TestReplicas_BadNamesAndShortLeasesNameTheSetting(t *testing.T) {
	c := Default()
	c.Replicas = []string{"ok", "Not-OK"}
	c.ReplicaLease = Duration(500 * time.Millisecond)
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`replicas: "Not-OK" is not a replica name`, "replica lease 500ms: use at least 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
