package conn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// DefaultRedshiftPort is the port of a redshift:// URI that names none.
const DefaultRedshiftPort = "5439"

// spec is a validated connection URI.
type spec struct {
	// pgxURL is what OpenPgx gets: a postgres:// URI (for redshift:// password and IAM logins
	// too, since Redshift speaks the PostgreSQL wire protocol).
	pgxURL   string
	iam      *iamSpec
	redacted string
	// secrets are the passwords in the URI, scrubbed from any error as a last line of defence.
	secrets []string
	// whole are values scrubbed whole but not piece by piece (see redact.Secrets.AddWhole): the
	// Secrets Manager value the URI came from.
	whole []string
}

// iamSpec holds the redshift:GetClusterCredentials inputs of an IAM login.
type iamSpec struct {
	clusterID  string
	dbUser     string
	database   string
	autoCreate bool
	dbGroups   []string
}

// postgresParams are the query parameters a postgres:// URI may carry: the connection settings
// pgx understands, plus the few server settings worth setting per connection. Anything else is
// refused rather than sent to the server as a setting it will reject at connect time.
var postgresParams = []string{
	"application_name", "connect_timeout", "options", "password", "search_path",
	"sslcert", "sslkey", "sslmode", "sslpassword", "sslrootcert", "sslsni",
	"statement_timeout", "target_session_attrs", "user",
}

// redshiftParams are the query parameters a redshift:// URI may carry.
var redshiftParams = []string{
	"application_name", "auto_create", "cluster_identifier", "connect_timeout", "db_groups",
	"db_user", "iam", "sslmode", "sslrootcert",
}

// iamParams only make sense with iam=true.
var iamParams = []string{"auto_create", "cluster_identifier", "db_groups", "db_user"}

// sslModes are the sslmode values libpq and pgx accept.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// secretParams are query parameters whose values Redact hides.
var secretParams = []string{"password", "sslpassword"}

// parse validates a connection URI. Its errors never contain the password.
func parse(raw string) (*spec, error) {
	secrets := secretsOf(raw)
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("the URI is empty; expected postgres://user:password@host:5432/db or redshift://user:password@host:5439/db")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URI, password included
		}
		// url.Parse's own words quote the characters it stumbled on, which may be a piece of
		// the password too short to be scrubbed by value: say what is wrong without them.
		var (
			ee url.EscapeError
			he url.InvalidHostError
		)
		switch {
		case errors.As(err, &ee):
			err = errors.New("a '%' is not followed by two hexadecimal digits: percent-encode a '%' in the password as %25")
		case errors.As(err, &he), strings.Contains(err.Error(), "invalid port"):
			err = errors.New("the host or port is not valid — or the password holds a '/', '?', '#' or '@' that is not percent-encoded and ends the host early: percent-encode the password ('/' is %2F, '?' %3F, '#' %23, '@' %40)")
		}
		return nil, fmt.Errorf("not a valid URI: %w", scrub(err, secrets))
	}
	if u.Opaque != "" {
		return nil, errors.New("not a URI: expected postgres://, postgresql:// or redshift://")
	}
	var s *spec
	switch u.Scheme {
	case "postgres", "postgresql":
		s, err = parsePostgres(raw, u)
	case "redshift":
		s, err = parseRedshift(u)
	case "":
		return nil, errors.New("not a URI: expected postgres://, postgresql:// or redshift://")
	default:
		return nil, fmt.Errorf("unsupported scheme %q: use postgres://, postgresql://, redshift:// or mysql://", u.Scheme)
	}
	if err != nil {
		return nil, scrub(err, secrets)
	}
	// pgx parses without connecting: this catches what it would refuse later (bad sslmode
	// combinations, unreadable certificate paths) while the runner starts.
	secrets = append(secrets, secretsOf(s.pgxURL)...)
	if _, err := pgxpool.ParseConfig(s.pgxURL); err != nil {
		return nil, fmt.Errorf("invalid connection settings: %w", scrub(err, secrets))
	}
	s.redacted = Redact(raw)
	s.secrets = secrets
	return s, nil
}

func checkParams(q url.Values, allowed []string, scheme string) error {
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unknown parameter %q in a %s:// URI; allowed: %s", k, scheme, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return fmt.Errorf("parameter %q is given %d times", k, len(vs))
		}
	}
	if m := q.Get("sslmode"); m != "" && !slices.Contains(sslModes, m) {
		return fmt.Errorf("sslmode %q is not one of %s", m, strings.Join(sslModes, ", "))
	}
	return nil
}

