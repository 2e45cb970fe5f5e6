package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The resources that publish a document (pipelines, EMR templates, replications) delete and
// import it the same way: by the name in state, at the key its kind gives that name.

// deletePublished removes the document named in st from the registry. what names the kind in
// the error ("pipeline", "EMR template", "stream replication").
func deletePublished(ctx context.Context, d *providerData, st tfsdk.State, keyFor func(string) string, what string, diags *diag.Diagnostics) {
	var name types.String
	diags.Append(st.GetAttribute(ctx, path.Root("name"), &name)...)
	reg := d.registry(ctx, diags)
	if diags.HasError() || reg == nil {
		return
	}
	key := keyFor(name.ValueString())
	if err := reg.Delete(ctx, key); err != nil {
		diags.AddError("Deleting "+what+" failed", fmt.Sprintf("Deleting %s from registry %s: %v", key, reg.URL(), err))
	}
}

// importPublishedByName is importByName for a published document, whose name must also pass the
// kind's name rule (a path element of the registry).
func importPublishedByName(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, what, example string, validate func(string) error) {
	if err := validate(req.ID); err != nil {
		article := "a"
		if strings.ContainsRune("AEIOUaeiou", rune(what[0])) {
			article = "an"
		}
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("Import %s %s by its name, e.g. `terraform import %s`: %v.", article, what, example, err))
		return
	}
	importByName(ctx, what, example, req, resp)
}
