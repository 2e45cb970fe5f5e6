// Package kinesis reconciles a Kinesis data stream with its declared settings: it creates and
// deletes streams, plans and applies shard-count changes within AWS's per-call limits, switches
// capacity modes in place, and waits for the stream to become ACTIVE between steps.
package kinesis

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// Mode is a stream's capacity mode.
type Mode string

// Capacity modes.
const (
	ModeProvisioned Mode = "PROVISIONED"
	ModeOnDemand    Mode = "ON_DEMAND"
)

// Modes lists the capacity modes, for validators and documentation.
func Modes() []string { return []string{string(ModeProvisioned), string(ModeOnDemand)} }

// Encryption types.
const (
	EncryptionNone = "NONE"
	EncryptionKMS  = "KMS"
)

// EncryptionTypes lists the encryption types, for validators and documentation.
func EncryptionTypes() []string { return []string{EncryptionNone, EncryptionKMS} }

// MetricAll enables every shard-level metric; AWS reports it back as the full list.
const MetricAll = "ALL"

// ShardLevelMetrics are the shard-level CloudWatch metrics a stream can enable, without ALL.
func ShardLevelMetrics() []string {
	return []string{
		"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
		"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
		"IteratorAgeMilliseconds",
	}
}

// MetricNames lists every accepted shard_level_metrics value, ALL included.
func MetricNames() []string { return append(ShardLevelMetrics(), MetricAll) }

// Retention limits in hours.
const (
	MinRetentionHours     = 24
	MaxRetentionHours     = 8760
	DefaultRetentionHours = 24
)

// MaxNameLength is the longest stream name AWS accepts.
const MaxNameLength = 128

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// ValidateName checks a stream name against AWS's rules: 1-128 characters of letters, digits,
// underscore, hyphen and period.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("stream name must be 1-%d characters, got %d", MaxNameLength, len(name))
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("stream name %q may contain only letters, digits, '_', '-' and '.'", name)
	}
	return nil
}

// Spec is the declared state of a stream.
type Spec struct {
	Name string
	Mode Mode
	// ShardCount is the number of open shards; only for ModeProvisioned.
	ShardCount        int
	RetentionHours    int
	EncryptionType    string
	KMSKeyID          string
	ShardLevelMetrics []string
	Tags              map[string]string
}

// FieldError is a problem with one field of a Spec, named as the provider's attribute.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// CrossFieldProblems reports the combinations of fields AWS cannot accept. Single-field rules
// (ranges, enums, names) are checked by Validate; these rules need several fields, so the
// provider runs them at plan time once the fields are known.
func (s Spec) CrossFieldProblems() []FieldError {
	var out []FieldError
	switch {
	case s.Mode == ModeProvisioned && s.ShardCount == 0:
		out = append(out, FieldError{"shard_count", "is required when stream_mode is PROVISIONED (the default); set shard_count or stream_mode = \"ON_DEMAND\""})
	case s.Mode == ModeOnDemand && s.ShardCount != 0:
		out = append(out, FieldError{"shard_count", fmt.Sprintf("must not be set when stream_mode is ON_DEMAND (AWS manages its shards); got %d", s.ShardCount)})
	}
	switch {
	case s.EncryptionType == EncryptionKMS && s.KMSKeyID == "":
		out = append(out, FieldError{"kms_key_id", "is required when encryption_type is KMS (a key ARN, key ID or alias such as alias/aws/kinesis)"})
	case s.EncryptionType != EncryptionKMS && s.KMSKeyID != "":
		out = append(out, FieldError{"kms_key_id", fmt.Sprintf("is set to %q but encryption_type is %s; set encryption_type = \"KMS\" or remove kms_key_id", s.KMSKeyID, s.EncryptionType)})
	}
	if slices.Contains(s.ShardLevelMetrics, MetricAll) && len(s.ShardLevelMetrics) > 1 {
		out = append(out, FieldError{"shard_level_metrics", "ALL already enables every metric; list ALL alone or name the metrics"})
	}
	return out
}

// Validate checks every rule of a spec: names, ranges, enums and the cross-field rules.
func (s Spec) Validate() error {
	var errs []error
	if err := ValidateName(s.Name); err != nil {
		errs = append(errs, FieldError{"name", err.Error()})
	}
	if !slices.Contains(Modes(), string(s.Mode)) {
		errs = append(errs, FieldError{"stream_mode", fmt.Sprintf("must be one of %v, got %q", Modes(), s.Mode)})
	}
	if s.ShardCount < 0 || s.ShardCount > MaxShards {
		errs = append(errs, FieldError{"shard_count", fmt.Sprintf("must be %d-%d, got %d", minShards, MaxShards, s.ShardCount)})
	}
	if s.RetentionHours < MinRetentionHours || s.RetentionHours > MaxRetentionHours {
		errs = append(errs, FieldError{"retention_period", fmt.Sprintf("must be %d-%d hours, got %d", MinRetentionHours, MaxRetentionHours, s.RetentionHours)})
	}
	if !slices.Contains(EncryptionTypes(), s.EncryptionType) {
		errs = append(errs, FieldError{"encryption_type", fmt.Sprintf("must be one of %v, got %q", EncryptionTypes(), s.EncryptionType)})
	}
	for _, m := range s.ShardLevelMetrics {
		if !slices.Contains(MetricNames(), m) {
			errs = append(errs, FieldError{"shard_level_metrics", fmt.Sprintf("unknown metric %q, allowed: %v", m, MetricNames())})
		}
	}
	for _, p := range s.CrossFieldProblems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// Stream is a stream as AWS reports it.
type Stream struct {
	Name              string
	ARN               string
	Status            string
	Mode              Mode
	OpenShardCount    int
	RetentionHours    int
	EncryptionType    string
	KMSKeyID          string
	ShardLevelMetrics []string
	Tags              map[string]string
	ConsumerCount     int
}

// ExpandMetrics turns a metric list that contains ALL into the explicit list, sorted, so a
// declared list and AWS's report compare equal.
func ExpandMetrics(ms []string) []string {
	if slices.Contains(ms, MetricAll) {
		ms = ShardLevelMetrics()
	}
	out := slices.Clone(ms)
	sort.Strings(out)
	return slices.Compact(out)
}

// MetricsEqual reports whether two metric lists enable the same metrics.
func MetricsEqual(a, b []string) bool { return slices.Equal(ExpandMetrics(a), ExpandMetrics(b)) }

// metricsDiff returns the metrics to enable and to disable to go from cur to want.
func metricsDiff(cur, want []string) (enable, disable []string) {
	c, w := ExpandMetrics(cur), ExpandMetrics(want)
	for _, m := range w {
		if !slices.Contains(c, m) {
			enable = append(enable, m)
		}
	}
	for _, m := range c {
		if !slices.Contains(w, m) {
			disable = append(disable, m)
		}
	}
	return enable, disable
}

// tagsDiff returns the tags to set and the keys to remove to go from cur to want.
func tagsDiff(cur, want map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range want {
		if cv, ok := cur[k]; !ok || cv != v {
			set[k] = v
		}
	}
	for k := range cur {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	sort.Strings(remove)
	return set, remove
}
