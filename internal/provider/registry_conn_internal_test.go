package provider

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
)

func TestProviderDataRegistry_UnsetSaysSetTheAttribute(t *testing.T) {
	var diags diag.Diagnostics
	d := &providerData{registryConn: configureRegistry(types.StringNull(), nil, 0)}
	if reg := d.registry(context.Background(), &diags); reg != nil {
		t.Fatalf("registry() = %v, want nil", reg)
	}
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(),
		`this resource publishes definitions: set registry = "s3://bucket/prefix" or "file:///path" in the provider block`) {
		t.Errorf("diagnostics = %v", diags)
	}
}

func TestProviderDataRegistry_OpensOnceAndShares(t *testing.T) {
	url := "file://" + t.TempDir()
	d := &providerData{registryConn: configureRegistry(types.StringValue(url), nil, 0)}
	var diags diag.Diagnostics
	first := d.registry(context.Background(), &diags)
	second := d.registry(context.Background(), &diags)
	if diags.HasError() || first == nil || first != second {
		t.Fatalf("registry() = %v, %v (%v), want one shared registry", first, second, diags)
	}
	if first.URL() != url {
		t.Errorf("URL() = %q, want %q", first.URL(), url)
	}
}

func TestProviderDataRegistry_S3UsesTheProviderClient(t *testing.T) {
	client, err := awsclient.New(context.Background(), awsclient.Settings{
		Region: "us-east-1", AccessKey: "a", SecretKey: "b", Getenv: func(string) string { return "" },
		Endpoints: map[awsclient.Service]string{awsclient.S3: "http://127.0.0.1:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &providerData{registryConn: configureRegistry(types.StringValue("s3://acme/sluice"), client, 0)}
	var diags diag.Diagnostics
	if reg := d.registry(context.Background(), &diags); reg == nil || reg.URL() != "s3://acme/sluice" {
		t.Fatalf("registry() = %v (%v)", reg, diags)
	}
}

func TestProviderDataRegistry_OpenErrorIsADiagnostic(t *testing.T) {
	file := t.TempDir() + "/not-a-dir"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &providerData{registryConn: configureRegistry(types.StringValue("file://"+file), nil, 0)}
	var diags diag.Diagnostics
	if reg := d.registry(context.Background(), &diags); reg != nil {
		t.Fatalf("registry() = %v, want nil", reg)
	}
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), "is not a directory") {
		t.Errorf("diagnostics = %v", diags)
	}
}
