package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// describer is what every schema attribute and block has.
type describer interface {
	GetMarkdownDescription() string
}

// TestSchemas_EveryAttributeDescribed walks the provider, resource and data source schemas: the
// docs are generated from these descriptions, so an empty one is an undocumented attribute.
func TestSchemas_EveryAttributeDescribed(t *testing.T) {
	ctx := context.Background()
	p := New("test")()

	var pr provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &pr)
	if pr.Diagnostics.HasError() {
		t.Fatal(pr.Diagnostics)
	}
	check(t, "provider", pr.Schema.MarkdownDescription, pr.Schema.Attributes, pr.Schema.Blocks)

	for _, newR := range p.Resources(ctx) {
		r := newR()
		var md resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "sluice"}, &md)
		var sr resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &sr)
		if sr.Diagnostics.HasError() {
			t.Fatal(sr.Diagnostics)
		}
		if diags := sr.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Fatalf("%s: %v", md.TypeName, diags)
		}
		if _, ok := r.(resource.ResourceWithImportState); !ok {
			t.Errorf("%s does not implement ImportState", md.TypeName)
		}
		check(t, md.TypeName, sr.Schema.MarkdownDescription, sr.Schema.Attributes, sr.Schema.Blocks)
	}
	for _, newD := range p.DataSources(ctx) {
		d := newD()
		var md datasource.MetadataResponse
		d.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "sluice"}, &md)
		var sr datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &sr)
		if sr.Diagnostics.HasError() {
			t.Fatal(sr.Diagnostics)
		}
		check(t, "data."+md.TypeName, sr.Schema.MarkdownDescription, sr.Schema.Attributes, sr.Schema.Blocks)
	}
}

func check[A describer, B any](t *testing.T, where, desc string, attrs map[string]A, blocks map[string]B) {
	t.Helper()
	if strings.TrimSpace(desc) == "" {
		t.Errorf("%s has no MarkdownDescription", where)
	}
	for name, a := range attrs {
		if strings.TrimSpace(a.GetMarkdownDescription()) == "" {
			t.Errorf("%s.%s has no MarkdownDescription", where, name)
		}
	}
	for name, b := range blocks {
		d, ok := any(b).(describer)
		if !ok || strings.TrimSpace(d.GetMarkdownDescription()) == "" {
			t.Errorf("block %s.%s has no MarkdownDescription", where, name)
		}
	}
}
