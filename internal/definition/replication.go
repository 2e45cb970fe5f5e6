package definition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatReplication is the format of a published stream replication.
const FormatReplication = "sluice/replication.v1"

// FormatLoadRecord is the format of a stream record that carries a load: the files of a COPY
// (they stay in S3; the record carries the manifest), which every subscriber turns into its
// own COPY on its replica.
const FormatLoadRecord = "sluice/load.v1"

// FormatChange is the envelope sluice puts a change in: an id that stays the same when the put is
// retried, so a subscriber applies a change once even when it is in the stream twice.
const FormatChange = "sluice/change.v1"

// ChangeRecord is a change as sluice puts it into a stream: exactly one of SQL and Load.
type ChangeRecord struct {
	Format string      `json:"format"`
	ID     string      `json:"id"`
	SQL    string      `json:"sql,omitempty"`
	Load   *LoadRecord `json:"load,omitempty"`
}

// MaxChangeIDLength bounds a change id (it is stored by every subscriber).
const MaxChangeIDLength = 512

// Replication keeps identical warehouse replicas fed from one Kinesis stream: every change is
// put into the stream, and each replica has its own subscriber, running in the replica's
// region, which applies the records in sequence order (AWS's design for multi-AZ and
// multi-region Redshift clusters). It is published as replications/<name>.json.
type Replication struct {
	Format      string `json:"format"`
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner,omitempty"`
	// StreamARN is the stream's ARN, arn:aws:kinesis:REGION:ACCOUNT:stream/NAME: it carries
	// the stream's region.
	StreamARN string `json:"stream_arn"`
	// Replicas are keyed by replica name. A replica names a runner connection, never a secret.
	Replicas map[string]Replica `json:"replicas"`
	Records  Records            `json:"records"`
	Batch    Batch              `json:"batch"`
	// Staging is an s3:// (or file://) prefix where row batches are written and loaded from
	// with COPY: required for Redshift replicas; PostgreSQL replicas insert rows directly
	// unless it is set.
	Staging       string        `json:"staging,omitempty"`
	StartPosition StartPosition `json:"start_position"`
	Poison        Poison        `json:"poison"`
	// PollInterval is how often a subscriber calls GetRecords on a shard when it is idle.
	PollInterval string `json:"poll_interval"`
}

// Replica is one warehouse kept equal to the others.
type Replica struct {
	// Connection is the runner's named connection to the replica database.
	Connection string `json:"connection"`
	// Region is where the replica (and its subscriber) runs.
	Region string `json:"region"`
	// IAMRole is the role a Redshift replica assumes to read the files of a load record with
	// COPY (PostgreSQL replicas read the files through the runner and need none).
	IAMRole string `json:"iam_role,omitempty"`
}

// Record formats: what the stream's records mean.
const (
	// RecordsStatements: each record is SQL (DDL or DML, one or more statements) applied in
	// sequence order, or a sluice/load.v1 document.
	RecordsStatements = "statements"
	// RecordsRows: each record is one JSON object, a row of Table.
	RecordsRows = "rows"
)

// RecordFormats lists the record formats.
func RecordFormats() []string { return []string{RecordsStatements, RecordsRows} }

// ReplicationInsertModes are the insert modes rows may use: TRUNCATE has no meaning for a
// stream of rows.
func ReplicationInsertModes() []string {
	return []string{InsertAppend, InsertKeepExisting, InsertOverwriteExisting}
}

// Records says what the stream's records mean.
type Records struct {
	Format string `json:"format"`
	// Table (schema.table), InsertMode and KeyColumns apply to rows.
	Table      string   `json:"table,omitempty"`
	InsertMode string   `json:"insert_mode,omitempty"`
	KeyColumns []string `json:"key_columns,omitempty"`
}

// Batch bounds a batch of rows applied in one transaction: whichever limit is reached first.
type Batch struct {
	MaxRecords int    `json:"max_records"`
	MaxBytes   int    `json:"max_bytes"`
	MaxLatency string `json:"max_latency"`
}

// Start positions: where a subscriber starts reading a shard it has no checkpoint for.
const (
	StartTrimHorizon = "TRIM_HORIZON"
	StartLatest      = "LATEST"
	StartAtTimestamp = "AT_TIMESTAMP"
)

// StartPositions lists the start positions.
func StartPositions() []string { return []string{StartTrimHorizon, StartLatest, StartAtTimestamp} }

// StartPosition is where reading starts without a checkpoint.
type StartPosition struct {
	Type string `json:"type"`
	// Timestamp (RFC 3339) for AT_TIMESTAMP.
	Timestamp string `json:"timestamp,omitempty"`
}

