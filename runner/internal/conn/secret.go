package conn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// ErrSecret is wrapped by Get's error when a connection's Secrets Manager secret cannot be used
// and retrying the same way will not help: Secrets Manager refused it (the secret does not exist,
// the runner may not read it, or it cannot be decrypted) or its value is not a connection.
// Executors mark it activity.Permanent, as they do ErrUnknownConnection (see IsPermanent).
var ErrSecret = errors.New("unusable connection secret")

// IsPermanent reports whether a Get error is one that retrying the activity cannot fix: an
// unknown connection name or an unusable secret (ErrUnknownConnection, ErrSecret). A failed
// open is not: the database may be restarting.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrUnknownConnection) || errors.Is(err, ErrSecret) || errors.Is(err, ErrWrongKind)
}

// secretRef is a connection given as a Secrets Manager secret ARN.
type secretRef struct {
	arn    string
	region string
}

// isSecretRef reports whether a connection value is an ARN rather than a URI. Every "arn:" value
// is taken as one, so that a mistyped secret ARN is reported as such rather than as "not a URI".
func isSecretRef(v string) bool { return strings.HasPrefix(v, "arn:") }

var (
	// Partitions: aws, aws-cn, aws-us-gov, and the isolated ones (aws-iso, aws-iso-b, …).
	arnPartition = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	arnRegion    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	arnAccount   = regexp.MustCompile(`^[0-9]{12}$`)
	// Secret names are letters, digits and /_+=.@-; the ARN adds a random 6-character suffix,
	// which GetSecretValue does not require (a partial ARN also names the secret).
	secretName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
)

// secretARNExample shows the expected shape in errors.
const secretARNExample = "arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse-AbCdEf"

// parseSecretRef validates a secret ARN.
func parseSecretRef(v string) (*secretRef, error) {
	a, err := arn.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("not a valid ARN (%w); expected a Secrets Manager secret ARN such as %s", err, secretARNExample)
	}
	switch {
	case a.Service != "secretsmanager":
		return nil, fmt.Errorf("only Secrets Manager secret ARNs name a connection, not %q ARNs; expected e.g. %s", a.Service, secretARNExample)
	case !arnPartition.MatchString(a.Partition):
		return nil, fmt.Errorf("partition %q is not an AWS partition (aws, aws-cn, aws-us-gov, …)", a.Partition)
	case !arnRegion.MatchString(a.Region):
		return nil, fmt.Errorf("region %q is not an AWS region such as us-east-1", a.Region)
	case !arnAccount.MatchString(a.AccountID):
		return nil, fmt.Errorf("account %q is not a 12-digit AWS account ID", a.AccountID)
	}
	name, ok := strings.CutPrefix(a.Resource, "secret:")
	if !ok || !secretName.MatchString(name) {
		return nil, fmt.Errorf("resource %q is not secret:<name> (a name of letters, digits and /_+=.@-)", a.Resource)
	}
	return &secretRef{arn: v, region: a.Region}, nil
}

// openSecret opens a connection whose URI is the value of a Secrets Manager secret, fetching the
// value once and keeping it in e.spec across failed opens (the database may be down, and the
// secret need not be fetched again for that).
//
// Secrets Manager rotation changes the database password and then the secret, so a value fetched
// earlier can go stale while the runner keeps it. When the database rejects the kept credentials
// (SQLSTATE 28P01 or 28000) the secret is fetched again, once, and the open retried with the new
// value; if that is rejected too the error is returned. Credentials fetched moments ago are not
// fetched again at once (the same value would come back), but they are forgotten, so the next
// attempt fetches afresh: a rotation between its steps settles before the activity's retry.
func (r *Resolver) openSecret(ctx context.Context, e *entry) (*redshift.PgxExecutor, error) {
	fresh := false
	if e.spec == nil {
		s, err := r.fetchSecret(ctx, e)
		if err != nil {
			return nil, err
		}
		e.spec, fresh = s, true
	}
	x, err := r.openSpec(ctx, e.spec, e)
	if err == nil {
		return x, nil
	}
	if !authFailed(err) {
		return nil, scrub(err, e.spec.secrets, e.spec.whole...)
	}
	err = scrub(err, e.spec.secrets, e.spec.whole...)
	e.spec = nil
	if fresh {
		return nil, err
	}
	r.log.Info("connection secret fetched again: the database rejected the credentials kept from it (rotated?)", "connection", e.name, "secret", e.secret.arn)
	s, ferr := r.fetchSecret(ctx, e)
	if ferr != nil {
		return nil, fmt.Errorf("%w; fetching the secret again after that: %w", err, ferr)
	}
	x, err = r.openSpec(ctx, s, e)
	if err != nil {
		if !authFailed(err) {
			e.spec = s // a new value, refused for another reason: keep it like any fetched value
		}
		return nil, scrub(err, s.secrets, s.whole...)
	}
	e.spec = s
	return x, nil
}

