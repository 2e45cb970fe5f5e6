// Package config is sluice-runner's configuration: defaults, then an optional YAML file, then
// SLUICE_* environment variables, then command-line flags — each overriding the one before.
// Connection URIs carry passwords: they are never logged (see Redacted).
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Environment variables.
const (
	EnvConfig        = "SLUICE_CONFIG"
	EnvRegistry      = "SLUICE_REGISTRY"
	EnvDatabase      = "SLUICE_DATABASE"
	EnvEMRMode       = "SLUICE_EMR_MODE"
	EnvListen        = "SLUICE_LISTEN"
	EnvWorkers       = "SLUICE_WORKERS"
	EnvFetchCooldown = "SLUICE_FETCH_COOLDOWN"
	EnvTick          = "SLUICE_TICK"
	EnvRescueAfter   = "SLUICE_RESCUE_AFTER"
	EnvWorkDir       = "SLUICE_WORK_DIR"
	EnvProcessGrace  = "SLUICE_PROCESS_GRACE"
	EnvEMRPoll       = "SLUICE_EMR_POLL_INTERVAL"
	// EnvUnhealthyAfter sets UnhealthyAfter, EnvMaxDocumentSize MaxDocumentSize.
	EnvUnhealthyAfter  = "SLUICE_UNHEALTHY_AFTER"
	EnvMaxDocumentSize = "SLUICE_MAX_DOCUMENT_SIZE"
	// EnvReplicas lists the replicas whose stream subscribers serve runs (comma-separated);
	// EnvReplicaLease sets ReplicaLease.
	EnvReplicas     = "SLUICE_REPLICAS"
	EnvReplicaLease = "SLUICE_REPLICA_LEASE"
	// EnvPrices sets Prices.
	EnvPrices = "SLUICE_PRICES"
	// EnvConnPrefix + NAME sets connection name (lower-cased): SLUICE_CONN_WAREHOUSE=postgres://…
	EnvConnPrefix = "SLUICE_CONN_"
)

// EMR modes.
const (
	EMRModeAWS   = "aws"
	EMRModeLocal = "local"
)

// EMRModes lists the EMR modes.
func EMRModes() []string { return []string{EMRModeAWS, EMRModeLocal} }

// Defaults.
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultWorkers       = 10
	DefaultFetchCooldown = 50 * time.Millisecond
	DefaultTick          = 15 * time.Second
	DefaultRescueAfter   = time.Hour
	// DefaultProcessGrace is how long the jobs of a PostgreSQL runner found dead wait before
	// another runner retries them: a runner that merely lost its database connection notices
	// within two ticks (its liveness ping runs every tick and times out after one, at least 5s)
	// and stops its processes within the shell kill grace (10s); the orphan check already
	// waited two ticks. 30s leaves margin.
	DefaultProcessGrace = 30 * time.Second
	// DefaultEMRPollInterval is how often aws-mode emr_step activities poll EMR.
	DefaultEMRPollInterval = 30 * time.Second
	// DefaultUnhealthyAfter is engine.DefaultUnhealthyAfter (kept here so config does not
	// import the engine): /healthz fails after 3 failed ticks in a row.
	DefaultUnhealthyAfter = 3
	// DefaultMaxDocumentSize is definition.DefaultMaxDocumentSize, the provider's default too.
	DefaultMaxDocumentSize = Size(definition.DefaultMaxDocumentSize)
	// DefaultReplicaLease is how long a subscriber's shard lease lasts unrenewed: a dead
	// runner's shards are taken over within it.
	DefaultReplicaLease = 10 * time.Second
)