// Poison-record policies: what a subscriber does with a record it cannot apply.
const (
	// PoisonStop stops the replica's subscriber on the record (lag grows, an operator decides);
	// nothing after it is applied, so the replica never diverges silently.
	PoisonStop = "stop"
	// PoisonDeadLetter writes the record and its error under DeadLetter, notifies, and goes on.
	PoisonDeadLetter = "dead_letter"
)

// PoisonPolicies lists the poison-record policies.
func PoisonPolicies() []string { return []string{PoisonStop, PoisonDeadLetter} }

// Poison is the poison-record policy.
type Poison struct {
	Policy string `json:"policy"`
	// DeadLetter is an s3:// (or file://) prefix, for dead_letter.
	DeadLetter string `json:"dead_letter,omitempty"`
	// Notify lists SNS topic ARNs or http(s) webhooks told of each poison record.
	Notify []string `json:"notify,omitempty"`
}

// Defaults of a replication, applied by the provider before publishing.
const (
	DefaultBatchMaxRecords = 500
	DefaultBatchMaxBytes   = 1 << 20
	DefaultBatchMaxLatency = "1s"
	DefaultPollInterval    = "1s"
)

// Kinesis read limits per shard, shared by every consumer of the shard (without enhanced
// fan-out): 5 GetRecords calls per second and 2 MB/s.
const (
	ShardReadCallsPerSecond = 5
	ShardReadBytesPerSecond = 2 << 20
	// MaxGetRecordsBytes is the most one GetRecords call returns.
	MaxGetRecordsBytes = 10 << 20
	// MaxRecordBytes is the largest Kinesis record payload.
	MaxRecordBytes = 1 << 20
)