// authFailed reports whether the database refused the login itself: invalid_password (28P01)
// or invalid_authorization_specification (28000, e.g. no such role or no pg_hba entry).
func authFailed(err error) bool {
	switch redshift.SQLState(err) {
	case "28P01", "28000":
		return true
	}
	return false
}

// permanentSecretCodes are the GetSecretValue error codes that retrying cannot fix.
var permanentSecretCodes = map[string]bool{
	"ResourceNotFoundException":   true,
	"AccessDeniedException":       true,
	"DecryptionFailure":           true,
	"InvalidRequestException":     true, // e.g. the secret is scheduled for deletion
	"InvalidParameterException":   true,
	"UnrecognizedClientException": true, // the runner's access key does not exist
}

// apiError words an AWS error as "Code: message" whatever its Go type (the SDK's modelled errors
// and its generic one print differently), and keeps it for errors.As.
type apiError struct{ smithy.APIError }

func (e apiError) Error() string { return e.ErrorCode() + ": " + e.ErrorMessage() }
func (e apiError) Unwrap() error { return e.APIError }

// fetchSecret calls GetSecretValue and parses the value. Its errors never contain the value.
func (r *Resolver) fetchSecret(ctx context.Context, e *entry) (*spec, error) {
	client, err := r.opts.AWS(ctx)
	if err != nil {
		return nil, fmt.Errorf("building the AWS client to call secretsmanager:GetSecretValue: %w", err)
	}
	out, err := client.SecretsManager().GetSecretValue(ctx,
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(e.secret.arn)},
		// A secret is read in its own region, whatever the runner's region is.
		func(o *secretsmanager.Options) { o.Region = e.secret.region })
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && permanentSecretCodes[apiErr.ErrorCode()] {
			return nil, fmt.Errorf("%w: secretsmanager:GetSecretValue returned %w", ErrSecret, apiError{apiErr})
		}
		return nil, fmt.Errorf("secretsmanager:GetSecretValue: %w", err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("%w: the secret has no SecretString (a SecretBinary secret cannot be used): store the connection URI or RDS-style JSON as the secret's text", ErrSecret)
	}
	value := *out.SecretString
	// Registered before anything is done with it, so that no message about it can carry it.
	r.register(secretsOfValue(value), value)
	s, err := parseSecretValue(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecret, scrub(err, secretsOfValue(value), value))
	}
	s.whole = append(s.whole, value)
	r.register(s.secrets)
	r.log.Debug("connection secret fetched", "connection", e.name, "secret", e.secret.arn, "version", aws.ToString(out.VersionId))
	return s, nil
}

// parseSecretValue reads a secret's text: a connection URI, or the JSON that RDS and Redshift
// store in the secrets they manage.
func parseSecretValue(v string) (*spec, error) {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "{") {
		return parseSecretJSON(t)
	}
	s, err := parse(t)
	if err != nil {
		return nil, fmt.Errorf("the secret's value is not a connection URI (%w); store a postgres://, postgresql:// or redshift:// URI, or JSON with engine, host, port, username, password and dbname", err)
	}
	return s, nil
}

// rdsSecret is the JSON of an RDS or Redshift managed secret. Other keys (dbClusterIdentifier,
// dbInstanceIdentifier, masterarn, …) are ignored. SSLMode is sluice's own addition.
type rdsSecret struct {
	Engine   string          `json:"engine"`
	Host     string          `json:"host"`
	Port     json.RawMessage `json:"port"`
	Username string          `json:"username"`
	Password string          `json:"password"`
	DBName   string          `json:"dbname"`
	SSLMode  string          `json:"sslmode"`
}