// Config is the runner's configuration.
type Config struct {
	// Registry is the URL the provider publishes to (s3://bucket/prefix or file://path).
	Registry string `yaml:"registry"`
	// Database is the state database: sqlite://file (one runner) or postgres://… (several).
	Database string `yaml:"database"`
	// Region is the AWS region (default: the SDK chain).
	Region string `yaml:"region"`
	// Endpoints override AWS service endpoints, by service name (s3, emr, sns, redshift, sts,
	// secretsmanager, …: awsclient.RunnerServiceNames).
	Endpoints map[string]string `yaml:"endpoints"`
	// EMRMode is aws (real clusters) or local (steps as local processes).
	EMRMode string `yaml:"emr_mode"`
	// Listen is serve's HTTP address (/metrics, /healthz, status page); "" disables it.
	Listen string `yaml:"listen"`
	// Workers is how many activities run at once in this runner.
	Workers int `yaml:"workers"`
	// FetchCooldown is the minimum time between River's job fetches.
	FetchCooldown Duration `yaml:"fetch_cooldown"`
	// Tick is how often serve reads the registry and schedules.
	Tick Duration `yaml:"tick"`
	// RescueAfter is how long a job may run before another runner assumes its runner died.
	RescueAfter Duration `yaml:"rescue_after"`
	// WorkDir is scratch space for local EMR steps and shell activities, and holds the records
	// of their process groups (.sluice-processes).
	WorkDir string `yaml:"work_dir"`
	// ProcessGrace is how long the running jobs of a dead PostgreSQL runner wait before another
	// runner retries them, so that the dead runner's processes are gone first.
	ProcessGrace Duration `yaml:"process_grace"`
	// EMRPollInterval is how often aws-mode emr_step activities poll EMR.
	EMRPollInterval Duration `yaml:"emr_poll_interval"`
	// UnhealthyAfter is how many scheduler ticks in a row must fail before /healthz fails.
	UnhealthyAfter int `yaml:"unhealthy_after"`
	// MaxDocumentSize is the largest registry document the runner reads; a larger one fails
	// alone, naming the limit. Set it like the provider's max_document_size.
	MaxDocumentSize Size `yaml:"max_document_size"`
	// Connections map connection names to URIs (postgres://, redshift://).
	Connections map[string]string `yaml:"connections"`
	// Replicas are the replica names (of published stream replications) whose subscribers
	// serve runs: a runner per region serves the replicas in its region. None by default.
	Replicas []string `yaml:"replicas"`
	// ReplicaLease is how long a subscriber's lease of a shard lasts unrenewed.
	ReplicaLease Duration `yaml:"replica_lease"`
	// Prices is a price file (format sluice/prices.v1, as the provider's prices) whose entries
	// replace or add to the embedded price table the runs' EMR costs are figured with: give the
	// runner the provider's file so that measured costs and the plan's estimates compare.
	Prices string `yaml:"prices"`
	// Web configures the web UI's actions and how the HTTP server is reached.
	Web Web `yaml:"web"`
}

// Web configures the web UI (serve). Actions are off unless Actions is true; they then need a
// token: the API takes it as a bearer token, the page as a sign-in or HTTP basic password.
type Web struct {
	// Actions turns on trigger, backfill, clear, mark failed, pause and unpause from the page
	// and the API.
	Actions bool `yaml:"actions"`
	// Tokens are who may act: a name (recorded in the action log) and the SHA-256 of the
	// token, never the token (`sluice-runner token NAME` makes one).
	Tokens []WebToken `yaml:"tokens"`
	// TLSCert and TLSKey are PEM files: with them, serve speaks HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Insecure allows listening beyond loopback without TLS (behind a TLS-terminating proxy
	// that reaches the runner over a private network, say). --insecure sets it too.
	Insecure bool `yaml:"insecure"`
}

// WebToken is one token of Web.Tokens.
type WebToken struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
}

// Duration is a time.Duration written as "50ms", "15s", "1h" in YAML.
type Duration time.Duration

// Size is a byte count written as "4MiB", "500KB" or "1048576" (definition.ParseSize).
type Size int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := definition.ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*z = Size(v)
	return nil
}

func (z Size) String() string { return definition.FormatSize(int64(z)) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 50ms, 15s, 1h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Default returns the defaults.
func Default() Config {
	return Config{
		EMRMode: EMRModeAWS, Listen: DefaultListen, Workers: DefaultWorkers,
		FetchCooldown: Duration(DefaultFetchCooldown), Tick: Duration(DefaultTick), RescueAfter: Duration(DefaultRescueAfter),
		ProcessGrace: Duration(DefaultProcessGrace), EMRPollInterval: Duration(DefaultEMRPollInterval),
		UnhealthyAfter: DefaultUnhealthyAfter, MaxDocumentSize: DefaultMaxDocumentSize,
		ReplicaLease: Duration(DefaultReplicaLease),
		Connections:  map[string]string{}, Endpoints: map[string]string{},
	}
}

// LoadFile merges a YAML file into c. Unknown keys are errors (a typo must not be ignored).
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	var f Config
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return fmt.Errorf("config file %s: %w", path, err)
	}
	c.merge(f)
	return nil
}

