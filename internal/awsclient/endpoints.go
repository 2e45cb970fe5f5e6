// Package awsclient turns provider or runner settings into an aws.Config and service clients.
// Both the Terraform provider and sluice-runner build their AWS clients here, so endpoint
// overrides, credentials and retries behave the same in both.
package awsclient

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Service names an AWS service whose endpoint can be overridden. The values are the attribute
// names of the provider's `endpoints` block.
type Service string

// The services sluice talks to.
const (
	Kinesis      Service = "kinesis"
	S3           Service = "s3"
	EMR          Service = "emr"
	Redshift     Service = "redshift"
	RedshiftData Service = "redshift_data"
	STS          Service = "sts"
	SNS          Service = "sns"
	SQS          Service = "sqs"
	// SecretsManager is used by sluice-runner alone (connections given as secret ARNs), so it
	// is in RunnerServices but not in Services: the provider's endpoints block does not list it.
	SecretsManager Service = "secretsmanager"
)

// Services lists every service with an endpoint override, in documentation order.
func Services() []Service {
	return []Service{Kinesis, S3, EMR, Redshift, RedshiftData, STS, SNS, SQS}
}

// RunnerServices lists every service whose endpoint sluice-runner can override: Services plus
// the ones only the runner calls.
func RunnerServices() []Service {
	return append(Services(), SecretsManager)
}

// EnvVar is the service-specific environment variable the AWS SDKs read, e.g.
// AWS_ENDPOINT_URL_REDSHIFT_DATA. The SDKs derive it from the service ID, which for Secrets
// Manager has a space the short name lacks: AWS_ENDPOINT_URL_SECRETS_MANAGER.
func (s Service) EnvVar() string {
	if s == SecretsManager {
		return "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	}
	return "AWS_ENDPOINT_URL_" + strings.ToUpper(string(s))
}

// EndpointSource says where a resolved endpoint came from.
type EndpointSource string

// Endpoint sources, from the highest precedence to the lowest.
const (
	SourceEndpointsBlock EndpointSource = "endpoints block"
	SourceServiceEnv     EndpointSource = "service environment variable"
	SourceGlobalEnv      EndpointSource = "AWS_ENDPOINT_URL"
	// SourceSDK means no override was found here: the SDK resolves the endpoint from the shared
	// config file (a `services` section or `endpoint_url`), else AWS's default endpoint.
	SourceSDK EndpointSource = "shared config or AWS default"
)

// GlobalEndpointEnvVar overrides the endpoint of every service that has no more specific setting.
const GlobalEndpointEnvVar = "AWS_ENDPOINT_URL"

// ResolveEndpoint applies the AWS provider's precedence for one service: the endpoints block, then
// AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL. When none is set it returns "" and SourceSDK,
// and the SDK falls back to the shared config file and then to AWS's own endpoint.
//
// The SDK on its own would consult a shared config `services` section before AWS_ENDPOINT_URL;
// resolving the environment here keeps the documented order exactly.
func ResolveEndpoint(s Service, block map[Service]string, getenv func(string) string) (string, EndpointSource) {
	if v := strings.TrimSpace(block[s]); v != "" {
		return v, SourceEndpointsBlock
	}
	if v := strings.TrimSpace(getenv(s.EnvVar())); v != "" {
		return v, SourceServiceEnv
	}
	if v := strings.TrimSpace(getenv(GlobalEndpointEnvVar)); v != "" {
		return v, SourceGlobalEnv
	}
	return "", SourceSDK
}

// ValidateEndpoint checks that an endpoint override is an absolute http(s) URL.
func ValidateEndpoint(raw string) error {
	if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		return fmt.Errorf("endpoint %q must start with http:// or https://", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint %q is not a URL: %w", raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("endpoint %q has no host", raw)
	}
	return nil
}

// ServiceNames returns the service names as strings, sorted, for validators and docs.
func ServiceNames() []string { return names(Services()) }

// RunnerServiceNames returns the names of RunnerServices, sorted, for the runner's config
// validation and docs.
func RunnerServiceNames() []string { return names(RunnerServices()) }

func names(services []Service) []string {
	out := make([]string, 0, len(services))
	for _, s := range services {
		out = append(out, string(s))
	}
	sort.Strings(out)
	return out
}
