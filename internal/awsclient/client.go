package awsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// DefaultMaxRetries matches the Terraform AWS provider's default: AWS throttles control-plane
// calls such as Kinesis' UpdateShardCount aggressively, and a plan should ride that out.
const DefaultMaxRetries = 25

// AssumeRole configures an sts:AssumeRole hop after the base credentials are found.
type AssumeRole struct {
	RoleARN     string
	SessionName string
	ExternalID  string
	// Duration of the role session; zero means the SDK default (15 minutes).
	Duration time.Duration
}

// Settings are the inputs the provider block (or the runner's config) gives. Zero values mean
// "not set": the SDK's default chain (environment, shared config, IMDS) fills the rest.
type Settings struct {
	Region    string
	Profile   string
	AccessKey string
	SecretKey string
	Token     string

	AssumeRole *AssumeRole

	// Endpoints overrides per service, as in the provider's endpoints block.
	Endpoints map[Service]string

	// SkipCredentialsValidation skips the sts:GetCallerIdentity call in Validate, for local
	// stand-ins that do not implement STS.
	SkipCredentialsValidation bool

	// MaxRetries is the number of retries of a retryable AWS error; zero means DefaultMaxRetries.
	MaxRetries int

	// Getenv reads the environment; nil means os.Getenv. Tests inject their own.
	Getenv func(string) string

	// Logger receives debug lines about endpoint resolution; nil discards them.
	Logger *slog.Logger
}

// Client holds the resolved aws.Config and hands out service clients with the endpoint overrides
// applied.
type Client struct {
	cfg       aws.Config
	endpoints map[Service]string
	skipCreds bool
}

// New resolves credentials, region and endpoints. It makes no network call: credentials are
// fetched lazily on the first request, and Validate checks them when asked to.
func New(ctx context.Context, s Settings) (*Client, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		return nil, errors.New("access_key and secret_key must be set together")
	}

	endpoints := map[Service]string{}
	// RunnerServices, not Services: the provider's endpoints block never sets the runner-only
	// ones, but the runner's config and the environment may.
	for _, svc := range RunnerServices() {
		ep, src := ResolveEndpoint(svc, s.Endpoints, getenv)
		if ep == "" {
			continue
		}
		if err := ValidateEndpoint(ep); err != nil {
			return nil, fmt.Errorf("%s endpoint from %s: %w", svc, src, err)
		}
		endpoints[svc] = ep
		log.Debug("endpoint override", "service", string(svc), "endpoint", ep, "source", string(src))
	}

	maxRetries := s.MaxRetries
	if maxRetries <= 0 {
		maxRetries = DefaultMaxRetries
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxRetries + 1
				o.MaxBackoff = 20 * time.Second
				o.Retryables = append([]retry.IsErrorRetryable{quotaNotRetryable}, o.Retryables...)
			})
		}),
	}
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	if s.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, s.Token)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set region in the provider block, AWS_REGION, or the shared config profile")
	}

	c := &Client{cfg: cfg, endpoints: endpoints, skipCreds: s.SkipCredentialsValidation}
	if ar := s.AssumeRole; ar != nil && ar.RoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(c.STS(), ar.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			if ar.SessionName != "" {
				o.RoleSessionName = ar.SessionName
			}
			if ar.ExternalID != "" {
				o.ExternalID = aws.String(ar.ExternalID)
			}
			if ar.Duration > 0 {
				o.Duration = ar.Duration
			}
		})
		c.cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return c, nil
}

// Config returns the resolved aws.Config (without per-service endpoint overrides).
func (c *Client) Config() aws.Config { return c.cfg }

// Region is the resolved AWS region.
func (c *Client) Region() string { return c.cfg.Region }

// Endpoint returns the override for a service, or "" when the SDK resolves it.
func (c *Client) Endpoint(s Service) string { return c.endpoints[s] }

func (c *Client) baseEndpoint(s Service) *string {
	if ep := c.endpoints[s]; ep != "" {
		return aws.String(ep)
	}
	return nil
}

// Kinesis returns a Kinesis client.
func (c *Client) Kinesis() *kinesis.Client {
	return kinesis.NewFromConfig(c.cfg, func(o *kinesis.Options) {
		if ep := c.baseEndpoint(Kinesis); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// Redshift returns a Redshift (control plane) client, e.g. for GetClusterCredentials.
func (c *Client) Redshift() *redshift.Client {
	return redshift.NewFromConfig(c.cfg, func(o *redshift.Options) {
		if ep := c.baseEndpoint(Redshift); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// RedshiftData returns a Redshift Data API client.
func (c *Client) RedshiftData() *redshiftdata.Client {
	return redshiftdata.NewFromConfig(c.cfg, func(o *redshiftdata.Options) {
		if ep := c.baseEndpoint(RedshiftData); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// S3 returns an S3 client. With an endpoint override it uses path-style addressing
// (http://host/bucket/key): local stand-ins such as gofakes3 have no per-bucket host names.
// Without one it keeps the SDK's default, virtual-hosted style, as AWS recommends.
func (c *Client) S3() *s3.Client {
	return s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		if ep := c.baseEndpoint(S3); ep != nil {
			o.BaseEndpoint = ep
			o.UsePathStyle = true
		}
	})
}

// EMR returns an EMR client.
func (c *Client) EMR() *emr.Client {
	return emr.NewFromConfig(c.cfg, func(o *emr.Options) {
		if ep := c.baseEndpoint(EMR); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// SNS returns an SNS client.
func (c *Client) SNS() *sns.Client {
	return sns.NewFromConfig(c.cfg, func(o *sns.Options) {
		if ep := c.baseEndpoint(SNS); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// SQS returns an SQS client (trigger queues).
func (c *Client) SQS() *sqs.Client {
	return sqs.NewFromConfig(c.cfg, func(o *sqs.Options) {
		if ep := c.baseEndpoint(SQS); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// SecretsManager returns a Secrets Manager client, for the runner's connections given as secret
// ARNs.
func (c *Client) SecretsManager() *secretsmanager.Client {
	return secretsmanager.NewFromConfig(c.cfg, func(o *secretsmanager.Options) {
		if ep := c.baseEndpoint(SecretsManager); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// STS returns an STS client.
func (c *Client) STS() *sts.Client {
	return sts.NewFromConfig(c.cfg, func(o *sts.Options) {
		if ep := c.baseEndpoint(STS); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// Validate checks the credentials with sts:GetCallerIdentity and returns the account ID, unless
// SkipCredentialsValidation was set (then it returns "" and nil).
func (c *Client) Validate(ctx context.Context) (string, error) {
	if c.skipCreds {
		return "", nil
	}
	out, err := c.STS().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("validating AWS credentials with sts:GetCallerIdentity (set skip_credentials_validation = true for local stand-ins): %w", err)
	}
	return aws.ToString(out.Account), nil
}

// quotaNotRetryable stops the SDK from retrying a LimitExceededException that reports an exhausted
// quota (an account's shard limit, a stream's daily scaling operations) rather than a request
// rate: retrying those 25 times only delays the error the user must act on.
var quotaNotRetryable = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "LimitExceededException" {
		return aws.UnknownTernary
	}
	msg := strings.ToLower(apiErr.ErrorMessage())
	for _, quota := range []string{"shard limit", "scaling operations", "scale", "on-demand stream", "stream count"} {
		if strings.Contains(msg, quota) {
			return aws.FalseTernary
		}
	}
	return aws.UnknownTernary
})