func (c *Config) merge(f Config) {
	setS := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setS(&c.Registry, f.Registry)
	setS(&c.Database, f.Database)
	setS(&c.Region, f.Region)
	setS(&c.EMRMode, f.EMRMode)
	setS(&c.Listen, f.Listen)
	setS(&c.WorkDir, f.WorkDir)
	setS(&c.Prices, f.Prices)
	if f.Workers != 0 {
		c.Workers = f.Workers
	}
	if f.FetchCooldown != 0 {
		c.FetchCooldown = f.FetchCooldown
	}
	if f.Tick != 0 {
		c.Tick = f.Tick
	}
	if f.RescueAfter != 0 {
		c.RescueAfter = f.RescueAfter
	}
	if f.ProcessGrace != 0 {
		c.ProcessGrace = f.ProcessGrace
	}
	if f.EMRPollInterval != 0 {
		c.EMRPollInterval = f.EMRPollInterval
	}
	if f.UnhealthyAfter != 0 {
		c.UnhealthyAfter = f.UnhealthyAfter
	}
	if f.MaxDocumentSize != 0 {
		c.MaxDocumentSize = f.MaxDocumentSize
	}
	if f.Replicas != nil {
		c.Replicas = f.Replicas
	}
	if f.ReplicaLease != 0 {
		c.ReplicaLease = f.ReplicaLease
	}
	c.Web.Actions = c.Web.Actions || f.Web.Actions
	c.Web.Insecure = c.Web.Insecure || f.Web.Insecure
	if f.Web.Tokens != nil {
		c.Web.Tokens = f.Web.Tokens
	}
	setS(&c.Web.TLSCert, f.Web.TLSCert)
	setS(&c.Web.TLSKey, f.Web.TLSKey)
	for k, v := range f.Endpoints {
		c.Endpoints[k] = v
	}
	for k, v := range f.Connections {
		c.Connections[strings.ToLower(k)] = v
	}
}

// LoadEnv merges SLUICE_* variables from environ ("K=V" strings) into c.
func (c *Config) LoadEnv(environ []string) error {
	var errs []error
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "SLUICE_") {
			continue
		}
		switch {
		case k == EnvRegistry:
			c.Registry = v
		case k == EnvDatabase:
			c.Database = v
		case k == EnvEMRMode:
			c.EMRMode = v
		case k == EnvListen:
			c.Listen = v
		case k == EnvWorkDir:
			c.WorkDir = v
		case k == EnvPrices:
			c.Prices = v
		case k == EnvWorkers:
			n, err := parseInt(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
			}
			c.Workers = n
		case k == EnvUnhealthyAfter:
			n, err := parseInt(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
			}
			c.UnhealthyAfter = n
		case k == EnvMaxDocumentSize:
			n, err := definition.ParseSize(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
				continue
			}
			c.MaxDocumentSize = Size(n)
		case k == EnvReplicas:
			c.Replicas = SplitList(v)
		case k == EnvFetchCooldown, k == EnvTick, k == EnvRescueAfter, k == EnvProcessGrace, k == EnvEMRPoll, k == EnvReplicaLease:
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a duration (e.g. 50ms, 15s, 1h)", k, v))
				continue
			}
			switch k {
			case EnvFetchCooldown:
				c.FetchCooldown = Duration(d)
			case EnvTick:
				c.Tick = Duration(d)
			case EnvReplicaLease:
				c.ReplicaLease = Duration(d)
			case EnvProcessGrace:
				c.ProcessGrace = Duration(d)
			case EnvEMRPoll:
				c.EMRPollInterval = Duration(d)
			default:
				c.RescueAfter = Duration(d)
			}
		case strings.HasPrefix(k, EnvConnPrefix):
			name := strings.ToLower(strings.TrimPrefix(k, EnvConnPrefix))
			if name == "" {
				errs = append(errs, fmt.Errorf("%s names no connection: use %sWAREHOUSE=postgres://…", k, EnvConnPrefix))
				continue
			}
			c.Connections[name] = v
		}
	}
	return errors.Join(errs...)
}

