package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

func TestResolveEndpoint_Precedence(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		block   map[Service]string
		env     map[string]string
		want    string
		wantSrc EndpointSource
	}{
		{"block wins over both env vars", map[Service]string{Kinesis: "http://block"},
			map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://svc", "AWS_ENDPOINT_URL": "http://global"},
			"http://block", SourceEndpointsBlock},
		{"service env wins over global env", nil,
			map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://svc", "AWS_ENDPOINT_URL": "http://global"},
			"http://svc", SourceServiceEnv},
		{"global env when nothing else", nil, map[string]string{"AWS_ENDPOINT_URL": "http://global"},
			"http://global", SourceGlobalEnv},
		{"another service's env is ignored", nil, map[string]string{"AWS_ENDPOINT_URL_S3": "http://s3"},
			"", SourceSDK},
		{"blank block value falls through", map[Service]string{Kinesis: "  "},
			map[string]string{"AWS_ENDPOINT_URL": "http://global"}, "http://global", SourceGlobalEnv},
		{"nothing set leaves it to the SDK", nil, nil, "", SourceSDK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src := ResolveEndpoint(Kinesis, tt.block, env(tt.env))
			if got != tt.want || src != tt.wantSrc {
				t.Fatalf("got (%q, %q), want (%q, %q)", got, src, tt.want, tt.wantSrc)
			}
		})
	}
}

func TestService_EnvVar(t *testing.T) {
	want := map[Service]string{
		Kinesis: "AWS_ENDPOINT_URL_KINESIS", S3: "AWS_ENDPOINT_URL_S3", EMR: "AWS_ENDPOINT_URL_EMR",
		Redshift: "AWS_ENDPOINT_URL_REDSHIFT", RedshiftData: "AWS_ENDPOINT_URL_REDSHIFT_DATA",
		STS: "AWS_ENDPOINT_URL_STS", SNS: "AWS_ENDPOINT_URL_SNS", SQS: "AWS_ENDPOINT_URL_SQS",
	}
	if len(want) != len(Services()) {
		t.Fatalf("test covers %d services, Services() has %d", len(want), len(Services()))
	}
	for _, s := range Services() {
		if got := s.EnvVar(); got != want[s] {
			t.Errorf("%s.EnvVar() = %q, want %q", s, got, want[s])
		}
	}
}

func TestValidateEndpoint(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:4568", "https://kinesis.eu-west-1.amazonaws.com"} {
		if err := ValidateEndpoint(ok); err != nil {
			t.Errorf("ValidateEndpoint(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"127.0.0.1:4568", "ftp://x", "http://", "::"} {
		if err := ValidateEndpoint(bad); err == nil {
			t.Errorf("ValidateEndpoint(%q): want error", bad)
		}
	}
}

// recorder is an HTTP server that remembers it was called; four of them stand for the four
// places an endpoint can come from, and the one that receives the Kinesis call proves the order.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		r.hits++
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"StreamNames":[],"HasMoreStreams":false}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return r.hits }

// TestClient_EndpointPrecedenceThroughSDK sends a real Kinesis request and checks which of four
// servers receives it as the higher-precedence settings are removed one by one, ending with the
// shared config file's `services` section.
func TestClient_EndpointPrecedenceThroughSDK(t *testing.T) {
	block, svcEnv, globalEnv, shared := newRecorder(t), newRecorder(t), newRecorder(t), newRecorder(t)

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	body := strings.Join([]string{
		"[profile sluice-test]",
		"region = eu-west-1",
		"services = local",
		"[services local]",
		"kinesis =",
		"  endpoint_url = " + shared.srv.URL,
		"",
	}, "\n")
	if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", svcEnv.srv.URL)
	t.Setenv("AWS_ENDPOINT_URL", globalEnv.srv.URL)

	call := func(endpoints map[Service]string) {
		t.Helper()
		c, err := New(context.Background(), Settings{
			Profile: "sluice-test", AccessKey: "test", SecretKey: "test",
			Endpoints: endpoints, SkipCredentialsValidation: true, MaxRetries: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Kinesis().ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
	}
	expect := func(step string, want *recorder) {
		t.Helper()
		for name, r := range map[string]*recorder{"block": block, "service env": svcEnv, "global env": globalEnv, "shared config": shared} {
			n := r.count()
			if r == want && n != 1 {
				t.Fatalf("%s: %s server got %d calls, want 1", step, name, n)
			}
			if r != want && n != 0 {
				t.Fatalf("%s: %s server got %d calls, want 0", step, name, n)
			}
		}
		want.mu.Lock()
		want.hits = 0
		want.mu.Unlock()
	}

	call(map[Service]string{Kinesis: block.srv.URL})
	expect("endpoints block set", block)

	call(nil)
	expect("AWS_ENDPOINT_URL_KINESIS set", svcEnv)

	t.Setenv("AWS_ENDPOINT_URL_KINESIS", "")
	call(nil)
	expect("only AWS_ENDPOINT_URL set", globalEnv)

	t.Setenv("AWS_ENDPOINT_URL", "")
	call(nil)
	expect("only shared config set", shared)
}

func TestNew_Errors(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Settings{Region: "us-east-1", AccessKey: "a"}); err == nil || !strings.Contains(err.Error(), "access_key and secret_key") {
		t.Fatalf("half static credentials: got %v", err)
	}
	_, err := New(ctx, Settings{Region: "us-east-1", AccessKey: "a", SecretKey: "b", Endpoints: map[Service]string{S3: "localhost:9000"}})
	if err == nil || !strings.Contains(err.Error(), "s3 endpoint") {
		t.Fatalf("bad endpoint: got %v", err)
	}
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	_, err = New(ctx, Settings{AccessKey: "a", SecretKey: "b"})
	if err == nil || !strings.Contains(err.Error(), "no AWS region") {
		t.Fatalf("no region: got %v", err)
	}
}

func TestClient_ValidateSkipped(t *testing.T) {
	c, err := New(context.Background(), Settings{Region: "us-east-1", AccessKey: "a", SecretKey: "b", SkipCredentialsValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	if acct, err := c.Validate(context.Background()); err != nil || acct != "" {
		t.Fatalf("Validate with skip = (%q, %v)", acct, err)
	}
}
