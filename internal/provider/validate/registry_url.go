package validate

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// RegistryURL checks that a string is a registry URL sluice can open: one of registry.URLForms.
func RegistryURL() validator.String { return registryURL{} }

type registryURL struct{}

func (registryURL) Description(context.Context) string {
	return "value must be a registry URL: " + strings.Join(registry.URLForms, ", ")
}

func (v registryURL) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (registryURL) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := registry.ParseURL(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid registry URL", err.Error())
	}
}
