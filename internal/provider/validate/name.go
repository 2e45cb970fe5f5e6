package validate

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Name checks a pipeline or EMR template name by the rule the runner applies too
// (definition.ValidateName); kind ("pipeline", "EMR template") begins the error.
func Name(kind string) validator.String { return name{kind: kind} }

type name struct{ kind string }

func (v name) Description(context.Context) string {
	return "value must be a " + v.kind + " name: " + definition.NameRule
}

func (v name) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v name) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := definition.ValidateName(v.kind, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.kind+" name", err.Error())
	}
}
