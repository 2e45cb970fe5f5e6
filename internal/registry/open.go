package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// Open opens the registry at rawURL (one of URLForms; see ParseURL). s3 is the client an s3://
// registry uses, e.g. awsclient.Client.S3(); a file:// registry ignores it and may be given nil.
//
// Open makes no network call. A file registry's directory need not exist yet: Put creates it,
// and List reports it missing (ErrNoRegistry) — a reader that must not start without its
// registry (sluice-runner serve, validate) lists it once at start.
// A relative file path is resolved against the working directory now, so a later chdir does
// not move the registry.
func Open(_ context.Context, rawURL string, s3 S3API, opts ...Option) (Registry, error) {
	o := options{maxDocumentSize: definition.DefaultMaxDocumentSize}
	for _, opt := range opts {
		opt(&o)
	}
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case SchemeFile:
		root, err := filepath.Abs(loc.Path)
		if err != nil {
			return nil, fmt.Errorf("registry %s: resolving %s against the working directory: %w", rawURL, loc.Path, err)
		}
		st, err := os.Stat(root)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Created by the first Put.
		case err != nil:
			return nil, fmt.Errorf("registry %s: %w", rawURL, err)
		case !st.IsDir():
			return nil, fmt.Errorf("registry %s: %s is not a directory: point the registry URL at a directory", rawURL, root)
		}
		return &fileRegistry{url: rawURL, root: root, maxSize: o.maxDocumentSize}, nil
	case SchemeS3:
		if s3 == nil {
			return nil, fmt.Errorf("registry %s: no S3 client was given to open an s3:// registry", rawURL)
		}
		return &s3Registry{url: rawURL, client: s3, bucket: loc.Bucket, prefix: loc.Prefix, maxSize: o.maxDocumentSize}, nil
	default:
		return nil, fmt.Errorf("registry %s: unsupported scheme %q", rawURL, loc.Scheme)
	}
}