var (
	kinesisStreamARNPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:kinesis:([a-z]{2}(-[a-z]+)+-[0-9]+):([0-9]{12}):stream/([A-Za-z0-9_.-]{1,128})$`)
	regionPattern           = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	replicaNamePattern      = regexp.MustCompile(ReplicaNamePattern)
)

// ReplicaNamePattern is the form of replica names: a lower-case letter, then lower-case
// letters, digits or underscores.
const ReplicaNamePattern = `^[a-z][a-z0-9_]{0,62}$`

// StreamARN is a parsed Kinesis stream ARN.
type StreamARN struct {
	Partition, Region, Account, Stream string
}

// ParseStreamARN parses arn:aws:kinesis:REGION:ACCOUNT:stream/NAME.
func ParseStreamARN(arn string) (StreamARN, error) {
	m := kinesisStreamARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return StreamARN{}, fmt.Errorf("%q is not a Kinesis stream ARN such as \"arn:aws:kinesis:us-east-1:123456789012:stream/changes\"", arn)
	}
	return StreamARN{Partition: strings.SplitN(arn, ":", 3)[1], Region: m[2], Account: m[4], Stream: m[5]}, nil
}

// ValidateReplication checks a replication and returns every problem, with paths named as
// the HCL attributes are (records.* and batch.* are flat in HCL: see the resource).
func ValidateReplication(r *Replication) []Problem {
	if r == nil {
		return []Problem{{Message: "no replication"}}
	}
	v := &validator{}
	if r.Format != FormatReplication {
		v.add("format", "is %q, expected %q", r.Format, FormatReplication)
	}
	if err := ValidateName("replication", r.Name); err != nil {
		v.add("name", "%s", err)
	}
	if _, err := ParseStreamARN(r.StreamARN); err != nil {
		v.add("stream_arn", "%s", err)
	}
	if len(r.Replicas) == 0 {
		v.add("replicas", "at least one replica is required")
	}
	conns := map[string]string{}
	for _, name := range sortedKeys(r.Replicas) {
		rep := r.Replicas[name]
		path := "replicas." + name
		if !replicaNamePattern.MatchString(name) {
			v.add(path, "replica name %q must match %s: a lower-case letter, then lower-case letters, digits or '_'", name, ReplicaNamePattern)
		}
		if !connectionPattern.MatchString(rep.Connection) {
			v.add(path+".connection", "%q is not a connection name: a letter, then letters, digits or '_' (the runner resolves it from SLUICE_CONN_<NAME>); never a URL or a secret", rep.Connection)
		} else if other, dup := conns[strings.ToLower(rep.Connection)]; dup {
			v.add(path+".connection", "connection %q is also replica %q's: two replicas on one database would apply every change twice", rep.Connection, other)
		} else {
			conns[strings.ToLower(rep.Connection)] = name
		}
		if !regionPattern.MatchString(rep.Region) {
			v.add(path+".region", "%q is not an AWS region such as \"us-east-1\"", rep.Region)
		}
		if rep.IAMRole != "" && !iamRoleARNPattern.MatchString(rep.IAMRole) {
			v.add(path+".iam_role", "%q is not an IAM role ARN such as \"arn:aws:iam::123456789012:role/redshift-copy\"", rep.IAMRole)
		}
	}
	switch r.Records.Format {
	case RecordsStatements:
		if r.Records.Table != "" || r.Records.InsertMode != "" || len(r.Records.KeyColumns) > 0 {
			v.add("table", `table, insert_mode and key_columns apply only to format = "rows": statements carry their own SQL`)
		}
	case RecordsRows:
		v.table("table", r.Records.Table)
		v.enum("insert_mode", r.Records.InsertMode, ReplicationInsertModes())
		needKeys := r.Records.InsertMode == InsertKeepExisting || r.Records.InsertMode == InsertOverwriteExisting
		if needKeys && len(r.Records.KeyColumns) == 0 {
			v.add("key_columns", "insert_mode %s needs key_columns: the columns that identify a row", r.Records.InsertMode)
		}
		v.columns("key_columns", r.Records.KeyColumns)
	default:
		v.enum("format", r.Records.Format, RecordFormats())
	}
	if r.Batch.MaxRecords < 1 || r.Batch.MaxRecords > 10000 {
		v.add("max_records", "must be between 1 and 10000 (the most one GetRecords call returns), got %d", r.Batch.MaxRecords)
	}
	if r.Batch.MaxBytes < MaxRecordBytes || r.Batch.MaxBytes > 64<<20 {
		v.add("max_bytes", "must be between %d (one Kinesis record) and %d, got %d", MaxRecordBytes, 64<<20, r.Batch.MaxBytes)
	}
	v.positiveDuration("max_latency", r.Batch.MaxLatency)
	v.positiveDuration("poll_interval", r.PollInterval)
	if r.Staging != "" {
		v.location("staging", r.Staging, "s3://", "file://")
	}
	switch r.StartPosition.Type {
	case StartTrimHorizon, StartLatest:
		if r.StartPosition.Timestamp != "" {
			v.add("start_timestamp", "applies only to start_position = %q", StartAtTimestamp)
		}
	case StartAtTimestamp:
		if _, err := time.Parse(time.RFC3339, r.StartPosition.Timestamp); err != nil {
			v.add("start_timestamp", "%q is not an RFC 3339 time: start_position = %q needs one", r.StartPosition.Timestamp, StartAtTimestamp)
		}
	default:
		v.enum("start_position", r.StartPosition.Type, StartPositions())
	}
	switch r.Poison.Policy {
	case PoisonStop:
		if r.Poison.DeadLetter != "" {
			v.add("dead_letter", "applies only to poison = %q", PoisonDeadLetter)
		}
	case PoisonDeadLetter:
		v.location("dead_letter", r.Poison.DeadLetter, "s3://", "file://")
	default:
		v.enum("poison", r.Poison.Policy, PoisonPolicies())
	}
	v.targets("poison_notify", r.Poison.Notify, false)
	v.probs.sort()
	if len(v.probs) == 0 {
		return nil
	}
	return v.probs
}

func (v *validator) positiveDuration(path, s string) {
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		v.add(path, "%v", err)
	case d <= 0:
		v.add(path, "must be more than 0, got %q", s)
	}
}

// ReadLoad estimates the GetRecords calls per second every subscriber of the replication puts
// on one shard when idle (one call per poll interval per replica), against Kinesis's shared
// limit of ShardReadCallsPerSecond. Over the limit, reads are throttled and every replica lags.
func (r *Replication) ReadLoad() (callsPerSecond float64, over bool) {
	d, err := ParseDuration(r.PollInterval)
	if err != nil || d <= 0 {
		return 0, false
	}
	calls := float64(len(r.Replicas)) * float64(time.Second) / float64(d)
	return calls, calls > ShardReadCallsPerSecond
}

// FlowingCallGap is the least time between two GetRecords calls of one subscriber on a shard
// while records flow: the shard's ShardReadCallsPerSecond shared out among the replicas, so
// that all of them reading flat out together stay within the limit instead of being throttled.
func (r *Replication) FlowingCallGap() time.Duration {
	return time.Duration(max(len(r.Replicas), 1)) * time.Second / ShardReadCallsPerSecond
}

// DecodeReplication decodes a published replication strictly.
func DecodeReplication(data []byte) (*Replication, error) {
	var r Replication
	if err := decodeStrict(data, FormatReplication, &r); err != nil {
		return nil, err
	}
	return &r, checkVersion(&r, r.Version)
}

func (r *Replication) setVersion(v string) { r.Version = v }

// LoadRecord is a stream record that carries a load: each subscriber COPYs Files into Table
// on its replica, with the insert mode, in the transaction that writes its checkpoint.
type LoadRecord struct {
	Format     string   `json:"format"`
	Table      string   `json:"table"`
	Files      []string `json:"files"`
	FileFormat string   `json:"file_format"`
	InsertMode string   `json:"insert_mode"`
	KeyColumns []string `json:"key_columns,omitempty"`
	// Options are extra COPY options, e.g. "IGNOREHEADER 1".
	Options []string `json:"options,omitempty"`
}

// Change is a decoded record of a statements replication: SQL, or a load. ID is set when the
// record is a sluice/change.v1 envelope: the subscriber applies each ID once.
type Change struct {
	ID   string
	SQL  string
	Load *LoadRecord
}

// DecodeChange reads a statements record: a sluice/change.v1 envelope (what sluice puts), a
// bare sluice/load.v1 document, or anything else as SQL text (SQL never begins with "{"). A
// record that is not valid UTF-8, is empty, or is malformed JSON of ours is an error: a poison
// record.
func DecodeChange(data []byte) (Change, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Change{}, fmt.Errorf("empty record: a statements record is SQL, a %s or a %s document", FormatChange, FormatLoadRecord)
	}
	if trimmed[0] != '{' {
		if !utf8.Valid(trimmed) {
			return Change{}, fmt.Errorf("record is neither UTF-8 SQL nor a %s or %s document", FormatChange, FormatLoadRecord)
		}
		return Change{SQL: string(trimmed)}, nil
	}
	format, err := PeekFormat(trimmed)
	if err != nil {
		return Change{}, fmt.Errorf("record is JSON but not a %s or %s document: %w", FormatChange, FormatLoadRecord, err)
	}
	switch format {
	case FormatChange:
		var c ChangeRecord
		if err := strictJSON(trimmed, &c); err != nil {
			return Change{}, fmt.Errorf("%s record: %w", FormatChange, err)
		}
		switch {
		case c.ID == "" || len(c.ID) > MaxChangeIDLength:
			return Change{}, fmt.Errorf("%s record: id must be 1 to %d bytes", FormatChange, MaxChangeIDLength)
		case (c.SQL == "") == (c.Load == nil):
			return Change{}, fmt.Errorf("%s record %s: set exactly one of sql and load", FormatChange, c.ID)
		case c.Load != nil:
			if err := checkLoad(c.Load); err != nil {
				return Change{}, fmt.Errorf("%s record %s: %w", FormatChange, c.ID, err)
			}
		}
		return Change{ID: c.ID, SQL: c.SQL, Load: c.Load}, nil
	case FormatLoadRecord:
		var l LoadRecord
		if err := strictJSON(trimmed, &l); err != nil {
			return Change{}, fmt.Errorf("record is JSON but not a %s document: %w", FormatLoadRecord, err)
		}
		if err := checkLoad(&l); err != nil {
			return Change{}, err
		}
		return Change{Load: &l}, nil
	default:
		return Change{}, fmt.Errorf("record is JSON with format %q, expected %q or %q", format, FormatChange, FormatLoadRecord)
	}
}

func checkLoad(l *LoadRecord) error {
	if l.Format != FormatLoadRecord {
		return fmt.Errorf("load has format %q, expected %q", l.Format, FormatLoadRecord)
	}
	if probs := ValidateLoadRecord(l); len(probs) > 0 {
		return fmt.Errorf("%s record: %w", FormatLoadRecord, Problems(probs))
	}
	return nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the document")
	}
	return nil
}

// ValidateLoadRecord checks a load record.
func ValidateLoadRecord(l *LoadRecord) []Problem {
	v := &validator{}
	v.table("table", l.Table)
	if len(l.Files) == 0 {
		v.add("files", "at least one file is required")
	}
	for i, f := range l.Files {
		v.location(fmt.Sprintf("files.%d", i), f, "s3://", "file://")
	}
	v.enum("file_format", l.FileFormat, CopyFormats())
	v.enum("insert_mode", l.InsertMode, InsertModes())
	if (l.InsertMode == InsertKeepExisting || l.InsertMode == InsertOverwriteExisting) && len(l.KeyColumns) == 0 {
		v.add("key_columns", "insert_mode %s needs key_columns", l.InsertMode)
	}
	v.columns("key_columns", l.KeyColumns)
	v.probs.sort()
	return v.probs
}

// ReplicaNames lists a replication's replica names in order.
func (r *Replication) ReplicaNames() []string {
	names := make([]string, 0, len(r.Replicas))
	for n := range r.Replicas {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