// parseSecretJSON turns RDS-style JSON into the URI it stands for, and parses that as a
// configured URI would be. The defaults are those of AWS's rotation functions: port 5432 and
// database postgres for PostgreSQL, port 5439 and database dev for Redshift.
func parseSecretJSON(v string) (*spec, error) {
	var j rdsSecret
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		return nil, fmt.Errorf("the secret's value is not valid JSON: %w", err)
	}
	var scheme, port, db string
	switch strings.ToLower(j.Engine) {
	case "postgres", "postgresql", "aurora-postgresql":
		scheme, port, db = "postgres", "5432", "postgres"
	case "redshift":
		scheme, port, db = "redshift", DefaultRedshiftPort, "dev"
	case "":
		return nil, errors.New(`the secret's JSON has no "engine" field: set it to "postgres" or "redshift"`)
	default:
		return nil, fmt.Errorf(`the secret's JSON has engine %q: use "postgres" or "redshift"`, j.Engine)
	}
	for _, f := range []struct{ name, value string }{{"host", j.Host}, {"username", j.Username}, {"password", j.Password}} {
		if f.value == "" {
			return nil, fmt.Errorf("the secret's JSON has no %q field", f.name)
		}
	}
	if len(j.Port) > 0 && string(j.Port) != "null" {
		p, err := jsonPort(j.Port)
		if err != nil {
			return nil, err
		}
		port = p
	}
	if j.DBName != "" {
		db = j.DBName
	}
	u := &url.URL{
		Scheme: scheme, User: url.UserPassword(j.Username, j.Password),
		Host: net.JoinHostPort(j.Host, port), Path: "/" + db,
	}
	if j.SSLMode != "" {
		u.RawQuery = url.Values{"sslmode": {j.SSLMode}}.Encode()
	}
	s, err := parse(u.String())
	if err != nil {
		return nil, fmt.Errorf("the secret's JSON does not make a valid connection: %w", err)
	}
	return s, nil
}

// jsonPort reads "port" given as a number (RDS) or a string (hand-made secrets).
func jsonPort(raw json.RawMessage) (string, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", errors.New(`the secret's JSON "port" is neither a number nor a string`)
		}
		n = json.Number(s)
	}
	p, err := strconv.Atoi(n.String())
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf(`the secret's JSON "port" %q is not a port number`, n.String())
	}
	return strconv.Itoa(p), nil
}

// secretsOfValue returns the password of a secret's value, as best it can, for scrubbing the
// errors of a value that did not parse.
func secretsOfValue(v string) []string {
	var j struct {
		Password string `json:"password"`
	}
	if json.Unmarshal([]byte(v), &j) == nil && j.Password != "" {
		return []string{j.Password}
	}
	return secretsOf(v)
}

// DefaultSecretRefresh is how old a secret connection's kept value may be before a new
// database connection fetches it again.
const DefaultSecretRefresh = 5 * time.Minute

// secretCreds gives the pool of a secret connection the secret's current user and password.
// The pool keeps opening database connections for the life of the runner (it replaces each
// after an hour), and Secrets Manager rotation changes the password meanwhile: a new connection
// fetches the secret again when the value kept is older than SecretRefresh. A failed fetch
// keeps the old value (the database says whether it still works) and is retried no sooner.
// Only the user and password follow the secret: a new host or database needs a restart.
type secretCreds struct {
	r *Resolver
	e *entry

	mu             sync.Mutex
	user, password string
	fetched        time.Time
}

// newSecretCreds returns nil for a value without a user name (the driver's defaults apply, and
// there is nothing to rotate).
func newSecretCreds(r *Resolver, e *entry, s *spec) *secretCreds {
	user, password, ok := userPassword(s)
	if !ok {
		return nil
	}
	return &secretCreds{r: r, e: e, user: user, password: password, fetched: time.Now()}
}

// Credentials implements redshift.CredentialSource.
func (c *secretCreds) Credentials(ctx context.Context) (user, password string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	refresh := c.r.opts.SecretRefresh
	if refresh <= 0 {
		refresh = DefaultSecretRefresh
	}
	if time.Since(c.fetched) < refresh {
		return c.user, c.password, nil
	}
	c.fetched = time.Now()
	s, err := c.r.fetchSecret(ctx, c.e)
	if err == nil {
		u, p, ok := userPassword(s)
		if ok {
			if u != c.user || p != c.password {
				c.r.log.Info("connection secret changed; new database connections use the new credentials", "connection", c.e.name, "secret", c.e.secret.arn)
			}
			c.user, c.password = u, p
			return c.user, c.password, nil
		}
		err = errors.New("the secret's new value has no user name")
	}
	c.r.log.Warn("connection secret could not be fetched again; new database connections keep the credentials kept", "connection", c.e.name, "secret", c.e.secret.arn, "error", err.Error())
	return c.user, c.password, nil
}

// userPassword reads the login of a parsed secret value; ok is false without a user name.
func userPassword(s *spec) (user, password string, ok bool) {
	u, err := url.Parse(s.pgxURL)
	if err != nil || u.User == nil || u.User.Username() == "" {
		return "", "", false
	}
	password, _ = u.User.Password()
	return u.User.Username(), password, true
}
