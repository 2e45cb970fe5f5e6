package provider

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

// configureData checks the provider data handed to a resource or data source. It is nil before
// the provider is configured (e.g. during validate), which is not an error.
func configureData(v any, diags *diag.Diagnostics) *providerData {
	if v == nil {
		return nil
	}
	d, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the sluice provider; please report it.", v))
		return nil
	}
	return d
}

func stringOr(v types.String, def string) string {
	if v.IsNull() || v.IsUnknown() {
		return def
	}
	return v.ValueString()
}

func int64List(vs []int) types.List {
	elems := make([]attr.Value, len(vs))
	for i, v := range vs {
		elems[i] = types.Int64Value(int64(v))
	}
	return types.ListValueMust(types.Int64Type, elems)
}

func stringSet(vs []string) types.Set {
	elems := make([]attr.Value, len(vs))
	for i, v := range vs {
		elems[i] = types.StringValue(v)
	}
	return types.SetValueMust(types.StringType, elems)
}

func stringMap(m map[string]string) types.Map {
	elems := make(map[string]attr.Value, len(m))
	for k, v := range m {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

// planTagsAll is the tags_all a plan shows: default_tags merged with the resource's tags.
func planTagsAll(ctx context.Context, tags types.Map, defaults map[string]string, diags *diag.Diagnostics) types.Map {
	if tags.IsUnknown() {
		return types.MapUnknown(types.StringType)
	}
	own := map[string]string{}
	if !tags.IsNull() {
		diags.Append(tags.ElementsAs(ctx, &own, false)...)
	}
	return stringMap(awsclient.MergeTags(defaults, own))
}

// readTags turns the tags AWS reports into the tags and tags_all attributes. A resource without
// declared tags keeps tags null unless tags were added outside Terraform.
func readTags(ctx context.Context, prior types.Map, actual, defaults map[string]string, diags *diag.Diagnostics) (tags, tagsAll types.Map) {
	var priorTags map[string]string
	if !prior.IsNull() && !prior.IsUnknown() {
		diags.Append(prior.ElementsAs(ctx, &priorTags, false)...)
	}
	own := awsclient.ResourceTags(priorTags, actual, defaults)
	tags = stringMap(own)
	if len(own) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		tags = types.MapNull(types.StringType)
	}
	return tags, stringMap(actual)
}

func stringList(vs []string) types.List {
	elems := make([]attr.Value, len(vs))
	for i, v := range vs {
		elems[i] = types.StringValue(v)
	}
	return types.ListValueMust(types.StringType, elems)
}

// timeoutsBlock is the timeouts block with a description of its own, which the timeouts module
// leaves empty.
func timeoutsBlock(ctx context.Context, opts timeouts.Opts) schema.Block {
	b := timeouts.Block(ctx, opts)
	if nb, ok := b.(schema.SingleNestedBlock); ok {
		nb.MarkdownDescription = "How long each operation may take before it is abandoned; the resource is left as AWS reports it, and nothing is lost."
		return nb
	}
	return b
}

// oneLineRE matches a value without line breaks.
var oneLineRE = regexp.MustCompile(`^[^\r\n]*$`)

// planIDFromName sets the planned id to the planned name, for resources whose ID is their name
// and whose rename happens in place.
func planIDFromName(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var name types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	if !name.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), name)...)
	}
}

// importByName imports a resource whose ID is its name.
func importByName(ctx context.Context, what, example string, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if req.ID == "" {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("Import a %s by its name, e.g. `terraform import %s`.", what, example))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
