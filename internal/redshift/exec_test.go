package redshift

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRetryable(t *testing.T) {
	tests := map[string]bool{
		"40001": true,  // serialization failure: Redshift's concurrent-transaction conflict
		"40P01": true,  // deadlock
		"53300": true,  // too many connections
		"57P01": true,  // admin shutdown (failover, maintenance)
		"42P06": false, // duplicate schema: retrying cannot help
		"2BP01": false, // dependent objects
		"28P01": false, // bad password
	}
	for code, want := range tests {
		if got := retryable(&StatementError{SQL: "x", Err: &pgconn.PgError{Code: code}}); got != want {
			t.Errorf("retryable(%s) = %v, want %v", code, got, want)
		}
	}
}

func TestWithRetry_RetriesTransientErrorsOnly(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := withRetry(ctx, func() error {
		calls++
		if calls < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("transient: err=%v calls=%d, want nil after 3", err, calls)
	}
	calls = 0
	permanent := &pgconn.PgError{Code: "42P06"}
	if err := withRetry(ctx, func() error { calls++; return permanent }); !errors.Is(err, permanent) || calls != 1 {
		t.Fatalf("permanent: err=%v calls=%d, want the error after 1", err, calls)
	}
	calls = 0
	if err := withRetry(ctx, func() error { calls++; return &pgconn.PgError{Code: "40001"} }); err == nil || calls != maxAttempts {
		t.Fatalf("always transient: err=%v calls=%d, want an error after %d", err, calls, maxAttempts)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := withRetry(short, func() error { return &pgconn.PgError{Code: "40001"} }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled: %v", err)
	}
}
