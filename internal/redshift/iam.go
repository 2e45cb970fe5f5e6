package redshift

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsredshift "github.com/aws/aws-sdk-go-v2/service/redshift"
)

// ClusterCredentialsAPI is the one Redshift control-plane call IAM authentication needs;
// *redshift.Client implements it.
type ClusterCredentialsAPI interface {
	GetClusterCredentials(context.Context, *awsredshift.GetClusterCredentialsInput, ...func(*awsredshift.Options)) (*awsredshift.GetClusterCredentialsOutput, error)
}

// IAMAuth logs in with temporary credentials from redshift:GetClusterCredentials instead of a
// stored password. Credentials are fetched before a new connection needs them and reused until
// shortly before they expire.
type IAMAuth struct {
	API               ClusterCredentialsAPI
	ClusterIdentifier string
	DBUser            string
	Database          string
	AutoCreate        bool
	DBGroups          []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	user     string
	password string
	expires  time.Time
}

// credentialsMargin renews credentials this long before AWS says they expire, so a connection is
// never attempted with a password about to lapse.
const credentialsMargin = time.Minute

// Credentials returns a user name and temporary password.
func (a *IAMAuth) Credentials(ctx context.Context) (user, password string, err error) {
	if a.ClusterIdentifier == "" || a.DBUser == "" {
		return "", "", errors.New("iam: cluster_identifier and db_user are required")
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.password != "" && now().Add(credentialsMargin).Before(a.expires) {
		return a.user, a.password, nil
	}
	in := &awsredshift.GetClusterCredentialsInput{
		ClusterIdentifier: aws.String(a.ClusterIdentifier),
		DbUser:            aws.String(a.DBUser),
		AutoCreate:        aws.Bool(a.AutoCreate),
		DbGroups:          a.DBGroups,
	}
	if a.Database != "" {
		in.DbName = aws.String(a.Database)
	}
	out, err := a.API.GetClusterCredentials(ctx, in)
	if err != nil {
		return "", "", fmt.Errorf("redshift:GetClusterCredentials for cluster %q, user %q: %w", a.ClusterIdentifier, a.DBUser, err)
	}
	a.user, a.password = aws.ToString(out.DbUser), aws.ToString(out.DbPassword)
	a.expires = now().Add(15 * time.Minute)
	if out.Expiration != nil {
		a.expires = *out.Expiration
	}
	return a.user, a.password, nil
}
