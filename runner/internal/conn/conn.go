// Package conn resolves the database connections pipelines name. A published pipeline says
// `connection = "warehouse"` and carries no secret; each runner maps that name to a URI from its
// environment (SLUICE_CONN_WAREHOUSE=postgres://…) or its config file, so one definition deploys
// to many environments.
//
// Instead of a URI, a connection may be given as the ARN of an AWS Secrets Manager secret
// (SLUICE_CONN_WAREHOUSE=arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse-AbCdEf),
// so that the password lives in Secrets Manager and is rotated there. The secret's text is a
// connection URI, or the JSON that RDS and Redshift keep in the secrets they manage
// ({"engine":"postgres"|"redshift","host","port","username","password","dbname"}). The runner
// reads it with secretsmanager:GetSecretValue when the connection is first used, and again once
// if the database then rejects the credentials it kept (the password was rotated).
package conn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/mysql"
)

// EnvPrefix starts every environment variable that defines a connection: SLUICE_CONN_WAREHOUSE
// defines connection "warehouse".
const EnvPrefix = "SLUICE_CONN_"

// ErrUnknownConnection is wrapped by Get's error for a name the runner has no URI for. Retrying
// cannot fix it: executors mark it activity.Permanent (see IsPermanent).
var ErrUnknownConnection = errors.New("unknown connection")

// FromEnviron collects connections from environ ("K=V" strings, as os.Environ returns). The
// name is the variable name after EnvPrefix, lower-cased. Variables with an empty value are
// ignored, as if unset.
func FromEnviron(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) || len(k) == len(EnvPrefix) || v == "" {
			continue
		}
		out[strings.ToLower(strings.TrimPrefix(k, EnvPrefix))] = v
	}
	return out
}

// EnvVar is the environment variable that defines connection name.
func EnvVar(name string) string { return EnvPrefix + strings.ToUpper(name) }

// Options configure a Resolver.
type Options struct {
	// AWS builds the AWS client used for redshift:// IAM logins (GetClusterCredentials) and
	// for connections given as secret ARNs (secretsmanager:GetSecretValue); nil means IAM URIs
	// and secret ARNs are refused by NewResolver with a clear error.
	AWS func(ctx context.Context) (*awsclient.Client, error)
	// SecretRefresh is how old the kept value of a secret connection may be before a new
	// database connection of its pool fetches it again, so that a rotation is picked up
	// without a restart; 0 means DefaultSecretRefresh.
	SecretRefresh time.Duration
	// Logger receives a line per opened connection (URI redacted, or the secret's ARN); nil
	// discards. A secret's value is never logged.
	Logger *slog.Logger
	// Secrets is told every secret the resolver learns — the passwords of the configured URIs
	// at once, a Secrets Manager value as soon as it is fetched — so that the runner scrubs
	// them from all it writes; nil tells nobody.
	Secrets SecretRegistry
}

// SecretRegistry collects secret values; *redact.Secrets implements it.
type SecretRegistry interface {
	// Add registers passwords and tokens, to be scrubbed in every form they can take.
	Add(secrets ...string)
	// AddWhole registers values holding secrets among ordinary words (a URI, a secret's JSON),
	// to be scrubbed whole.
	AddWhole(values ...string)
}

// register tells Options.Secrets of secrets and of whole values.
func (r *Resolver) register(secrets []string, whole ...string) {
	if r.opts.Secrets == nil || len(secrets) == 0 {
		return // a value without secrets is not scrubbed: "uri" in a log line stays readable
	}
	r.opts.Secrets.Add(secrets...)
	r.opts.Secrets.AddWhole(whole...)
}

// Resolver maps connection names to open executors. It opens each connection on first use and
// keeps it for the life of the runner.
type Resolver struct {
	opts  Options
	log   *slog.Logger
	conns map[string]*entry

	mu     sync.Mutex
	closed bool
}

// entry is one configured connection. Its own mutex lets different connections open in
// parallel while concurrent Gets of the same one wait for a single open.
type entry struct {
	name string
	// spec is the parsed URI. For a secret it is nil until the secret is fetched, and is then
	// kept (under mu) until the database rejects its credentials.
	spec *spec
	// secret is set for a connection given as a Secrets Manager secret ARN.
	secret *secretRef

	mu   sync.Mutex
	exec *redshift.PgxExecutor
	// my is set for a mysql:// connection, and mydb once it is open.
	my   *mysql.Spec
	mydb *mysql.DB
}

