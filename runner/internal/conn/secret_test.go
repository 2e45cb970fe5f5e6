package conn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
)

const (
	secretARN   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse-AbCdEf"
	euSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/warehouse-AbCdEf"
)

func TestNewResolver_AcceptsSecretARNsInEveryPartition(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{
		"aws":    secretARN,
		"china":  "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:wh-AbCdEf",
		"govcl":  "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:wh",
		"nested": euSecretARN,
	}, conn.Options{AWS: noAWS})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "aws,china,govcl,nested" {
		t.Fatalf("Names = %s", got)
	}
}

func TestNewResolver_RejectsMalformedSecretARNs(t *testing.T) {
	for _, tc := range []struct{ arn, want string }{
		{"arn:aws:secretsmanager", "not a valid ARN"},
		{"arn:aws:s3:::bucket/key", `only Secrets Manager secret ARNs name a connection, not "s3" ARNs`},
		{"arn:gcp:secretsmanager:us-east-1:123456789012:secret:wh", `partition "gcp" is not an AWS partition`},
		{"arn:aws:secretsmanager::123456789012:secret:wh", `region "" is not an AWS region`},
		{"arn:aws:secretsmanager:us-east-1:1234:secret:wh", `account "1234" is not a 12-digit AWS account ID`},
		{"arn:aws:secretsmanager:us-east-1:123456789012:parameter:wh", `resource "parameter:wh" is not secret:<name>`},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:", `resource "secret:" is not secret:<name>`},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:a b", `resource "secret:a b" is not secret:<name>`},
	} {
		t.Run(tc.arn, func(t *testing.T) {
			_, err := conn.NewResolver(map[string]string{"warehouse": tc.arn}, conn.Options{AWS: noAWS})
			if err == nil {
				t.Fatal("NewResolver accepted the ARN")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, `connection "warehouse" (`+tc.arn+")") {
				t.Fatalf("error %q does not contain %q and the connection", msg, tc.want)
			}
		})
	}
}

func TestNewResolver_SecretARNWithoutAWSIsAClearError(t *testing.T) {
	_, err := conn.NewResolver(map[string]string{"warehouse": secretARN}, conn.Options{})
	want := `connection "warehouse" (secret ` + secretARN + `) is a Secrets Manager secret, but this runner has no AWS configuration to call secretsmanager:GetSecretValue with`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
}

// roleSeq makes role names unique: roles, unlike databases, are shared by the whole cluster.
var roleSeq atomic.Int64

// newRole creates a login role with password pw on the shared PostgreSQL server.
func newRole(t *testing.T, pw string) string {
	t.Helper()
	name := fmt.Sprintf("secret_role_%d_%d", os.Getpid(), roleSeq.Add(1))
	setPassword(t, name, pw, "CREATE ROLE %s LOGIN PASSWORD %s")
	return name
}

// setPassword runs stmt (two %s: the role and the password literal) as the admin.
func setPassword(t *testing.T, role, pw, stmt string) {
	t.Helper()
	sql := fmt.Sprintf(stmt, redshift.QuoteIdent(role), redshift.PostgreSQL.QuoteLiteral(pw))
	if err := acctest.SharedPostgres(t).Exec(context.Background(), "postgres", sql); err != nil {
		t.Fatal(err)
	}
}

func adminExec(t *testing.T, db, sql string) {
	t.Helper()
	if err := acctest.SharedPostgres(t).Exec(context.Background(), db, sql); err != nil {
		t.Fatal(err)
	}
}

// dbName returns the database of a URL from NewPostgresDatabase.
func dbName(t *testing.T, dbURL string) string {
	return strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
}

// roleURI is a postgres:// URI logging in as role with pw.
func roleURI(t *testing.T, role, pw, db string) string {
	pg := acctest.SharedPostgres(t)
	u := url.URL{
		Scheme: "postgres", User: url.UserPassword(role, pw), Host: fmt.Sprintf("%s:%d", pg.Host, pg.Port),
		Path: "/" + db, RawQuery: "sslmode=disable",
	}
	return u.String()
}

