package kinesis

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func validSpec() Spec {
	return Spec{Name: "events", Mode: ModeProvisioned, ShardCount: 2, RetentionHours: 24, EncryptionType: EncryptionNone}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "events.v1_raw-2", strings.Repeat("x", 128)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 129), "has space", "slash/name", "ünï"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q): want error", bad)
		}
	}
}

func TestSpec_CrossFieldProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   []string // fields
	}{
		{"valid provisioned", func(*Spec) {}, nil},
		{"valid on-demand", func(s *Spec) { s.Mode, s.ShardCount = ModeOnDemand, 0 }, nil},
		{"provisioned without shard_count", func(s *Spec) { s.ShardCount = 0 }, []string{"shard_count"}},
		{"on-demand with shard_count", func(s *Spec) { s.Mode = ModeOnDemand }, []string{"shard_count"}},
		{"kms without key", func(s *Spec) { s.EncryptionType = EncryptionKMS }, []string{"kms_key_id"}},
		{"key without kms", func(s *Spec) { s.KMSKeyID = "alias/x" }, []string{"kms_key_id"}},
		{"ALL with others", func(s *Spec) { s.ShardLevelMetrics = []string{"ALL", "IncomingBytes"} }, []string{"shard_level_metrics"}},
		{"two problems", func(s *Spec) { s.ShardCount = 0; s.KMSKeyID = "k" }, []string{"shard_count", "kms_key_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			var got []string
			for _, p := range s.CrossFieldProblems() {
				got = append(got, p.Field)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSpec_Validate(t *testing.T) {
	if err := validSpec().Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	s := validSpec()
	s.RetentionHours = 23
	s.Mode = "FAST"
	s.ShardLevelMetrics = []string{"Bytes"}
	err := s.Validate()
	for _, field := range []string{"retention_period", "stream_mode", "shard_level_metrics"} {
		var fe FieldError
		found := false
		for _, e := range unwrapAll(err) {
			if errors.As(e, &fe) && fe.Field == field {
				found = true
			}
		}
		if !found {
			t.Errorf("Validate() = %v, want a problem with %s", err, field)
		}
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestMetrics(t *testing.T) {
	if !MetricsEqual([]string{"ALL"}, ShardLevelMetrics()) {
		t.Error("ALL should equal the full list")
	}
	if MetricsEqual([]string{"IncomingBytes"}, nil) {
		t.Error("one metric should differ from none")
	}
	enable, disable := metricsDiff([]string{"IncomingBytes", "OutgoingBytes"}, []string{"OutgoingBytes", "IncomingRecords"})
	if !reflect.DeepEqual(enable, []string{"IncomingRecords"}) || !reflect.DeepEqual(disable, []string{"IncomingBytes"}) {
		t.Errorf("metricsDiff = %v, %v", enable, disable)
	}
}

func TestTags(t *testing.T) {
	set, remove := tagsDiff(map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1", "b": "3", "c": "4"})
	if !reflect.DeepEqual(set, map[string]string{"b": "3", "c": "4"}) || len(remove) != 0 {
		t.Errorf("tagsDiff = %v, %v", set, remove)
	}
	_, remove = tagsDiff(map[string]string{"a": "1", "z": "2"}, map[string]string{})
	if !reflect.DeepEqual(remove, []string{"a", "z"}) {
		t.Errorf("remove = %v", remove)
	}
}

func TestPlanShardSteps(t *testing.T) {
	s := validSpec()
	s.ShardCount = 9
	got, _ := PlanShardSteps(1, s)
	if !reflect.DeepEqual(got, []int{2, 4, 8, 9}) {
		t.Errorf("1->9 = %v", got)
	}
	s.Mode, s.ShardCount = ModeOnDemand, 0
	if got, _ := PlanShardSteps(7, s); len(got) != 0 {
		t.Errorf("to ON_DEMAND = %v, want none", got)
	}
}
