package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// registryDescription lists the URL forms from the same list the validator's errors use.
var registryDescription = "Where `sluice_pipeline` and `sluice_emr_template` publish their definitions for `sluice-runner`: " +
	quotedList(registry.URLForms) + ". An `s3://` registry uses the provider's AWS credentials and the `s3` endpoint; " +
	"a relative `file://` path is relative to the directory Terraform runs in. " +
	"Required only by resources that publish definitions; nothing is opened until one needs it."

// registryConn opens the registry lazily, like redshiftConn: a plan with no publishing resource
// never touches it, and every resource of one Terraform operation shares one registry.
type registryConn struct {
	url string
	aws *awsclient.Client

	mu  sync.Mutex
	reg registry.Registry
}

// configureRegistry reads the registry attribute; nil when it is unset.
func configureRegistry(v types.String, client *awsclient.Client) *registryConn {
	if v.IsNull() || strings.TrimSpace(v.ValueString()) == "" {
		return nil
	}
	return &registryConn{url: v.ValueString(), aws: client}
}

func (c *registryConn) open(ctx context.Context) (registry.Registry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reg != nil {
		return c.reg, nil
	}
	var s3 registry.S3API
	if strings.HasPrefix(c.url, "s3://") {
		s3 = c.aws.S3()
	}
	reg, err := registry.Open(ctx, c.url, s3)
	if err != nil {
		return nil, fmt.Errorf("provider attribute registry: %w", err)
	}
	c.reg = reg
	return reg, nil
}

// registry returns the provider's registry, or nil after adding a diagnostic that says why there
// is none. Resources that publish definitions call it in their CRUD methods.
func (d *providerData) registry(ctx context.Context, diags *diag.Diagnostics) registry.Registry {
	if d == nil || d.registryConn == nil {
		diags.AddError("No registry configured",
			`this resource publishes definitions: set registry = "s3://bucket/prefix" or "file:///path" in the provider block`)
		return nil
	}
	reg, err := d.registryConn.open(ctx)
	if err != nil {
		diags.AddError("Cannot open the registry", err.Error())
		return nil
	}
	return reg
}
