package redshift

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsredshift "github.com/aws/aws-sdk-go-v2/service/redshift"
)

// countingCreds is the GetClusterCredentials answer for the caching test; the clock, not the
// network, is what this test is about.
type countingCreds struct {
	calls   int
	expires time.Time
	err     error
}

func (c *countingCreds) GetClusterCredentials(_ context.Context, in *awsredshift.GetClusterCredentialsInput, _ ...func(*awsredshift.Options)) (*awsredshift.GetClusterCredentialsOutput, error) {
	c.calls++
	if c.err != nil {
		return nil, c.err
	}
	return &awsredshift.GetClusterCredentialsOutput{DbUser: aws.String("IAM:" + aws.ToString(in.DbUser)), DbPassword: aws.String("pw"), Expiration: &c.expires}, nil
}

func TestIAMAuth_CachesUntilShortlyBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	api := &countingCreds{expires: now.Add(15 * time.Minute)}
	a := &IAMAuth{API: api, ClusterIdentifier: "c", DBUser: "etl", Now: func() time.Time { return now }}
	ctx := context.Background()
	for range 3 {
		u, p, err := a.Credentials(ctx)
		if err != nil || u != "IAM:etl" || p != "pw" {
			t.Fatalf("Credentials = %q, %q, %v", u, p, err)
		}
	}
	if api.calls != 1 {
		t.Fatalf("%d calls for three logins within validity, want 1", api.calls)
	}
	now = now.Add(14*time.Minute + 30*time.Second) // inside the one-minute margin
	if _, _, err := a.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	if api.calls != 2 {
		t.Fatalf("credentials about to expire were reused (calls = %d)", api.calls)
	}
}

func TestIAMAuth_Errors(t *testing.T) {
	if _, _, err := (&IAMAuth{}).Credentials(context.Background()); err == nil {
		t.Fatal("missing cluster_identifier/db_user accepted")
	}
	a := &IAMAuth{API: &countingCreds{err: errors.New("AccessDenied")}, ClusterIdentifier: "c", DBUser: "u"}
	if _, _, err := a.Credentials(context.Background()); err == nil || !errors.Is(err, a.API.(*countingCreds).err) {
		t.Fatalf("want the AWS error wrapped, got %v", err)
	}
}
