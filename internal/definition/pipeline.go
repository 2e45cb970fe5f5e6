// Package definition holds the published JSON formats — the contract between the Terraform
// provider, which writes them, and sluice-runner, which reads them: Go types, canonical JSON and
// the content-hash version, strict decoding, and the validation both sides share (DAG, schedules,
// templates).
package definition

// Formats this package reads and writes.
const (
	FormatPipeline    = "sluice/pipeline.v1"
	FormatEMRTemplate = "sluice/emr-template.v1"
)

// Formats lists the known formats.
func Formats() []string { return []string{FormatPipeline, FormatEMRTemplate, FormatReplication} }

// Pipeline is a published pipeline: a DAG of activities on a schedule. Secrets never appear in
// it: SQL activities name a connection, which each runner resolves from its own configuration.
type Pipeline struct {
	Format      string `json:"format"`
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
	// Owner is who is responsible: shown in status and alerts.
	Owner   string `json:"owner,omitempty"`
	Enabled bool   `json:"enabled"`
	// Schedule is left out of the document when unset (a pipeline started only by its
	// Trigger); documents published before triggers always have one, and keep their bytes and
	// version.
	Schedule   Schedule             `json:"schedule,omitzero"`
	Trigger    *Trigger             `json:"trigger,omitempty"`
	Parameters map[string]string    `json:"parameters,omitempty"`
	Defaults   Defaults             `json:"defaults"`
	Activities map[string]*Activity `json:"activities"`
	Notify     *Notify              `json:"notify,omitempty"`
}

// Schedule says which data intervals a pipeline processes. Intervals are [start, end); a run
// starts when its interval ends. Exactly one of Cron and Every is set.
type Schedule struct {
	// Cron is a 5-field cron expression, evaluated in Timezone.
	Cron string `json:"cron,omitempty"`
	// Every is a fixed period such as "15m", "1h", "1d", aligned to Start.
	Every string `json:"every,omitempty"`
	// Start is the first interval's start, RFC 3339.
	Start string `json:"start"`
	// End, RFC 3339, stops the schedule; empty means never.
	End string `json:"end,omitempty"`
	// Timezone is an IANA name; empty means UTC.
	Timezone string `json:"timezone,omitempty"`
	// Catchup runs the intervals between Start and now; false runs only from now on.
	Catchup bool `json:"catchup"`
	// MaxActiveRuns caps concurrent runs of the pipeline.
	MaxActiveRuns int `json:"max_active_runs"`
}

// Defaults apply to every activity that does not set its own.
type Defaults struct {
	Retries int `json:"retries"`
	// RetryDelay is the first delay; later retries back off exponentially with jitter, capped.
	RetryDelay string `json:"retry_delay,omitempty"`
	Timeout    string `json:"timeout,omitempty"`
}

// Activity is one node of the DAG. Exactly one of the kind fields is set.
type Activity struct {
	DependsOn []string `json:"depends_on,omitempty"`
	Retries   *int     `json:"retries,omitempty"`
	Timeout   string   `json:"timeout,omitempty"`
	WaitFor   *WaitFor `json:"wait_for,omitempty"`

	Shell        *ShellActivity        `json:"shell,omitempty"`
	S3Copy       *S3CopyActivity       `json:"s3_copy,omitempty"`
	EMRStep      *EMRStepActivity      `json:"emr_step,omitempty"`
	RedshiftCopy *RedshiftCopyActivity `json:"redshift_copy,omitempty"`
	SQL          *SQLActivity          `json:"sql,omitempty"`
	Check        *CheckActivity        `json:"check,omitempty"`
	StreamPut    *StreamPutActivity    `json:"stream_put,omitempty"`
	Export       *ExportActivity       `json:"export,omitempty"`
}

// Activity kinds, as named in HCL and JSON.
const (
	KindShell        = "shell"
	KindS3Copy       = "s3_copy"
	KindEMRStep      = "emr_step"
	KindRedshiftCopy = "redshift_copy"
	KindSQL          = "sql"
	KindCheck        = "check"
	KindStreamPut    = "stream_put"
	KindExport       = "export"
)

// ActivityKinds lists the kinds.
func ActivityKinds() []string {
	return []string{KindShell, KindS3Copy, KindEMRStep, KindRedshiftCopy, KindSQL, KindCheck, KindStreamPut, KindExport}
}

