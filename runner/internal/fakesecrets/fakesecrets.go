// Package fakesecrets is TEST-ONLY: a stand-in for AWS Secrets Manager. No Secrets Manager
// emulator is among the project's local stand-ins, so, as runner/internal/fakeemr does for EMR, this HTTP server on
// 127.0.0.1 speaks the service's JSON 1.1 protocol for the one call the runner makes,
// GetSecretValue. The runner reaches it through a real aws-sdk-go-v2 client (awsclient with a
// secretsmanager endpoint override), so requests are signed and serialised by the SDK; the fake
// checks the operation, content type, body and signing scope, and fails the test on anything
// else. It must never be used outside tests. The conn tests and the cli's secret tests share it.
package fakesecrets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

type fakeSecret struct {
	str     *string
	bin     []byte
	errCode string
	version int
}

// Server is the fake.
type Server struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	secrets map[string]*fakeSecret // by ARN
	calls   map[string]int         // GetSecretValue calls by SecretId
}

// URL is the fake's endpoint, for a secretsmanager endpoint override.
func (f *Server) URL() string { return f.srv.URL }

// Start starts the fake on 127.0.0.1 (httptest's default) and stops it when the test
// ends.
func Start(t *testing.T) *Server {
	t.Helper()
	f := &Server{t: t, secrets: map[string]*fakeSecret{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// SetString stores (or rotates) a secret's SecretString: each call is a new version.
func (f *Server) SetString(arn, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secret(arn)
	s.str, s.bin, s.errCode = &v, nil, ""
}

// SetBinary stores a SecretBinary-only secret.
func (f *Server) SetBinary(arn string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secret(arn)
	s.str, s.bin, s.errCode = nil, b, ""
}

// SetError makes GetSecretValue of arn fail with an AWS error code (e.g. AccessDeniedException).
func (f *Server) SetError(arn, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secret(arn).errCode = code
}

func (f *Server) secret(arn string) *fakeSecret {
	s := f.secrets[arn]
	if s == nil {
		s = &fakeSecret{}
		f.secrets[arn] = s
	}
	s.version++
	return s
}

// CallsFor is how many GetSecretValue requests named arn.
func (f *Server) CallsFor(arn string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[arn]
}

// AWS returns a conn.Options.AWS function whose client sends Secrets Manager calls here. The
// runner's own region is us-east-1; secrets in other regions must still be asked for in theirs.
func (f *Server) AWS() func(context.Context) (*awsclient.Client, error) {
	return func(ctx context.Context) (*awsclient.Client, error) {
		return awsclient.New(ctx, awsclient.Settings{
			Region: "us-east-1", AccessKey: "test", SecretKey: "test", SkipCredentialsValidation: true,
			MaxRetries: 1, Endpoints: map[awsclient.Service]string{awsclient.SecretsManager: f.srv.URL},
			Getenv: func(string) string { return "" },
		})
	}
}

func (f *Server) fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": fmt.Sprintf(format, args...)})
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	// A request the runner should never send fails the test as well as the call.
	bad := func(format string, args ...any) {
		f.t.Errorf("fake Secrets Manager: "+format, args...)
		f.fail(w, http.StatusBadRequest, "ValidationException", format, args...)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		bad("unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
		bad("X-Amz-Target %q: the fake only serves secretsmanager.GetSecretValue", got)
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		bad("Content-Type %q, want application/x-amz-json-1.1", got)
		return
	}
	var in struct {
		SecretID     string  `json:"SecretId"`
		VersionID    *string `json:"VersionId"`
		VersionStage *string `json:"VersionStage"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		bad("request body: %v", err)
		return
	}
	if in.SecretID == "" || in.VersionID != nil || in.VersionStage != nil {
		bad("want a SecretId and no VersionId/VersionStage (the current version), got %+v", in)
		return
	}
	// The secret's own region signs the request: arn:PARTITION:secretsmanager:REGION:….
	if parts := strings.Split(in.SecretID, ":"); len(parts) > 3 {
		scope := "/" + parts[3] + "/secretsmanager/aws4_request"
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, scope) {
			bad("Authorization %q is not signed for %s", auth, scope)
			return
		}
	}

	f.mu.Lock()
	f.calls[in.SecretID]++
	s := f.secrets[in.SecretID]
	var snap fakeSecret
	if s != nil {
		snap = *s
	}
	f.mu.Unlock()
	switch {
	case s == nil:
		f.fail(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	case snap.errCode != "":
		f.fail(w, http.StatusBadRequest, snap.errCode, "the fake was told to refuse this secret")
		return
	}
	out := map[string]any{
		"ARN": in.SecretID, "Name": in.SecretID[strings.LastIndex(in.SecretID, ":")+1:],
		"VersionId":     fmt.Sprintf("00000000-0000-0000-0000-%012d", snap.version),
		"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.7e9,
	}
	if snap.str != nil {
		out["SecretString"] = *snap.str
	}
	if snap.bin != nil {
		out["SecretBinary"] = snap.bin // encoding/json writes []byte as base64, as the protocol does
	}
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(out); err != nil {
		bad("encoding the response: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(body.Bytes())
}