// NewResolver validates every URI and secret ARN up front (errors name the connection, never the
// password). A secret's value is only read when the connection is first used.
// Names are case-insensitive: "Warehouse" and "warehouse" are the same connection.
func NewResolver(uris map[string]string, opts Options) (*Resolver, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{opts: opts, log: log, conns: map[string]*entry{}}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(uris)) {
		key := strings.ToLower(name)
		if !validName(key) {
			errs = append(errs, fmt.Errorf("connection %q: a name is a letter followed by up to 62 letters, digits or underscores", name))
			continue
		}
		if _, dup := r.conns[key]; dup {
			errs = append(errs, fmt.Errorf("connection %q is defined twice (names are case-insensitive)", key))
			continue
		}
		if isSecretRef(uris[name]) {
			ref, err := parseSecretRef(uris[name])
			if err != nil {
				errs = append(errs, fmt.Errorf("connection %q (%s): %w", key, uris[name], err))
				continue
			}
			if opts.AWS == nil {
				errs = append(errs, fmt.Errorf("connection %q (secret %s) is a Secrets Manager secret, but this runner has no AWS configuration to call secretsmanager:GetSecretValue with", key, ref.arn))
				continue
			}
			r.conns[key] = &entry{name: key, secret: ref}
			continue
		}
		// Registered before parsing, so that even the error about a URI that does not parse
		// is scrubbed wherever it goes.
		r.register(secretsOf(uris[name]), uris[name])
		if mysql.IsURI(uris[name]) {
			ms, err := mysql.Parse(uris[name])
			if err != nil {
				errs = append(errs, fmt.Errorf("connection %q (%s): %w", key, Redact(uris[name]), err))
				continue
			}
			if ms.Password != "" {
				r.register([]string{ms.Password})
			}
			r.conns[key] = &entry{name: key, my: ms}
			continue
		}
		s, err := parse(uris[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("connection %q (%s): %w", key, Redact(uris[name]), err))
			continue
		}
		if s.iam != nil && opts.AWS == nil {
			errs = append(errs, fmt.Errorf("connection %q (%s) logs in with IAM (iam=true), but this runner has no AWS configuration to call redshift:GetClusterCredentials with", key, Redact(uris[name])))
			continue
		}
		r.register(s.secrets)
		r.conns[key] = &entry{name: key, spec: s}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid connections: %w", err)
	}
	return r, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Names returns the configured connection names, sorted.
func (r *Resolver) Names() []string {
	return slices.Sorted(maps.Keys(r.conns))
}