func parsePostgres(raw string, u *url.URL) (*spec, error) {
	if err := checkParams(u.Query(), postgresParams, u.Scheme); err != nil {
		return nil, err
	}
	return &spec{pgxURL: raw}, nil
}

func parseRedshift(u *url.URL) (*spec, error) {
	q := u.Query()
	if err := checkParams(q, redshiftParams, "redshift"); err != nil {
		return nil, err
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, errors.New("a redshift:// URI needs a host: redshift://user:password@cluster.example.us-east-1.redshift.amazonaws.com:5439/dev")
	}
	if port == "" {
		port = DefaultRedshiftPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("port %q is not a port number", port)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("a redshift:// URI names one database as its path, e.g. redshift://host:5439/dev; got path %q", u.Path)
	}
	iam := false
	if v := q.Get("iam"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("iam=%q: use iam=true or iam=false", v)
		}
		iam = b
	}
	pg := url.Values{}
	for _, k := range []string{"sslmode", "sslrootcert", "connect_timeout", "application_name"} {
		if v := q.Get(k); v != "" {
			pg.Set(k, v)
		}
	}
	if pg.Get("sslmode") == "" {
		pg.Set("sslmode", "require")
	}
	out := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, port), Path: "/" + db, RawQuery: pg.Encode()}
	s := &spec{}
	if !iam {
		for _, k := range iamParams {
			if q.Has(k) {
				return nil, fmt.Errorf("parameter %q only applies to IAM logins: add iam=true, or remove it", k)
			}
		}
		if u.User == nil || u.User.Username() == "" {
			return nil, errors.New("a redshift:// URI needs a user (redshift://user:password@host:5439/db) or an IAM login (?iam=true&cluster_identifier=…&db_user=…)")
		}
		out.User = u.User
		s.pgxURL = out.String()
		return s, nil
	}
	if u.User != nil {
		return nil, errors.New("an IAM login (iam=true) takes its user from db_user and its password from redshift:GetClusterCredentials: remove user:password@ from the URI")
	}
	i := &iamSpec{clusterID: q.Get("cluster_identifier"), dbUser: q.Get("db_user"), database: db}
	if i.clusterID == "" || i.dbUser == "" {
		return nil, errors.New("an IAM login (iam=true) needs cluster_identifier and db_user parameters")
	}
	if v := q.Get("auto_create"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("auto_create=%q: use auto_create=true or auto_create=false", v)
		}
		i.autoCreate = b
	}
	if v := q.Get("db_groups"); v != "" {
		for g := range strings.SplitSeq(v, ",") {
			if g = strings.TrimSpace(g); g == "" {
				return nil, fmt.Errorf("db_groups=%q has an empty group name", v)
			}
			i.dbGroups = append(i.dbGroups, strings.TrimSpace(g))
		}
	}
	s.iam = i
	s.pgxURL = out.String()
	return s, nil
}

// Redact returns the URI with its password hidden, for logs and errors: the password in the
// user information and any password or sslpassword parameter become "xxxxx". A string that is
// not a URI is withheld entirely, since where its password is cannot be known.
func Redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		scheme, rest, ok := strings.Cut(uri, "://")
		if !ok {
			return "(not a URI: withheld)"
		}
		// Best effort for a URI url.Parse refuses: drop everything before the last '@', where
		// the user information ends.
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = "xxxxx@" + rest[at+1:]
		}
		return scheme + "://" + rest
	}
	q := u.Query()
	changed := false
	for _, k := range secretParams {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// secretsOf extracts, as best it can and without trusting url.Parse to succeed, the passwords
// in a URI, raw and decoded.
func secretsOf(raw string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
		if d, err := url.PathUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	if u, err := url.Parse(raw); err == nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
			add(url.QueryEscape(pw))
			add(url.PathEscape(pw))
		}
		q := u.Query()
		for _, k := range secretParams {
			add(q.Get(k))
		}
	}
	return out
}

// scrub replaces every form of the secrets (see redact.Forms) and of the whole values in err's
// message. An error that contains none is returned as is; one that does still unwraps to err,
// so errors.Is and errors.As keep working.
func scrub(err error, secrets []string, whole ...string) error {
	if err == nil {
		return nil
	}
	r := redact.New()
	r.Add(secrets...)
	r.AddWhole(whole...)
	return r.Error(err)
}

// URISecrets returns the passwords of a URI, raw and decoded, found as its author meant them
// (the user information ends at the last '@') whether or not url.Parse accepts the URI, for
// registering with a redact.Secrets.
func URISecrets(uri string) []string { return secretsOf(uri) }
