package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// kinesis-local cannot be made to throttle on demand, so this one behaviour is checked against a
// server that only ever answers LimitExceededException. limitServer answers every call with a LimitExceededException carrying msg, and counts calls.
func limitServer(t *testing.T, msg string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"LimitExceededException","message":"` + msg + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRetry_RateLimitIsRetriedQuotaIsNot(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		wantCalls int64
	}{
		{"rate limit: retried up to max_retries", "Rate exceeded for stream s under account 000000000000.", 3},
		{"shard quota: not retried", "Request would exceed the shard limit of 50", 1},
		{"scaling quota: not retried", "Exceeded the number of allowed scaling operations for the stream", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := limitServer(t, tt.msg)
			c, err := New(context.Background(), Settings{
				Region: "us-east-1", AccessKey: "a", SecretKey: "b", MaxRetries: 2,
				Endpoints: map[Service]string{Kinesis: srv.URL},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Kinesis().ListStreams(context.Background(), &kinesis.ListStreamsInput{})
			if err == nil || !strings.Contains(err.Error(), "LimitExceededException") {
				t.Fatalf("want LimitExceededException, got %v", err)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Fatalf("server got %d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}
