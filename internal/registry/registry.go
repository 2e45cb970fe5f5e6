// Package registry publishes, reads, lists and deletes definition documents under a registry
// URL: file:///abs/path, file://relative/path, or s3://bucket/prefix.
package registry

import (
	"context"
	"errors"
)

// ErrNotFound is wrapped when a key has no document.
var ErrNotFound = errors.New("not found")

// Registry is a key space of documents. Keys are slash-separated, relative to the registry URL,
// e.g. "pipelines/daily_clicks.json". Put is atomic: a reader sees the old or the new document,
// never a partial one.
type Registry interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// URL is the registry URL, for messages.
	URL() string
}

// Key prefixes of the document kinds.
const (
	PipelinesPrefix    = "pipelines/"
	EMRTemplatesPrefix = "emr-templates/"
)

// PipelineKey is where a pipeline is published.
func PipelineKey(name string) string { return PipelinesPrefix + name + ".json" }

// EMRTemplateKey is where an EMR template is published.
func EMRTemplateKey(name string) string { return EMRTemplatesPrefix + name + ".json" }
