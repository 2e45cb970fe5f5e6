// Package registry publishes, reads, lists and deletes definition documents under a registry
// URL: file:///abs/path, file://relative/path, or s3://bucket/prefix.
//
// A registry says what it cannot read (issue 11): a missing file registry directory is an error
// of List (not an empty registry), an entry List cannot read as a document is reported by key
// (ListError) instead of disappearing, and a document over the size limit is refused naming
// the limit (ErrTooLarge).
package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// ErrNotFound is wrapped when a key has no document.
var ErrNotFound = errors.New("not found")

// ErrNoRegistry is wrapped when the registry itself is not there: a file registry whose
// directory does not exist. List returns it; Get wraps it beside ErrNotFound (a registry
// nobody published to yet holds no key, which is what Terraform's first apply asks).
var ErrNoRegistry = errors.New("the registry is missing")

// ErrTooLarge is wrapped when a document is over the registry's maximum document size.
var ErrTooLarge = errors.New("document too large")

// Registry is a key space of documents. Keys are slash-separated, relative to the registry URL,
// e.g. "pipelines/daily_clicks.json". Put is atomic: a reader sees the old or the new document,
// never a partial one.
type Registry interface {
	// Put publishes data under key; data over the maximum document size is refused
	// (ErrTooLarge) and nothing is written.
	Put(ctx context.Context, key string, data []byte) error
	// Get reads the document at key; one over the maximum document size is refused
	// (ErrTooLarge) without being read into memory.
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	// List returns the keys under prefix, sorted. When some entries under prefix cannot be
	// read as documents, List returns the keys it could list and a *ListError naming the
	// others: callers that can go on without them use errors.As, others fail on the error.
	List(ctx context.Context, prefix string) ([]string, error)
	// URL is the registry URL, for messages.
	URL() string
	// MaxDocumentSize is the largest document Put and Get accept, in bytes.
	MaxDocumentSize() int64
}

// Entry is a listed document and its stamp: a string that changes whenever the document's
// content may have changed (S3: the ETag and size; a file: its size, modification time and
// inode, which an atomic Put's rename replaces). A reader that kept a document read under a
// stamp need not read it again while the listing shows the same stamp.
type Entry struct {
	Key   string
	Stamp string
}

// StampLister is implemented by registries that list with stamps (both kinds here): a
// scheduler reads only the documents whose stamp changed, instead of every document every tick.
type StampLister interface {
	// ListStamped is List with each key's stamp, under the same rules (sorted; *ListError
	// beside the entries it could list).
	ListStamped(ctx context.Context, prefix string) ([]Entry, error)
}

// Keys returns the keys of entries.
func Keys(entries []Entry) []string {
	if entries == nil {
		return nil
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	return keys
}

// Option changes a default of Open.
type Option func(*options)

type options struct {
	maxDocumentSize int64
}

// WithMaxDocumentSize sets the largest document Put and Get accept, in bytes; the default is
// definition.DefaultMaxDocumentSize. n <= 0 keeps the default.
func WithMaxDocumentSize(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxDocumentSize = n
		}
	}
}

// EntryError is one entry of a registry that List could not read as a document.
type EntryError struct {
	// Key is where the entry is, as a registry key (e.g. "pipelines/broken.json").
	Key string
	Err error
}

func (e EntryError) Error() string { return e.Key + ": " + e.Err.Error() }

// ListError is returned by List beside the keys it could list: the entries under the prefix it
// could not read as documents, sorted by key. It never hides a key: an entry is either listed or
// named here.
type ListError struct {
	URL     string
	Prefix  string
	Entries []EntryError
}

func (e *ListError) Error() string {
	parts := make([]string, len(e.Entries))
	for i, en := range e.Entries {
		parts[i] = en.Error()
	}
	return fmt.Sprintf("registry %s: listing %q: %d entr%s cannot be read as documents: %s",
		e.URL, e.Prefix, len(e.Entries), plural(len(e.Entries), "y", "ies"), strings.Join(parts, "; "))
}

func (e *ListError) sort() {
	sort.Slice(e.Entries, func(i, j int) bool { return e.Entries[i].Key < e.Entries[j].Key })
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// tooLarge is the error of a document over the limit: it names the document, its size when
// known, and the limit with the setting that raises it.
func tooLarge(url, key string, size, limit int64) error {
	got := "more than " + definition.FormatSize(limit)
	if size > 0 {
		got = fmt.Sprintf("%d bytes", size)
	}
	return fmt.Errorf("registry %s: document %q is %s, over the maximum document size of %s (%d bytes): %w; "+
		"%s, or raise max_document_size in the provider and the runner configuration",
		url, key, got, definition.FormatSize(limit), limit, ErrTooLarge, shrinkHint(key))
}

// shrinkHint says how to make the document at key smaller, in the words of its kind.
func shrinkHint(key string) string {
	switch {
	case strings.HasPrefix(key, PipelinesPrefix):
		return "split the pipeline"
	case strings.HasPrefix(key, ReplicationsPrefix):
		return "shorten the replication (its description, its replicas)"
	default:
		return "make the document smaller"
	}
}

// Key prefixes of the document kinds.
const (
	PipelinesPrefix    = "pipelines/"
	EMRTemplatesPrefix = "emr-templates/"
	ReplicationsPrefix = "replications/"
)

// PipelineKey is where a pipeline is published.
func PipelineKey(name string) string { return PipelinesPrefix + name + ".json" }

// EMRTemplateKey is where an EMR template is published.
func EMRTemplateKey(name string) string { return EMRTemplatesPrefix + name + ".json" }

// ReplicationKey is the key of a stream replication.
func ReplicationKey(name string) string { return ReplicationsPrefix + name + ".json" }
