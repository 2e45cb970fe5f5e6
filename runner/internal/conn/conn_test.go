package conn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

func TestFromEnviron_MapsPrefixedVariablesToLowerCaseNames(t *testing.T) {
	got := conn.FromEnviron([]string{
		"SLUICE_CONN_WAREHOUSE=postgres://a@h/db?x=1=2",
		"SLUICE_CONN_Replica_2=redshift://h/db",
		"SLUICE_CONN_=postgres://ignored",
		"SLUICE_CONN_EMPTY=",
		"SLUICE_CONNX=postgres://ignored",
		"PATH=/bin",
		"garbage",
	})
	want := map[string]string{
		"warehouse": "postgres://a@h/db?x=1=2",
		"replica_2": "redshift://h/db",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("FromEnviron = %v, want %v", got, want)
	}
}

func TestEnvVar_UpperCasesTheName(t *testing.T) {
	if got := conn.EnvVar("warehouse"); got != "SLUICE_CONN_WAREHOUSE" {
		t.Fatalf("EnvVar = %q", got)
	}
}

func TestRedact_HidesPasswords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://etl:s3cret@db.example.com:5432/dw?sslmode=require", "postgres://etl:xxxxx@db.example.com:5432/dw?sslmode=require"},
		{"redshift://etl:p%40ss@c.example.com/dev", "redshift://etl:xxxxx@c.example.com/dev"},
		{"postgres://etl@h/db?password=s3cret&sslmode=disable", "postgres://etl@h/db?password=xxxxx&sslmode=disable"},
		{"redshift://h:5439/dev?iam=true&db_user=etl", "redshift://h:5439/dev?iam=true&db_user=etl"},
		{"postgres://etl:s3cret@h:notaport/db", "postgres://xxxxx@h:notaport/db"},
		{"host=h password=s3cret", "(not a URI: withheld)"},
		{"etl:s3cret@h/db", "(not a URI: withheld)"},
	} {
		if got := conn.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewResolver_RejectsBadURIsWithoutTheirPassword(t *testing.T) {
	const pw = "Hunter2SECRET"
	for _, tc := range []struct{ uri, want string }{
		{"", "the URI is empty"},
		{"oracle://u:" + pw + "@h/db", `unsupported scheme "oracle"`},
		{"mysql://u:" + pw + "@h", "no database"},
		{"mysql://u:" + pw + "@h/db?sslmode=require", `unknown parameter "sslmode"`},
		{"u:" + pw + "@h/db", "not a URI"},
		{"postgres://u:" + pw + "@h:port/db", "not a valid URI"},
		{"h/db", "not a URI"},
		{"postgres://u:" + pw + "@h:99999999/db", "invalid connection settings"},
		{"postgres://u:" + pw + "@h/db?sslmode=sometimes", `sslmode "sometimes" is not one of`},
		{"postgres://u:" + pw + "@h/db?pool_max_conns=9", `unknown parameter "pool_max_conns" in a postgres:// URI`},
		{"postgresql://u:" + pw + "@h/db?sslmode=require&sslmode=disable", `parameter "sslmode" is given 2 times`},
		{"redshift://u:" + pw + "@/dev", "needs a host"},
		{"redshift://u:" + pw + "@h:0/dev", `port "0" is not a port number`},
		{"redshift://u:" + pw + "@h", "names one database as its path"},
		{"redshift://u:" + pw + "@h/dev/extra", "names one database as its path"},
		{"redshift://u:" + pw + "@h/dev?tcp_keepalive=true", `unknown parameter "tcp_keepalive" in a redshift:// URI`},
		{"redshift://h/dev", "needs a user"},
		{"redshift://u:" + pw + "@h/dev?db_user=etl", `parameter "db_user" only applies to IAM logins`},
		{"redshift://u:" + pw + "@h/dev?iam=yes", `iam="yes": use iam=true or iam=false`},
		{"redshift://u:" + pw + "@h/dev?iam=true&cluster_identifier=c&db_user=etl", "remove user:password@"},
		{"redshift://h/dev?iam=true&db_user=etl", "needs cluster_identifier and db_user"},
		{"redshift://h/dev?iam=true&cluster_identifier=c&db_user=etl&auto_create=maybe", `auto_create="maybe"`},
		{"redshift://h/dev?iam=true&cluster_identifier=c&db_user=etl&db_groups=a,,b", "empty group name"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			_, err := conn.NewResolver(map[string]string{"warehouse": tc.uri}, conn.Options{AWS: noAWS})
			if err == nil {
				t.Fatal("NewResolver accepted the URI")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, `connection "warehouse"`) {
				t.Fatalf("error %q does not contain %q and the connection name", msg, tc.want)
			}
			if strings.Contains(msg, pw) {
				t.Fatalf("error contains the password: %q", msg)
			}
		})
	}
}