// Kinds returns the kinds set on the activity (exactly one when valid).
func (a *Activity) Kinds() []string {
	var out []string
	for kind, set := range map[string]bool{
		KindShell: a.Shell != nil, KindS3Copy: a.S3Copy != nil, KindEMRStep: a.EMRStep != nil,
		KindRedshiftCopy: a.RedshiftCopy != nil, KindSQL: a.SQL != nil, KindCheck: a.Check != nil,
		KindStreamPut: a.StreamPut != nil, KindExport: a.Export != nil,
	} {
		if set {
			out = append(out, kind)
		}
	}
	return sortedStrings(out)
}

// WaitFor is a precondition poked until it holds or times out. Exactly one condition is set.
type WaitFor struct {
	S3KeyExists      string           `json:"s3_key_exists,omitempty"`
	S3PrefixNotEmpty string           `json:"s3_prefix_not_empty,omitempty"`
	SQLReturnsRows   *SQLReturnsRows  `json:"sql_returns_rows,omitempty"`
	Pipeline         *WaitForPipeline `json:"pipeline,omitempty"`
	// PokeInterval is the first wait between pokes; it backs off.
	PokeInterval string `json:"poke_interval,omitempty"`
	Timeout      string `json:"timeout,omitempty"`
}

// WaitForPipeline holds when another pipeline of the same state database has succeeded runs
// that together cover [Start, End): by default the waiting run's own interval.
type WaitForPipeline struct {
	Name string `json:"name"`
	// Start and End are RFC 3339 times (templated); empty means the run's interval start and
	// end.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// SQLReturnsRows holds when the query returns at least one row.
type SQLReturnsRows struct {
	Connection string `json:"connection"`
	SQL        string `json:"sql"`
}

// ShellActivity runs a process.
type ShellActivity struct {
	Command []string          `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
}

// S3CopyActivity copies an object or a prefix between s3:// and file:// locations.
type S3CopyActivity struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// EMRStepActivity runs steps on a transient cluster from a published template (always
// terminated) or on an existing cluster. Exactly one of Template and ClusterID is set.
type EMRStepActivity struct {
	Template  string    `json:"template,omitempty"`
	ClusterID string    `json:"cluster_id,omitempty"`
	Steps     []EMRStep `json:"steps"`
	// ExpectedDuration is how long the steps are expected to take, e.g. "45m": with Template,
	// what the cost estimates of a run count the transient cluster for. Empty: not estimated.
	ExpectedDuration string `json:"expected_duration,omitempty"`
}

// EMRStep is one step. Exactly one of Command, Streaming, Spark and Jar is set.
type EMRStep struct {
	Name string `json:"name"`
	// ActionOnFailure is CONTINUE or TERMINATE_CLUSTER (transient clusters always terminate).
	ActionOnFailure string         `json:"action_on_failure,omitempty"`
	Command         []string       `json:"command,omitempty"`
	Streaming       *StreamingStep `json:"streaming,omitempty"`
	Spark           []string       `json:"spark,omitempty"`
	Jar             *JarStep       `json:"jar,omitempty"`
}

// StreamingStep is a Hadoop streaming step: mapper | sort | reducer over the input.
type StreamingStep struct {
	Mapper  string   `json:"mapper"`
	Reducer string   `json:"reducer,omitempty"`
	Input   []string `json:"input"`
	Output  string   `json:"output"`
	// Files are shipped to the nodes (-files), e.g. the mapper script.
	Files []string `json:"files,omitempty"`
}

// JarStep runs a JAR's main class.
type JarStep struct {
	Jar       string   `json:"jar"`
	MainClass string   `json:"main_class,omitempty"`
	Args      []string `json:"args,omitempty"`
}

// Insert modes of redshift_copy.
const (
	InsertTruncate          = "TRUNCATE"
	InsertAppend            = "APPEND"
	InsertKeepExisting      = "KEEP_EXISTING"
	InsertOverwriteExisting = "OVERWRITE_EXISTING"
)

// InsertModes lists the insert modes.
func InsertModes() []string {
	return []string{InsertTruncate, InsertAppend, InsertKeepExisting, InsertOverwriteExisting}
}

// Copy formats of redshift_copy.
const (
	FormatCSV = "csv"
	// FormatText is delimited text, Redshift COPY's own format: fields split at DELIMITER ('|'
	// unless set), \N for NULL, with ESCAPE and REMOVEQUOTES as options.
	FormatText    = "text"
	FormatJSON    = "json"
	FormatParquet = "parquet"
)

// CopyFormats lists the copy formats.
func CopyFormats() []string { return []string{FormatCSV, FormatText, FormatJSON, FormatParquet} }

// RedshiftCopyActivity loads files into a table on one connection or fans out to several
// (replicas). Every insert mode but APPEND is idempotent on retry: the load goes through a
// staging table in one transaction.
type RedshiftCopyActivity struct {
	Connection  string   `json:"connection,omitempty"`
	Connections []string `json:"connections,omitempty"`
	// Table is schema.table.
	Table      string `json:"table"`
	From       string `json:"from"`
	Format     string `json:"format"`
	InsertMode string `json:"insert_mode"`
	// KeyColumns identify a row for KEEP_EXISTING and OVERWRITE_EXISTING.
	KeyColumns []string `json:"key_columns,omitempty"`
	IAMRole    string   `json:"iam_role,omitempty"`
	// Options are extra COPY options, e.g. "IGNOREHEADER 1".
	Options []string `json:"options,omitempty"`
}

// StreamPutActivity puts changes into a stream replication's stream instead of running them on
// each replica: every replica's subscriber applies them, in order. Exactly one of Statements
// and Load is set.
type StreamPutActivity struct {
	// Replication is the name of a published replication of format "statements".
	Replication string `json:"replication"`
	// Statements are put as one record each, in order.
	Statements []string `json:"statements,omitempty"`
	// Load puts the files of a load as one record (a sluice/load.v1 manifest): the data stays
	// in S3, and every subscriber COPYs it into its own replica.
	Load *StreamLoad `json:"load,omitempty"`
	// PartitionKey orders the records: records with one key are applied in the order they were
	// put. Empty: the replication's name, so every change of every pipeline is in one order.
	PartitionKey string `json:"partition_key,omitempty"`
}

// StreamLoad is a load put into the stream: the files under From, as one sluice/load.v1 record.
type StreamLoad struct {
	Table      string   `json:"table"`
	From       string   `json:"from"`
	Format     string   `json:"format"`
	InsertMode string   `json:"insert_mode"`
	KeyColumns []string `json:"key_columns,omitempty"`
	Options    []string `json:"options,omitempty"`
}

// Export formats.
const (
	ExportCSV  = "csv"
	ExportJSON = "json"
)

// ExportFormats lists the export formats.
func ExportFormats() []string { return []string{ExportCSV, ExportJSON} }

// ExportActivity writes the rows of a query to S3 (or file://). On PostgreSQL and MySQL the
// runner streams them into one object; Redshift UNLOADs them itself. Every run of an interval
// writes the same location, replacing what an earlier attempt wrote.
type ExportActivity struct {
	Connection string `json:"connection"`
	// Query is one SELECT (templated).
	Query string `json:"query"`
	// To is an object, or a prefix ending in "/" (the runner writes part-00000.csv and so on
	// under it; Redshift its own part files, after clearing the prefix).
	To     string `json:"to"`
	Format string `json:"format"`
	// Gzip compresses the output.
	Gzip bool `json:"gzip,omitempty"`
	// Header writes the column names first (csv).
	Header bool `json:"header,omitempty"`
	// IAMRole is the role Redshift assumes to write to S3 (UNLOAD).
	IAMRole string `json:"iam_role,omitempty"`
}

// SQLActivity runs statements on a connection, in one transaction.
type SQLActivity struct {
	Connection string   `json:"connection"`
	Statements []string `json:"statements"`
}

// Check severities.
const (
	SeverityFail = "fail"
	SeverityWarn = "warn"
)

// Severities lists the check severities.
func Severities() []string { return []string{SeverityFail, SeverityWarn} }

// CheckActivity is a QA check on a table; with severity fail a failed check fails the run.
type CheckActivity struct {
	Connection string `json:"connection"`
	Table      string `json:"table"`
	// Where restricts the checked rows, e.g. to the run's interval (templated).
	Where     string     `json:"where,omitempty"`
	RowCount  *RowCount  `json:"row_count,omitempty"`
	Unique    []string   `json:"unique,omitempty"`
	NotNull   []string   `json:"not_null,omitempty"`
	Freshness *Freshness `json:"freshness,omitempty"`
	Severity  string     `json:"severity"`
}

// RowCount bounds the row count; nil bounds are open.
type RowCount struct {
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
}

// Freshness holds when the newest value of Column is at most MaxAge old.
type Freshness struct {
	Column string `json:"column"`
	MaxAge string `json:"max_age"`
}

// Notify sends messages on failure, success and lateness. Targets are SNS topic ARNs or
// http(s) webhook URLs.
type Notify struct {
	OnFailure []string `json:"on_failure,omitempty"`
	OnSuccess []string `json:"on_success,omitempty"`
	OnLate    *OnLate  `json:"on_late,omitempty"`
}

// OnLate notifies when a run has not succeeded After its interval ended.
type OnLate struct {
	After   string   `json:"after"`
	Targets []string `json:"targets"`
}
