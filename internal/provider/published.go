package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
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

// publishedDoc is a published document as Read found it.
type publishedDoc struct {
	Key, URL string // the key and the registry's URL, for messages
	Data     []byte
}

// readPublished reads the document at key(name) for Read. A document that is gone removes the
// resource from state with a warning, so that the plan publishes it again; ok is false then, and
// when the registry cannot be read (an error naming the key). what names the kind in messages.
func readPublished(ctx context.Context, d *providerData, name string, keyFor func(string) string, what string, resp *resource.ReadResponse) (publishedDoc, bool) {
	reg := d.registry(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || reg == nil {
		return publishedDoc{}, false
	}
	doc := publishedDoc{Key: keyFor(name), URL: reg.URL()}
	data, err := reg.Get(ctx, doc.Key)
	if errors.Is(err, registry.ErrNotFound) {
		resp.Diagnostics.AddWarning(capitalize(what)+" is gone",
			fmt.Sprintf("%s is no longer in registry %s; the %s is removed from state and the plan will publish it again.", doc.Key, doc.URL, what))
		resp.State.RemoveResource(ctx)
		return publishedDoc{}, false
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading "+what+" failed", fmt.Sprintf("Reading %s from registry %s: %v", doc.Key, doc.URL, err))
		return publishedDoc{}, false
	}
	doc.Data = data
	return doc, true
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
