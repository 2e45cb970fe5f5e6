package acctest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/sluice-data/terraform-provider-sluice/internal/provider"
)

// ProtoV6ProviderFactories serves the provider in-process to the Terraform binary under test.
var ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"sluice": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// Stack is the set of local stand-ins one test package runs against. kinesis-local starts with
// the package; PostgreSQL starts on the first test that needs it.
type Stack struct {
	Kinesis *Kinesis

	pgOnce sync.Once
	pg     *Postgres
	pgErr  error
	dbSeq  atomic.Int64
}

// Postgres returns the package's PostgreSQL server, starting it on first use.
func (s *Stack) Postgres(t testing.TB) *Postgres {
	t.Helper()
	s.pgOnce.Do(func() { s.pg, s.pgErr = StartPostgres(context.Background()) })
	if s.pgErr != nil {
		t.Fatalf("acctest: %v", s.pgErr)
	}
	return s.pg
}

// NewDatabase creates a fresh database on the package's PostgreSQL, so each test starts from an
// empty catalog, and returns its name.
func (s *Stack) NewDatabase(t testing.TB) string {
	t.Helper()
	pg := s.Postgres(t)
	name := fmt.Sprintf("acc_%d_%d", os.Getpid(), s.dbSeq.Add(1))
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatalf("acctest: %v", err)
	}
	return name
}

// RedshiftBlock is a provider redshift block for one database of the package's PostgreSQL.
func (s *Stack) RedshiftBlock(t testing.TB, database string) string {
	t.Helper()
	pg := s.Postgres(t)
	return fmt.Sprintf(`  redshift {
    host     = %q
    port     = %d
    database = %q
    username = %q
    password = %q
    sslmode  = "disable"
  }`, pg.Host, pg.Port, database, pg.User, pg.Password)
}

var current *Stack

// Current returns the running stack. Without TF_ACC it skips the test, exactly as resource.Test
// does for every acceptance test (`make test` sets TF_ACC=1); with TF_ACC set and no stack it
// fails.
func Current(t testing.TB) *Stack {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: runs with TF_ACC=1, as `make test` sets it")
	}
	if current == nil {
		t.Fatal("acctest: no local stack; acceptance tests run with TF_ACC=1 through `make test` (run `make tools` first)")
	}
	return current
}

// Main is the TestMain of a package with acceptance tests. With TF_ACC set it points
// terraform-plugin-testing at the Terraform binary from `make tools`, starts kinesis-local, runs
// the tests and stops it. A missing tool fails the run with a message naming `make tools`.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("TF_ACC") == "" {
		return m.Run()
	}
	tf, err := TerraformPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	_ = os.Setenv("TF_ACC_TERRAFORM_PATH", tf)
	_ = os.Setenv("CHECKPOINT_DISABLE", "1")
	// An empty CLI config: the developer's ~/.terraformrc (dev_overrides, mirrors) must not
	// change what the tests run, and its absence must not print warnings into every error.
	cli, err := os.CreateTemp("", "sluice-acc-*.tfrc")
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	_ = cli.Close()
	defer os.Remove(cli.Name())
	_ = os.Setenv("TF_CLI_CONFIG_FILE", cli.Name())
	k, err := StartKinesis(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	defer k.Stop()
	current = &Stack{Kinesis: k}
	defer func() {
		if current.pg != nil {
			current.pg.Stop()
		}
	}()
	return m.Run()
}

// ProviderConfig returns a provider block pointing at the local stack. extra is inserted into the
// block verbatim, e.g. a default_tags block.
func (s *Stack) ProviderConfig(extra ...string) string {
	return fmt.Sprintf(`
provider "sluice" {
  region                      = %q
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  max_retries                 = 2

  endpoints {
    kinesis = %q
  }
%s
}
`, Region, s.Kinesis.Endpoint, strings.Join(extra, "\n"))
}