func TestNewResolver_RejectsBadNamesAndCaseDuplicates(t *testing.T) {
	_, err := conn.NewResolver(map[string]string{"9lives": "postgres://h/db"}, conn.Options{})
	if err == nil || !strings.Contains(err.Error(), `connection "9lives": a name is a letter`) {
		t.Fatalf("err = %v", err)
	}
	_, err = conn.NewResolver(map[string]string{"Warehouse": "postgres://h/a", "warehouse": "postgres://h/b"}, conn.Options{})
	if err == nil || !strings.Contains(err.Error(), `connection "warehouse" is defined twice`) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewResolver_IAMWithoutAWSIsAClearError(t *testing.T) {
	_, err := conn.NewResolver(map[string]string{"wh": "redshift://h/dev?iam=true&cluster_identifier=c&db_user=etl"}, conn.Options{})
	if err == nil || !strings.Contains(err.Error(), "no AWS configuration") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewResolver_AcceptsEveryDocumentedForm(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{
		"pg":    "postgres://u:p@h:5432/db?sslmode=disable&application_name=sluice",
		"pgql":  "postgresql://u@h/db?search_path=etl",
		"rs":    "redshift://u:p@c.example.com/dev",
		"rsiam": "redshift://c.example.com:5439/dev?iam=true&cluster_identifier=c&db_user=etl&auto_create=true&db_groups=a,b",
		"Upper": "postgres://h/db",
	}, conn.Options{AWS: noAWS})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "pg,pgql,rs,rsiam,upper" {
		t.Fatalf("Names = %s", got)
	}
}

func noAWS(context.Context) (*awsclient.Client, error) {
	return nil, errors.New("no AWS in this test")
}

func TestGet_UnknownConnectionListsNamesAndEnvVar(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{"warehouse": "postgres://h/db", "lake": "postgres://h/db"}, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Get(context.Background(), "replica")
	if !errors.Is(err, conn.ErrUnknownConnection) {
		t.Fatalf("err = %v, want ErrUnknownConnection", err)
	}
	want := `unknown connection "replica" (configured: lake, warehouse); set SLUICE_CONN_REPLICA=<uri>`
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
	empty, err := conn.NewResolver(nil, conn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Get(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "none are configured") {
		t.Fatalf("err = %v", err)
	}
}

func TestGet_PostgresOpensOnceForConcurrentCallers(t *testing.T) {
	dbURL := acctest.NewPostgresDatabase(t)
	var logs bytes.Buffer
	r, err := conn.NewResolver(map[string]string{"warehouse": dbURL}, conn.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	const n = 8
	got := make([]*redshift.PgxExecutor, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = r.Get(ctx, "Warehouse") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("Get %d returned a different executor", i)
		}
	}
	rows, err := got[0].Query(ctx, "SELECT current_database()")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(mustParse(t, dbURL).Path, "/"); rows[0][0].String != want {
		t.Fatalf("connected to %q, want %q", rows[0][0].String, want)
	}
	if c := strings.Count(logs.String(), "connection opened"); c != 1 {
		t.Fatalf("logged %d opens, want 1:\n%s", c, logs.String())
	}
	pw, _ := mustParse(t, dbURL).User.Password()
	if strings.Contains(logs.String(), pw) || !strings.Contains(logs.String(), "xxxxx") {
		t.Fatalf("log does not redact the password:\n%s", logs.String())
	}

	r.Close()
	if _, err := r.Get(ctx, "warehouse"); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("Get after Close: err = %v", err)
	}
}

func TestGet_RedshiftPasswordLoginConnects(t *testing.T) {
	u := mustParse(t, acctest.NewPostgresDatabase(t))
	pw, _ := u.User.Password()
	rs := fmt.Sprintf("redshift://%s:%s@%s%s?sslmode=disable", u.User.Username(), url.PathEscape(pw), u.Host, u.Path)
	_, x := openWarehouse(t, rs, conn.Options{})
	if x.Dialect() != redshift.PostgreSQL {
		t.Fatalf("dialect = %v", x.Dialect())
	}
}

func TestGet_WrongPasswordFailsWithoutEchoingIt(t *testing.T) {
	u := mustParse(t, acctest.NewPostgresDatabase(t))
	const wrong = "NotThePassword42"
	u.User = url.UserPassword(u.User.Username(), wrong)
	var logs bytes.Buffer
	r, err := conn.NewResolver(map[string]string{"warehouse": u.String()}, conn.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Get(context.Background(), "warehouse")
	if err == nil {
		t.Fatal("Get succeeded with a wrong password")
	}
	if !strings.Contains(err.Error(), `connection "warehouse"`) || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("err = %q", err)
	}
	if strings.Contains(err.Error()+logs.String(), wrong) {
		t.Fatalf("password leaked: %q\n%s", err, logs.String())
	}
	// A failed open is not cached.
	if _, err2 := r.Get(context.Background(), "warehouse"); err2 == nil {
		t.Fatal("second Get succeeded")
	}
}

func TestGet_RedshiftIAMLoginUsesGetClusterCredentials(t *testing.T) {
	pg := acctest.SharedPostgres(t)
	u := mustParse(t, acctest.NewPostgresDatabase(t))
	db := strings.TrimPrefix(u.Path, "/")
	fake, err := acctest.StartFakeRedshift(pg.User, pg.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	aws := func(ctx context.Context) (*awsclient.Client, error) {
		return awsclient.New(ctx, awsclient.Settings{
			Region: "us-east-1", AccessKey: "test", SecretKey: "test", SkipCredentialsValidation: true,
			MaxRetries: 1, Endpoints: map[awsclient.Service]string{awsclient.Redshift: fake.URL},
			Getenv: func(string) string { return "" },
		})
	}
	uri := fmt.Sprintf("redshift://%s/%s?iam=true&cluster_identifier=analytics&db_user=etl_iam&auto_create=true&db_groups=loaders,readers&sslmode=disable", u.Host, db)
	var logs bytes.Buffer
	secrets := redact.New()
	_, x := openWarehouse(t, uri, conn.Options{AWS: aws, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Secrets: secrets})
	rows, err := x.Query(context.Background(), "SELECT current_user")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0].String != pg.User {
		t.Fatalf("logged in as %q, want %q (the fake's credentials)", rows[0][0].String, pg.User)
	}
	calls := fake.Calls()
	if len(calls) == 0 {
		t.Fatal("GetClusterCredentials was never called")
	}
	want := map[string]string{
		"ClusterIdentifier": "analytics", "DbUser": "etl_iam", "DbName": db, "AutoCreate": "true",
		"DbGroups.DbGroup.1": "loaders", "DbGroups.DbGroup.2": "readers",
	}
	for k, v := range want {
		if got := calls[0].Get(k); got != v {
			t.Errorf("GetClusterCredentials %s = %q, want %q", k, got, v)
		}
	}
	if strings.Contains(logs.String(), pg.Password) {
		t.Fatalf("log contains the temporary password:\n%s", logs.String())
	}
	// The temporary password is registered for scrubbing as soon as it is handed to the driver.
	if got := secrets.Scrub("pw " + pg.Password); strings.Contains(got, pg.Password) {
		t.Errorf("the temporary password is not registered: %q", got)
	}
}

func TestGet_IAMLoginReportsAWSClientErrors(t *testing.T) {
	r, err := conn.NewResolver(map[string]string{"wh": "redshift://127.0.0.1:1/dev?iam=true&cluster_identifier=c&db_user=etl"}, conn.Options{AWS: noAWS})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Get(context.Background(), "wh")
	if err == nil || !strings.Contains(err.Error(), `connection "wh"`) || !strings.Contains(err.Error(), "no AWS in this test") {
		t.Fatalf("err = %v", err)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// openWarehouse resolves the one connection "warehouse" given by value and opens it; the
// resolver is closed when the test ends.
func openWarehouse(t *testing.T, value string, opts conn.Options) (*conn.Resolver, *redshift.PgxExecutor) {
	t.Helper()
	r, err := conn.NewResolver(map[string]string{"warehouse": value}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	x, err := r.Get(context.Background(), "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	return r, x
}
