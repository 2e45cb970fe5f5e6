// Package validate holds the provider's own attribute validators, for rules the
// terraform-plugin-framework-validators module does not cover. Each says what it checks in its
// description, which tfplugindocs does not show but language servers do.
package validate

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

// EndpointURL checks that a string is an absolute http(s) URL.
func EndpointURL() validator.String { return endpointURL{} }

type endpointURL struct{}

func (endpointURL) Description(context.Context) string {
	return "value must be an absolute http:// or https:// URL"
}

func (v endpointURL) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (endpointURL) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := awsclient.ValidateEndpoint(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid endpoint URL", err.Error())
	}
}

// Duration checks that a string parses as a positive Go duration such as "90s" or "1h".
func Duration() validator.String { return duration{} }

type duration struct{}

func (duration) Description(context.Context) string {
	return `value must be a positive duration such as "90s", "15m" or "1h"`
}

func (v duration) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (duration) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a positive duration; use a number with a unit such as \"90s\", \"15m\" or \"1h\"", raw))
	}
}

// RFC3339 checks that a string is an RFC 3339 time such as "2027-01-01T00:00:00Z".
func RFC3339() validator.String { return rfc3339{} }

type rfc3339 struct{}

func (rfc3339) Description(context.Context) string {
	return `value must be an RFC 3339 time such as "2027-01-01T00:00:00Z"`
}

func (v rfc3339) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rfc3339) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	if _, err := time.Parse(time.RFC3339, raw); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time",
			fmt.Sprintf("%q is not an RFC 3339 time; write it like \"2027-01-01T00:00:00Z\" or \"2027-01-01T09:00:00+01:00\"", raw))
	}
}
