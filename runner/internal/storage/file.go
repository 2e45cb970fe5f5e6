package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// tempPrefix begins the names of files being written by Put. It starts with ".", so List never
// returns a half-written file.
const tempPrefix = ".sluice-tmp-"

// osPath is the operating system path of a file:// location.
func (l location) osPath() string { return filepath.FromSlash(l.path) }

// missing reports whether err says a path does not exist, including the case where one of its
// parents is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// listFile walks the directory that holds the prefix, descending only into directories that
// can hold a match, so that "file:///d" does not walk the whole of "/".
func listFile(ctx context.Context, prefix string, loc location) ([]Object, error) {
	dir := dirPart(loc.path) // the prefix's directory, as written, "" or ending in "/"
	root := "."
	if dir != "" {
		root = filepath.FromSlash(dir)
	}
	objs := []Object{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if missing(err) {
				return nil // a missing prefix directory, or a file removed during the walk
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped: %w", err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("path of %s below %s: %w", p, root, err)
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			cand := dir + rel + "/"
			if hidden(cand, len(loc.path)) || (!strings.HasPrefix(cand, loc.path) && !strings.HasPrefix(loc.path, cand)) {
				return filepath.SkipDir
			}
			return nil
		}
		url := "file://" + dir + rel
		if hidden(dir+rel, len(loc.path)) || !strings.HasPrefix(url, prefix) {
			return nil
		}
		info, err := os.Stat(p) // follows a symbolic link to the file it names
		switch {
		case missing(err):
			return nil
		case err != nil:
			return err //nolint:wrapcheck // a *fs.PathError, which names the file
		case !info.Mode().IsRegular():
			return nil // a device, socket, or a link to a directory: not an object
		}
		objs = append(objs, Object{URL: url, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w (check that %s is readable)", prefix, err, root)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].URL < objs[j].URL })
	return objs, nil
}

func openFile(url string, loc location) (io.ReadCloser, error) {
	f, err := os.Open(loc.osPath())
	switch {
	case missing(err):
		return nil, fmt.Errorf("opening %s: %w", url, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("opening %s: %w (check that the runner's user can read it)", url, err)
	}
	info, err := f.Stat()
	if err == nil && info.IsDir() {
		err = errors.New("it is a directory; end the URL with \"/\" to name its files as a prefix")
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("opening %s: %w", url, err)
	}
	return f, nil
}

// putFile streams r into a temporary file beside the target and renames it into place.
func putFile(ctx context.Context, url string, loc location, r io.Reader) error {
	p := loc.osPath()
	fail := func(err error) error {
		return fmt.Errorf("writing %s: %w (check that the runner's user can write to %s)", url, err, filepath.Dir(p))
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
	_, err = io.Copy(tmp, ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes the file private; data files are read by other users and tools.
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

func existsFile(url string, loc location) (bool, error) {
	info, err := os.Stat(loc.osPath())
	switch {
	case missing(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("checking %s: %w (check that the runner's user can read its directory)", url, err)
	}
	return info.Mode().IsRegular(), nil
}
