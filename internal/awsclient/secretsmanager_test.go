package awsclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestRunnerServices_AreServicesPlusSecretsManager(t *testing.T) {
	want := append(Services(), SecretsManager)
	if got := RunnerServices(); !slices.Equal(got, want) {
		t.Fatalf("RunnerServices = %v, want %v", got, want)
	}
	// The provider's endpoints block is built from Services: the runner-only service stays out.
	if slices.Contains(Services(), SecretsManager) || slices.Contains(ServiceNames(), "secretsmanager") {
		t.Fatal("Services lists secretsmanager; the provider's endpoints block must not change")
	}
}

func TestRunnerServiceNames_SortedAndIncludeSecretsManager(t *testing.T) {
	want := []string{"emr", "kinesis", "redshift", "redshift_data", "s3", "secretsmanager", "sns", "sqs", "sts"}
	if got := RunnerServiceNames(); !slices.Equal(got, want) {
		t.Fatalf("RunnerServiceNames = %v, want %v", got, want)
	}
	if got := ServiceNames(); !slices.Equal(got, slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "secretsmanager" })) {
		t.Fatalf("ServiceNames changed: %v", got)
	}
}

func TestSecretsManager_EnvVarFollowsTheSDKServiceID(t *testing.T) {
	if got := SecretsManager.EnvVar(); got != "AWS_ENDPOINT_URL_SECRETS_MANAGER" {
		t.Fatalf("EnvVar = %q", got)
	}
}

// secretsRecorder answers GetSecretValue and remembers the SecretIds it was asked for.
type secretsRecorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids []string
}

func newSecretsRecorder(t *testing.T) *secretsRecorder {
	t.Helper()
	r := &secretsRecorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var in struct {
			SecretID string `json:"SecretId"`
		}
		if req.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.NewDecoder(req.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.ids = append(r.ids, in.SecretID)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"ARN": in.SecretID, "Name": "n", "SecretString": "v"})
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *secretsRecorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

func TestSecretsManager_EndpointOverrideFromSettingsAndEnvironment(t *testing.T) {
	block, env := newSecretsRecorder(t), newSecretsRecorder(t)
	for _, tc := range []struct {
		name      string
		endpoints map[Service]string
		env       map[string]string
		want      *secretsRecorder
	}{
		{"endpoints setting", map[Service]string{SecretsManager: block.srv.URL}, map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": env.srv.URL}, block},
		{"service environment variable", nil, map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": env.srv.URL}, env},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(context.Background(), Settings{
				Region: "us-east-1", AccessKey: "a", SecretKey: "b", Endpoints: tc.endpoints, MaxRetries: 1,
				Getenv: func(k string) string { return tc.env[k] },
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Endpoint(SecretsManager); got != tc.want.srv.URL {
				t.Fatalf("Endpoint(secretsmanager) = %q, want %q", got, tc.want.srv.URL)
			}
			before := len(tc.want.calls())
			id := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + t.Name()
			out, err := c.SecretsManager().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.SecretString) != "v" {
				t.Fatalf("SecretString = %q", aws.ToString(out.SecretString))
			}
			calls := tc.want.calls()
			if len(calls) != before+1 || calls[len(calls)-1] != id {
				t.Fatalf("server calls = %v, want one more for %s", calls, id)
			}
		})
	}
	if n := len(env.calls()); n != 1 {
		t.Fatalf("environment server got %d calls, want 1 (the endpoints setting must win)", n)
	}
}

func TestSecretsManager_NoOverrideLeavesTheSDKEndpoint(t *testing.T) {
	c, err := New(context.Background(), Settings{Region: "us-east-1", AccessKey: "a", SecretKey: "b", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if ep := c.SecretsManager().Options().BaseEndpoint; ep != nil {
		t.Fatalf("BaseEndpoint = %q, want none", *ep)
	}
}