// whoAmI returns current_user and current_database() on the connection.
func whoAmI(t *testing.T, x *redshift.PgxExecutor) (user, db string) {
	t.Helper()
	rows, err := x.Query(context.Background(), "SELECT current_user, current_database()")
	if err != nil {
		t.Fatal(err)
	}
	return rows[0][0].String, rows[0][1].String
}

func TestGet_SecretHoldingAURIOpensAndQueries(t *testing.T) {
	const pw = "Uri-S3cret:p@ss/w%rd?#"
	db := dbName(t, acctest.NewPostgresDatabase(t))
	role := newRole(t, pw)
	fake := startFakeSecrets(t)
	// In another region than the runner's: the fake checks the request is signed for eu-west-1.
	fake.setString(euSecretARN, roleURI(t, role, pw, db))
	var logs bytes.Buffer
	r, x := openWarehouse(t, euSecretARN, conn.Options{AWS: fake.aws(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if u, d := whoAmI(t, x); u != role || d != db {
		t.Fatalf("connected as %s to %s, want %s to %s", u, d, role, db)
	}
	if _, err := r.Get(context.Background(), "warehouse"); err != nil {
		t.Fatal(err)
	}
	if n := fake.callsFor(euSecretARN); n != 1 {
		t.Fatalf("GetSecretValue called %d times, want 1 (the value is kept with the connection)", n)
	}
	if !strings.Contains(logs.String(), "secret="+euSecretARN) {
		t.Fatalf("the log does not name the secret:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "S3cret") {
		t.Fatalf("the log contains the password:\n%s", logs.String())
	}
}

func TestGet_SecretHoldingRDSJSONOpensAndQueries(t *testing.T) {
	pg := acctest.SharedPostgres(t)
	const pw = `Json-S3cret"p@ss:/w%rd\`
	db := dbName(t, acctest.NewPostgresDatabase(t))
	role := newRole(t, pw)
	for _, tc := range []struct {
		name   string
		secret map[string]any
		wantDB string
	}{
		{"postgres engine, numeric port, extra keys ignored", map[string]any{
			"engine": "postgres", "host": pg.Host, "port": pg.Port, "username": role, "password": pw,
			"dbname": db, "dbInstanceIdentifier": "warehouse-1",
		}, db},
		{"postgres engine without dbname uses the postgres database", map[string]any{
			"engine": "postgres", "host": pg.Host, "port": pg.Port, "username": role, "password": pw,
		}, "postgres"},
		{"redshift engine, port as a string", map[string]any{
			"engine": "redshift", "host": pg.Host, "port": fmt.Sprint(pg.Port), "username": role, "password": pw,
			"dbname": db, "dbClusterIdentifier": "analytics", "sslmode": "disable",
		}, db},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFakeSecrets(t)
			value, err := json.Marshal(tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			fake.setString(secretARN, string(value))
			_, x := openWarehouse(t, secretARN, conn.Options{AWS: fake.aws()})
			if u, d := whoAmI(t, x); u != role || d != tc.wantDB {
				t.Fatalf("connected as %s to %s, want %s to %s", u, d, role, tc.wantDB)
			}
			if n := fake.callsFor(secretARN); n != 1 {
				t.Fatalf("GetSecretValue called %d times, want 1", n)
			}
		})
	}
}

// refusedSecretConnection returns a resolver whose first Get fetched the secret (one
// GetSecretValue call) and failed for a reason other than the password: the role may not
// connect to the database, as when a database is unreachable. The resolver keeps the value, so
// the next Get tries it without fetching it again.
func refusedSecretConnection(t *testing.T, role, pw, db string, fake *fakeSecrets, logs *bytes.Buffer) *conn.Resolver {
	t.Helper()
	adminExec(t, db, "REVOKE CONNECT ON DATABASE "+redshift.QuoteIdent(db)+" FROM PUBLIC")
	fake.setString(secretARN, roleURI(t, role, pw, db))
	r, err := conn.NewResolver(map[string]string{"warehouse": secretARN}, conn.Options{AWS: fake.aws(), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	_, err = r.Get(context.Background(), "warehouse")
	if err == nil || !strings.Contains(err.Error(), "permission denied for database") {
		t.Fatalf("first Get: err = %v, want permission denied", err)
	}
	if conn.IsPermanent(err) {
		t.Fatalf("a refused open is marked permanent: %v", err)
	}
	if n := fake.callsFor(secretARN); n != 1 {
		t.Fatalf("GetSecretValue called %d times by the first Get, want 1", n)
	}
	adminExec(t, db, "GRANT CONNECT ON DATABASE "+redshift.QuoteIdent(db)+" TO "+redshift.QuoteIdent(role))
	return r
}

func TestGet_RotatedPasswordIsFetchedAgainOnce(t *testing.T) {
	const oldPW, newPW = "Old-S3cret-1", "New-S3cret-2"
	db := dbName(t, acctest.NewPostgresDatabase(t))
	role := newRole(t, oldPW)
	fake := startFakeSecrets(t)
	var logs bytes.Buffer
	r := refusedSecretConnection(t, role, oldPW, db, fake, &logs)

	// Rotation, as Secrets Manager's rotation functions do it: the database first, then the secret.
	setPassword(t, role, newPW, "ALTER ROLE %s PASSWORD %s")
	fake.setString(secretARN, roleURI(t, role, newPW, db))

	x, err := r.Get(context.Background(), "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	if u, d := whoAmI(t, x); u != role || d != db {
		t.Fatalf("connected as %s to %s", u, d)
	}
	if n := fake.callsFor(secretARN); n != 2 {
		t.Fatalf("GetSecretValue called %d times, want 2: one extra after the old password was rejected", n)
	}
	if _, err := r.Get(context.Background(), "warehouse"); err != nil {
		t.Fatal(err)
	}
	if n := fake.callsFor(secretARN); n != 2 {
		t.Fatalf("GetSecretValue called %d times after the connection was open, want still 2", n)
	}
	if !strings.Contains(logs.String(), "fetched again") {
		t.Fatalf("the refetch is not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "S3cret") {
		t.Fatalf("the log contains a password:\n%s", logs.String())
	}
}

func TestGet_RefetchedSecretStillRejectedGivesUp(t *testing.T) {
	const oldPW, newPW = "Old-S3cret-3", "New-S3cret-4"
	db := dbName(t, acctest.NewPostgresDatabase(t))
	role := newRole(t, oldPW)
	fake := startFakeSecrets(t)
	var logs bytes.Buffer
	r := refusedSecretConnection(t, role, oldPW, db, fake, &logs)

	// The database has the new password, the secret not yet (a rotation half done).
	setPassword(t, role, newPW, "ALTER ROLE %s PASSWORD %s")
	_, err := r.Get(context.Background(), "warehouse")
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("err = %v, want password authentication failed", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `connection "warehouse" (secret `+secretARN+")") || strings.Contains(msg+logs.String(), "S3cret") {
		t.Fatalf("err %q does not name the connection and secret, or shows a password", msg)
	}
	if conn.IsPermanent(err) {
		t.Fatalf("a rejected password is marked permanent (the secret may be updated): %v", err)
	}
	if n := fake.callsFor(secretARN); n != 2 {
		t.Fatalf("GetSecretValue called %d times, want 2: one refetch, then give up", n)
	}

	// The rotation finishes: the next attempt fetches the secret (it forgot the rejected value).
	fake.setString(secretARN, roleURI(t, role, newPW, db))
	x, err := r.Get(context.Background(), "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := whoAmI(t, x); u != role {
		t.Fatalf("connected as %s", u)
	}
	if n := fake.callsFor(secretARN); n != 3 {
		t.Fatalf("GetSecretValue called %d times, want 3", n)
	}
}

func TestGet_WrongPasswordInAFreshSecretIsNotFetchedTwiceInARow(t *testing.T) {
	const pw, wrong = "Right-S3cret-5", "Wrong-S3cret-6"
	db := dbName(t, acctest.NewPostgresDatabase(t))
	role := newRole(t, pw)
	fake := startFakeSecrets(t)
	fake.setString(secretARN, roleURI(t, role, wrong, db))
	r, err := conn.NewResolver(map[string]string{"warehouse": secretARN}, conn.Options{AWS: fake.aws()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Get(context.Background(), "warehouse")
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") || strings.Contains(err.Error(), "S3cret") {
		t.Fatalf("err = %v", err)
	}
	if n := fake.callsFor(secretARN); n != 1 {
		t.Fatalf("GetSecretValue called %d times, want 1: a value fetched moments ago is not fetched again at once", n)
	}
	fake.setString(secretARN, roleURI(t, role, pw, db))
	if _, err := r.Get(context.Background(), "warehouse"); err != nil {
		t.Fatalf("the next attempt did not fetch the corrected secret: %v", err)
	}
	if n := fake.callsFor(secretARN); n != 2 {
		t.Fatalf("GetSecretValue called %d times, want 2", n)
	}
}

func TestGet_UnusableSecretsArePermanentErrorsNamingTheARN(t *testing.T) {
	const pw = "Hunter2-S3cret"
	for _, tc := range []struct {
		name  string
		setup func(f *fakeSecrets)
		want  string
	}{
		{"missing secret", func(*fakeSecrets) {}, "returned ResourceNotFoundException: Secrets Manager can't find the specified secret."},
		{"access denied", func(f *fakeSecrets) { f.setString(secretARN, "x"); f.setError(secretARN, "AccessDeniedException") }, "returned AccessDeniedException: the fake was told to refuse this secret"},
		{"cannot decrypt", func(f *fakeSecrets) { f.setString(secretARN, "x"); f.setError(secretARN, "DecryptionFailure") }, "returned DecryptionFailure: the fake was told"},
		{"binary only", func(f *fakeSecrets) { f.setBinary(secretARN, []byte("postgres://u:"+pw+"@h/db")) }, "the secret has no SecretString (a SecretBinary secret cannot be used)"},
		{"JSON without password", func(f *fakeSecrets) {
			f.setString(secretARN, `{"engine":"postgres","host":"127.0.0.1","port":5432,"username":"u"}`)
		}, `the secret's JSON has no "password" field`},
		{"JSON without host", func(f *fakeSecrets) {
			f.setString(secretARN, `{"engine":"postgres","username":"u","password":"`+pw+`"}`)
		}, `the secret's JSON has no "host" field`},
		{"JSON without username", func(f *fakeSecrets) {
			f.setString(secretARN, `{"engine":"redshift","host":"h","password":"`+pw+`"}`)
		}, `the secret's JSON has no "username" field`},
		{"JSON without engine", func(f *fakeSecrets) {
			f.setString(secretARN, `{"host":"h","username":"u","password":"`+pw+`"}`)
		}, `the secret's JSON has no "engine" field`},
		{"JSON for MySQL", func(f *fakeSecrets) {
			f.setString(secretARN, `{"engine":"mysql","host":"h","username":"u","password":"`+pw+`"}`)
		}, `the secret's JSON has engine "mysql"`},
		{"JSON with a bad port", func(f *fakeSecrets) {
			f.setString(secretARN, `{"engine":"postgres","host":"h","port":"fivefour","username":"u","password":"`+pw+`"}`)
		}, `the secret's JSON "port" "fivefour" is not a port number`},
		{"broken JSON", func(f *fakeSecrets) { f.setString(secretARN, `{"engine":"postgres","password":"`+pw+`",`) }, "the secret's value is not valid JSON"},
		{"a bare password", func(f *fakeSecrets) { f.setString(secretARN, pw) }, "the secret's value is not a connection URI"},
		{"a URI with a bad parameter", func(f *fakeSecrets) {
			f.setString(secretARN, "postgres://u:"+pw+"@h/db?pool_max_conns=9")
		}, `unknown parameter "pool_max_conns"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFakeSecrets(t)
			tc.setup(fake)
			var logs bytes.Buffer
			r, err := conn.NewResolver(map[string]string{"warehouse": secretARN}, conn.Options{AWS: fake.aws(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = r.Get(context.Background(), "warehouse")
			if err == nil {
				t.Fatal("Get succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, `connection "warehouse" (secret `+secretARN+"): ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("err %q does not name the connection and ARN, or lacks %q", msg, tc.want)
			}
			if !errors.Is(err, conn.ErrSecret) || !conn.IsPermanent(err) {
				t.Fatalf("err %q is not ErrSecret / permanent", msg)
			}
			var apiErr smithy.APIError
			if strings.Contains(tc.want, "returned ") && (!errors.As(err, &apiErr) || !strings.Contains(tc.want, "returned "+apiErr.ErrorCode()+":")) {
				t.Fatalf("err %q does not carry the AWS error (errors.As: %v)", msg, apiErr)
			}
			if strings.Contains(msg+logs.String(), "S3cret") {
				t.Fatalf("the password leaked: %q\n%s", msg, logs.String())
			}
			if n := fake.callsFor(secretARN); n != 1 {
				t.Fatalf("GetSecretValue called %d times, want 1 (no SDK retry of a permanent error)", n)
			}
		})
	}
}

func TestGet_SecretWithoutAWSClientIsRetryable(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{"warehouse": secretARN}, conn.Options{AWS: noAWS})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Get(context.Background(), "warehouse")
	if err == nil || !strings.Contains(err.Error(), `connection "warehouse" (secret `+secretARN+"): building the AWS client to call secretsmanager:GetSecretValue: no AWS in this test") {
		t.Fatalf("err = %v", err)
	}
	if conn.IsPermanent(err) {
		t.Fatalf("err %q is marked permanent", err)
	}
}

func TestIsPermanent(t *testing.T) {
	r, err := conn.NewResolver(nil, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Get(context.Background(), "nope")
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{err, true},
		{fmt.Errorf("wrapped: %w", conn.ErrSecret), true},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := conn.IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestGet_PasswordRotatedWhileOpenReachesNewConnections: after a rotation, the pool's new
// database connections log in with the secret's new password once the kept value is older than
// SecretRefresh; with the default refresh, a new connection made at once still uses the kept
// (now refused) password.
func TestGet_PasswordRotatedWhileOpenReachesNewConnections(t *testing.T) {
	db := dbName(t, acctest.NewPostgresDatabase(t))
	role := newRole(t, "Old-S3cret-7")
	fake := startFakeSecrets(t)
	fake.setString(secretARN, roleURI(t, role, "Old-S3cret-7", db))
	var logs bytes.Buffer
	open := func(refresh time.Duration) *redshift.PgxExecutor {
		t.Helper()
		_, x := openWarehouse(t, secretARN, conn.Options{AWS: fake.aws(), SecretRefresh: refresh,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		return x
	}
	quick, slow := open(time.Millisecond), open(0)
	if n := fake.callsFor(secretARN); n != 2 {
		t.Fatalf("GetSecretValue called %d times by two opens, want 2", n)
	}

	setPassword(t, role, "New-S3cret-8", "ALTER ROLE %s PASSWORD %s")
	fake.setString(secretARN, roleURI(t, role, "New-S3cret-8", db))
	time.Sleep(10 * time.Millisecond) // past the quick refresh
	quick.Pool().Reset()              // the pool's next query opens a new database connection
	slow.Pool().Reset()

	if u, d := whoAmI(t, quick); u != role || d != db {
		t.Fatalf("connected as %s to %s", u, d)
	}
	if n := fake.callsFor(secretARN); n != 3 {
		t.Errorf("GetSecretValue called %d times, want 3: one more for the new connection", n)
	}
	var one int
	err := slow.Pool().QueryRow(context.Background(), "SELECT 1").Scan(&one)
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("with the default refresh a new connection at once keeps the old password: err = %v", err)
	}
	if !strings.Contains(logs.String(), "connection secret changed") || strings.Contains(logs.String(), "S3cret") {
		t.Errorf("logs should tell of the new secret without a password:\n%s", logs.String())
	}
}