// Get opens (once, lazily, cached, safe for concurrent use) and returns the connection. An
// unknown name is an error wrapping ErrUnknownConnection that lists the configured names and the
// environment variable to set. A failed open is not cached: the next Get tries again.
func (r *Resolver) Get(ctx context.Context, name string) (*redshift.PgxExecutor, error) {
	e, ok := r.conns[strings.ToLower(name)]
	if !ok {
		have := "none are configured"
		if n := r.Names(); len(n) > 0 {
			have = "configured: " + strings.Join(n, ", ")
		}
		return nil, fmt.Errorf("%w %q (%s); set %s=<uri> in the runner's environment or add it to the runner's config file", ErrUnknownConnection, name, have, EnvVar(name))
	}
	if e.my != nil {
		return nil, fmt.Errorf("%w: connection %q is MySQL (%s); this needs PostgreSQL or Redshift", ErrWrongKind, e.name, e.my.Redacted)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.exec != nil {
		return e.exec, nil
	}
	if r.isClosed() {
		return nil, fmt.Errorf("connection %q: the runner is shutting down", e.name)
	}
	x, err := r.open(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("connection %q (%s): %w", e.name, e.label(), err)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		x.Close()
		return nil, fmt.Errorf("connection %q: the runner is shutting down", e.name)
	}
	e.exec = x
	if e.secret != nil {
		r.log.Info("connection opened", "connection", e.name, "secret", e.secret.arn, "dialect", x.Dialect().String())
	} else {
		r.log.Info("connection opened", "connection", e.name, "uri", e.spec.redacted, "dialect", x.Dialect().String())
	}
	return x, nil
}

// Connection kinds, as Kind returns them.
const (
	KindPostgres = "postgres" // PostgreSQL or Redshift
	KindMySQL    = "mysql"    // MySQL or MariaDB
)

// ErrWrongKind is wrapped by the error of Get for a MySQL connection and of GetMySQL for another
// one; retrying cannot fix it.
var ErrWrongKind = errors.New("wrong kind of connection")

// Kind returns the kind of a configured connection, "" for an unknown name.
func (r *Resolver) Kind(name string) string {
	e, ok := r.conns[strings.ToLower(name)]
	switch {
	case !ok:
		return ""
	case e.my != nil:
		return KindMySQL
	}
	return KindPostgres
}

// GetMySQL opens (once, lazily, cached) and returns a mysql:// connection.
func (r *Resolver) GetMySQL(ctx context.Context, name string) (*mysql.DB, error) {
	e, ok := r.conns[strings.ToLower(name)]
	if !ok {
		_, err := r.Get(ctx, name) // the unknown-connection error, listing the configured ones
		return nil, err
	}
	if e.my == nil {
		return nil, fmt.Errorf("%w: connection %q is not MySQL", ErrWrongKind, e.name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mydb != nil {
		return e.mydb, nil
	}
	if r.isClosed() {
		return nil, fmt.Errorf("connection %q: the runner is shutting down", e.name)
	}
	db, err := mysql.Open(ctx, e.my)
	if err != nil {
		return nil, fmt.Errorf("connection %q (%s): %w", e.name, e.my.Redacted, scrub(err, []string{e.my.Password}))
	}
	e.mydb = db
	r.log.Info("connection opened", "connection", e.name, "uri", e.my.Redacted, "dialect", "mysql")
	return db, nil
}

// label names where the connection comes from in errors: the redacted URI, or the secret's ARN
// (never the secret's value).
func (e *entry) label() string {
	if e.secret != nil {
		return "secret " + e.secret.arn
	}
	return e.spec.redacted
}

func (r *Resolver) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// open opens e's database; its errors never contain a password.
func (r *Resolver) open(ctx context.Context, e *entry) (*redshift.PgxExecutor, error) {
	if e.secret != nil {
		return r.openSecret(ctx, e)
	}
	x, err := r.openSpec(ctx, e.spec, nil)
	return x, scrub(err, e.spec.secrets, e.spec.whole...)
}

// openSpec opens a parsed URI. Its errors may contain the URI's password: callers scrub them.
// rotating is the entry of a secret connection, whose pool then takes each new connection's
// credentials from the secret (see secretCreds); nil for a plain URI.
func (r *Resolver) openSpec(ctx context.Context, s *spec, rotating *entry) (*redshift.PgxExecutor, error) {
	var auth *redshift.IAMAuth
	if s.iam != nil {
		client, err := r.opts.AWS(ctx)
		if err != nil {
			return nil, fmt.Errorf("building the AWS client for the IAM login: %w", err)
		}
		i := s.iam
		auth = &redshift.IAMAuth{
			API: client.Redshift(), ClusterIdentifier: i.clusterID, DBUser: i.dbUser,
			Database: i.database, AutoCreate: i.autoCreate, DBGroups: i.dbGroups,
		}
	}
	var creds redshift.CredentialSource
	switch {
	case auth != nil:
		creds = registering{src: auth, r: r}
	case rotating != nil:
		if c := newSecretCreds(r, rotating, s); c != nil {
			creds = c
		}
	}
	x, err := redshift.OpenPgxWith(ctx, s.pgxURL, creds)
	if err != nil {
		return nil, fmt.Errorf("opening: %w", err)
	}
	return x, nil
}

// registering passes on the credentials of src (an IAM login's temporary passwords), telling
// Options.Secrets of each password before the driver can quote it.
type registering struct {
	src redshift.CredentialSource
	r   *Resolver
}

// Credentials implements redshift.CredentialSource.
func (c registering) Credentials(ctx context.Context) (user, password string, err error) {
	user, password, err = c.src.Credentials(ctx)
	if err != nil {
		return "", "", err // the source's error names the call that failed
	}
	c.r.register([]string{password})
	return user, password, nil
}

// Close closes every opened connection; later Gets fail.
func (r *Resolver) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	for _, e := range r.conns {
		e.mu.Lock()
		if e.exec != nil {
			e.exec.Close()
			e.exec = nil
		}
		if e.mydb != nil {
			e.mydb.Close()
			e.mydb = nil
		}
		e.mu.Unlock()
	}
}
