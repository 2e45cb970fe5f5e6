package acctest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

// S3 is an in-process S3 stand-in (gofakes3 with an in-memory backend) served on 127.0.0.1.
// Clients must use path-style addressing, which awsclient does whenever an S3 endpoint override
// is set.
type S3 struct {
	// Endpoint is the plain-HTTP URL, e.g. http://127.0.0.1:41234, for the provider's
	// `endpoints { s3 = ... }` or awsclient.Settings.Endpoints.
	Endpoint string

	backend *s3mem.Backend
	srv     *http.Server
	done    chan struct{}
	seq     atomic.Int64
}

// StartS3 serves a fresh, empty S3 stand-in on a free 127.0.0.1 port. Stop it with Stop.
func StartS3(_ context.Context) (*S3, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the S3 stand-in: %w", err)
	}
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	x := &S3{
		Endpoint: "http://" + l.Addr().String(),
		backend:  backend,
		srv:      &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan struct{}),
	}
	go func() {
		defer close(x.done)
		_ = x.srv.Serve(l) // http.ErrServerClosed after Stop
	}()
	return x, nil
}

// CreateBucket creates a bucket; creating one that exists is an error.
func (x *S3) CreateBucket(name string) error {
	if err := x.backend.CreateBucket(name); err != nil {
		return fmt.Errorf("creating bucket %q on the S3 stand-in: %w", name, err)
	}
	return nil
}

// NewBucket creates a bucket with a name no other test of this process uses and returns it.
func (x *S3) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("acc-%d-%d", os.Getpid(), x.seq.Add(1))
	if err := x.CreateBucket(name); err != nil {
		t.Fatalf("acctest: %v", err)
	}
	return name
}

// Settings returns awsclient settings pointing at this stand-in with dummy credentials.
func (x *S3) Settings() awsclient.Settings {
	return awsclient.Settings{
		Region: Region, AccessKey: "test", SecretKey: "test",
		Endpoints:                 map[awsclient.Service]string{awsclient.S3: x.Endpoint},
		SkipCredentialsValidation: true, MaxRetries: 2,
		Getenv: func(string) string { return "" },
	}
}

// Client returns an S3 client for this stand-in, built by awsclient as the provider builds it.
func (x *S3) Client() (*s3.Client, error) {
	c, err := awsclient.New(context.Background(), x.Settings())
	if err != nil {
		return nil, err
	}
	return c.S3(), nil
}

// Stop closes the server and its connections; the stored objects are dropped.
func (x *S3) Stop() {
	if x == nil || x.srv == nil {
		return
	}
	_ = x.srv.Close()
	<-x.done
	x.srv = nil
}

var (
	sharedS3Once sync.Once
	sharedS3     *S3
	sharedS3Err  error
)

// S3 returns the package's S3 stand-in, starting it on first use. It runs in-process and ends
// with the test binary. Give each test its own bucket with NewBucket.
func (s *Stack) S3(t testing.TB) *S3 {
	t.Helper()
	sharedS3Once.Do(func() { sharedS3, sharedS3Err = StartS3(context.Background()) })
	if sharedS3Err != nil {
		t.Fatalf("acctest: %v", sharedS3Err)
	}
	return sharedS3
}

// ProviderConfigS3 is ProviderConfig with the endpoints block also pointing s3 at the package's
// S3 stand-in, e.g.
//
//	bucket := stack.S3(t).NewBucket(t)
//	cfg := stack.ProviderConfigS3(t, fmt.Sprintf(`  registry = "s3://%s/sluice"`, bucket))
func (s *Stack) ProviderConfigS3(t testing.TB, extra ...string) string {
	t.Helper()
	x := s.S3(t)
	return fmt.Sprintf(`
provider "sluice" {
  region                      = %q
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  max_retries                 = 2

  endpoints {
    kinesis = %q
    s3      = %q
  }
%s
}
`, Region, s.Kinesis.Endpoint, x.Endpoint, strings.Join(extra, "\n"))
}