// SplitList reads a comma-separated list ("a, b,c"), dropping empty entries.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInt(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// Validate checks the configuration; errors name the setting.
func (c *Config) Validate() error {
	var errs []error
	if c.EMRMode != EMRModeAWS && c.EMRMode != EMRModeLocal {
		errs = append(errs, fmt.Errorf("emr mode %q: use %s", c.EMRMode, strings.Join(EMRModes(), " or ")))
	}
	if c.Workers < 1 || c.Workers > 10000 {
		errs = append(errs, fmt.Errorf("workers %d: use 1 to 10000", c.Workers))
	}
	if c.FetchCooldown < Duration(time.Millisecond) {
		errs = append(errs, fmt.Errorf("fetch cooldown %s: use at least 1ms", time.Duration(c.FetchCooldown)))
	}
	if c.Tick < Duration(10*time.Millisecond) {
		errs = append(errs, fmt.Errorf("tick %s: use at least 10ms", time.Duration(c.Tick)))
	}
	if c.RescueAfter < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("rescue after %s: use at least 1s (and more than the longest activity timeout)", time.Duration(c.RescueAfter)))
	}
	if c.ProcessGrace < 0 {
		errs = append(errs, fmt.Errorf("process grace %s: use 0 or more (default %s)", time.Duration(c.ProcessGrace), DefaultProcessGrace))
	}
	if c.EMRPollInterval < Duration(10*time.Millisecond) {
		errs = append(errs, fmt.Errorf("emr poll interval %s: use at least 10ms", time.Duration(c.EMRPollInterval)))
	}
	if c.UnhealthyAfter < 1 {
		errs = append(errs, fmt.Errorf("unhealthy after %d: use 1 or more failed ticks in a row", c.UnhealthyAfter))
	}
	if c.MaxDocumentSize < 1 || int64(c.MaxDocumentSize) > definition.MaxDocumentSizeLimit {
		errs = append(errs, fmt.Errorf("max document size %d bytes: use 1 byte to %s", c.MaxDocumentSize, definition.FormatSize(definition.MaxDocumentSizeLimit)))
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen %q: want host:port, e.g. %s", c.Listen, DefaultListen))
		}
	}
	errs = append(errs, c.Web.validate()...)
	replicaName := regexp.MustCompile(definition.ReplicaNamePattern)
	for _, r := range c.Replicas {
		if !replicaName.MatchString(r) {
			errs = append(errs, fmt.Errorf("replicas: %q is not a replica name (%s: a lower-case letter, then lower-case letters, digits or '_')", r, definition.ReplicaNamePattern))
		}
	}
	if c.ReplicaLease < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("replica lease %s: use at least 1s (a dead runner's shards are taken over after it)", time.Duration(c.ReplicaLease)))
	}
	known := map[string]bool{}
	for _, s := range awsclient.RunnerServiceNames() {
		known[s] = true
	}
	for _, k := range sortedKeys(c.Endpoints) {
		if !known[k] {
			errs = append(errs, fmt.Errorf("endpoints.%s: unknown service; use %s", k, strings.Join(awsclient.RunnerServiceNames(), ", ")))
			continue
		}
		if err := awsclient.ValidateEndpoint(c.Endpoints[k]); err != nil {
			errs = append(errs, fmt.Errorf("endpoints.%s: %w", k, err))
		}
	}
	for _, name := range sortedKeys(c.Connections) {
		if c.Connections[name] == "" {
			errs = append(errs, fmt.Errorf("connection %s has an empty URI", name))
		}
	}
	return errors.Join(errs...)
}

// Redacted is the configuration with passwords hidden, for logs.
func (c *Config) Redacted() map[string]any {
	conns := map[string]string{}
	for k, v := range c.Connections {
		conns[k] = RedactURI(v)
	}
	return map[string]any{
		"registry": c.Registry, "database": RedactURI(c.Database), "region": c.Region, "emr_mode": c.EMRMode,
		"listen": c.Listen, "workers": c.Workers, "fetch_cooldown": time.Duration(c.FetchCooldown).String(),
		"tick": time.Duration(c.Tick).String(), "rescue_after": time.Duration(c.RescueAfter).String(),
		"process_grace": time.Duration(c.ProcessGrace).String(), "emr_poll_interval": time.Duration(c.EMRPollInterval).String(),
		"unhealthy_after": c.UnhealthyAfter, "max_document_size": c.MaxDocumentSize.String(),
		"connections": conns, "endpoints": c.Endpoints,
		"replicas": c.Replicas, "replica_lease": time.Duration(c.ReplicaLease).String(), "prices": c.Prices,
		"web": map[string]any{"actions": c.Web.Actions, "tokens": c.Web.tokenNames(), "tls_cert": c.Web.TLSCert, "tls_key": c.Web.TLSKey, "insecure": c.Web.Insecure},
	}
}

// tokenNames lists the tokens by name only: even a hash stays out of the logs.
func (w *Web) tokenNames() []string {
	out := make([]string, 0, len(w.Tokens))
	for _, t := range w.Tokens {
		out = append(out, t.Name)
	}
	return out
}

var (
	webTokenName = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
	webTokenHash = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

func (w *Web) validate() []error {
	var errs []error
	seen := map[string]bool{}
	for i, t := range w.Tokens {
		if !webTokenName.MatchString(t.Name) {
			errs = append(errs, fmt.Errorf("web.tokens[%d].name %q: use 1 to 64 letters, digits, '_', '.', '@' or '-'", i, t.Name))
		}
		if !webTokenHash.MatchString(t.SHA256) {
			errs = append(errs, fmt.Errorf("web.tokens[%d] (%s).sha256: want the 64 hex digits of the token's SHA-256, as `sluice-runner token %s` prints them (never the token itself)", i, t.Name, t.Name))
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("web.tokens: name %q is used twice: the action log names who acted by it", t.Name))
		}
		seen[t.Name] = true
	}
	if w.Actions && len(w.Tokens) == 0 {
		errs = append(errs, errors.New("web.actions is on but web.tokens is empty: actions need authentication; add a token (`sluice-runner token NAME` makes one)"))
	}
	if (w.TLSCert == "") != (w.TLSKey == "") {
		errs = append(errs, errors.New("web.tls_cert and web.tls_key go together: set both, or neither"))
	}
	return errs
}

// RedactURI hides the password of a URI; an unparseable one is hidden entirely.
func RedactURI(s string) string {
	if s == "" || !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URI hidden)"
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
