package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// registryDescription lists the URL forms from the same list the validator's errors use.
var registryDescription = "Where `sluice_pipeline`, `sluice_emr_template` and `sluice_stream_replication` publish their definitions for `sluice-runner`: " +
	quotedList(registry.URLForms) + ". An `s3://` registry uses the provider's AWS credentials and the `s3` endpoint; " +
	"a relative `file://` path is relative to the directory Terraform runs in. " +
	"Required only by resources that publish definitions; nothing is opened until one needs it."

// registryConn opens the registry lazily, like redshiftConn: a plan with no publishing resource
// never touches it, and every resource of one Terraform operation shares one registry.
type registryConn struct {
	url     string
	aws     *awsclient.Client
	maxSize int64

	mu  sync.Mutex
	reg registry.Registry
}

// configureRegistry reads the registry attribute; nil when it is unset.
func configureRegistry(v types.String, client *awsclient.Client, maxSize int64) *registryConn {
	if v.IsNull() || strings.TrimSpace(v.ValueString()) == "" {
		return nil
	}
	return &registryConn{url: v.ValueString(), aws: client, maxSize: maxSize}
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
	reg, err := registry.Open(ctx, c.url, s3, registry.WithMaxDocumentSize(c.maxSize))
	if err != nil {
		return nil, fmt.Errorf("provider attribute registry: %w", err)
	}
	c.reg = reg
	return reg, nil
}

// checkDocumentSize reports a document over max_document_size at plan time, naming the
// resource (kind and name) and the limit, so the plan fails rather than the runner later. It
// says nothing when the provider is not configured yet (its limit is unknown); publishing
// checks again, in the registry.
func (d *providerData) checkDocumentSize(kind, name string, doc []byte, diags *diag.Diagnostics) {
	if d == nil || d.maxDocumentSize <= 0 || int64(len(doc)) <= d.maxDocumentSize {
		return
	}
	// A replication cannot be split (its replicas must read one stream); it can only be shortened.
	shrink := "Split it into smaller " + kind + "s"
	if kind == replicationKind {
		shrink = "Shorten it (its description, its replicas)"
	}
	diags.AddError(fmt.Sprintf("%s document too large", kind),
		fmt.Sprintf("The published document of %s %q would be %d bytes, over the provider's max_document_size of %s (%d bytes). "+
			"%s, or raise max_document_size in the provider and in every sluice-runner that reads the registry "+
			"(max_document_size / $SLUICE_MAX_DOCUMENT_SIZE) together.",
			kind, name, len(doc), definition.FormatSize(d.maxDocumentSize), d.maxDocumentSize, shrink))
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
