package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// tempPrefix begins the names of files being written; List never returns them.
const tempPrefix = ".sluice-tmp-"

// fileRegistry keeps each document in a file under root, at the key's path.
type fileRegistry struct {
	url  string
	root string
}

var _ Registry = (*fileRegistry)(nil)

func (r *fileRegistry) URL() string { return r.url }

func (r *fileRegistry) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("registry %s: key %w", r.url, err)
	}
	return filepath.Join(r.root, filepath.FromSlash(key)), nil
}

// Put writes a temporary file in the key's directory and renames it over the key, so a reader
// sees the old or the new document and a crash leaves at most a temporary file behind.
func (r *fileRegistry) Put(_ context.Context, key string, data []byte) error {
	p, err := r.path(key)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("registry %s: publishing %q: %w (check that the user running Terraform or the runner can write to %s)",
			r.url, key, err, r.root)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(p)+"-*")
	if err != nil {
		return fail(err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a no-op after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes the file private; documents are read by runners under other users.
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

func (r *fileRegistry) Get(_ context.Context, key string) ([]byte, error) {
	p, err := r.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("registry %s: key %q: %w", r.url, key, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("registry %s: reading %q: %w (check that %s is readable)", r.url, key, err, p)
	}
	return data, nil
}

// Delete removes the key's file; a missing key is not an error. Emptied directories stay.
func (r *fileRegistry) Delete(_ context.Context, key string) error {
	p, err := r.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("registry %s: deleting %q: %w (check that the user running Terraform or the runner can write to %s)",
			r.url, key, err, filepath.Dir(p))
	}
	return nil
}

// List walks the directory that holds prefix and returns the keys that begin with it.
func (r *fileRegistry) List(_ context.Context, prefix string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("registry %s: list prefix %w", r.url, err)
	}
	// Walk only the deepest directory the prefix names: "pipelines/daily" walks pipelines/.
	start := r.root
	if dir := path.Dir(prefix + "x"); dir != "." {
		start = filepath.Join(r.root, filepath.FromSlash(dir))
	}
	keys := []string{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(r.root, p)
		if err != nil {
			return fmt.Errorf("key of %s: %w", p, err)
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s: listing %q: %w (check that %s is readable)", r.url, prefix, err, r.root)
	}
	sort.Strings(keys)
	return keys, nil
}
