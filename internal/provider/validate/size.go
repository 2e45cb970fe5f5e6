package validate

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Size checks a byte size such as "4MiB" (definition.ParseSize), the form the runner's
// max_document_size takes too.
func Size() validator.String { return size{} }

type size struct{}

func (size) Description(context.Context) string { return "value must be " + definition.SizeForms }

func (v size) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (size) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := definition.ParseSize(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid size", err.Error())
	}
}
