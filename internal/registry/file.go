package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
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
//
// Symlinks are followed when they resolve inside the registry directory (after resolving the
// directory's own symlinks): a deployment may point pipelines/ at a release directory, or a
// document at another file of the registry. A symlink that is dangling, loops, or resolves
// outside the registry directory is refused with an error naming it — never skipped — because
// the registry is the key space the publisher wrote, and a link out of it would make a runner
// read (and show in its errors) a file nobody published.
type fileRegistry struct {
	url     string
	root    string
	maxSize int64
}

var _ Registry = (*fileRegistry)(nil)

func (r *fileRegistry) URL() string { return r.url }

func (r *fileRegistry) MaxDocumentSize() int64 { return r.maxSize }

func (r *fileRegistry) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("registry %s: key %w", r.url, err)
	}
	return filepath.Join(r.root, filepath.FromSlash(key)), nil
}

// missingRoot is the error of a registry directory that does not exist.
func (r *fileRegistry) missingRoot() error {
	return fmt.Errorf("registry %s: directory %s does not exist (%w): was it moved or deleted? "+
		"The first terraform apply that publishes to it creates it; check the registry URL", r.url, r.root, ErrNoRegistry)
}

// realRoot is the registry directory with its symlinks resolved: what a resolved entry must be
// inside. The directory may be replaced while a runner runs, so it is resolved on every call.
func (r *fileRegistry) realRoot() (string, error) {
	real, err := filepath.EvalSymlinks(r.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", r.missingRoot()
	case err != nil:
		return "", fmt.Errorf("registry %s: resolving %s: %w", r.url, r.root, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("registry %s: %w", r.url, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("registry %s: %s is not a directory: point the registry URL at a directory", r.url, r.root)
	}
	return real, nil
}

// within reports whether the resolved path p is realRoot or inside it.
func within(realRoot, p string) bool {
	rel, err := filepath.Rel(realRoot, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// resolve follows the symlinks of p (a path under root) and checks that the result stays inside
// the registry. It reports what is wrong with the entry in words that name it.
func resolve(realRoot, p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if target, lerr := os.Readlink(p); lerr == nil {
			return "", fmt.Errorf("is a symlink to %s, which cannot be resolved (dangling, or a loop): %w", target, err)
		}
		return "", fmt.Errorf("cannot be resolved: %w", err)
	}
	if !within(realRoot, real) {
		return "", fmt.Errorf("resolves to %s, outside the registry directory %s: symlinks are followed only within the registry", real, realRoot)
	}
	return real, nil
}

// notDocument says why an entry that is not a regular file is not a document, or nil.
func notDocument(mode fs.FileMode) error {
	switch {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		return errors.New("is a directory, where a document (a regular file) is expected")
	case mode&fs.ModeNamedPipe != 0:
		return errors.New("is a named pipe (FIFO), not a regular file: documents are regular files")
	case mode&fs.ModeSocket != 0:
		return errors.New("is a socket, not a regular file: documents are regular files")
	case mode&fs.ModeDevice != 0:
		return errors.New("is a device, not a regular file: documents are regular files")
	default:
		return fmt.Errorf("is not a regular file (mode %s): documents are regular files", mode)
	}
}

// Put writes a temporary file in the key's directory and renames it over the key, so a reader
// sees the old or the new document and a crash leaves at most a temporary file behind.
func (r *fileRegistry) Put(_ context.Context, key string, data []byte) error {
	p, err := r.path(key)
	if err != nil {
		return err
	}
	if int64(len(data)) > r.maxSize {
		return tooLarge(r.url, key, int64(len(data)), r.maxSize)
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

// Get reads the key's file. It checks what the entry is before opening it — opening a named
// pipe for reading would block until a writer comes — and reads at most the maximum document
// size plus one byte, so a huge file (or one growing while it is read) never fills memory.
func (r *fileRegistry) Get(_ context.Context, key string) ([]byte, error) {
	p, err := r.path(key)
	if err != nil {
		return nil, err
	}
	fail := func(err error) error {
		return fmt.Errorf("registry %s: reading %q: %s %w", r.url, key, p, err)
	}
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		if _, rerr := os.Stat(r.root); errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("registry %s: key %q: %w (directory %s does not exist: %w)", r.url, key, ErrNotFound, r.root, ErrNoRegistry)
		}
		return nil, fmt.Errorf("registry %s: key %q: %w", r.url, key, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("registry %s: reading %q: %w (check that %s is readable)", r.url, key, err, p)
	}
	realRoot, err := r.realRoot()
	if err != nil {
		return nil, err
	}
	real, err := resolve(realRoot, p)
	if err != nil {
		return nil, fail(err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fail(err)
	}
	if err := notDocument(st.Mode()); err != nil {
		return nil, fail(err)
	}
	if st.Size() > r.maxSize {
		return nil, tooLarge(r.url, key, st.Size(), r.maxSize)
	}
	f, err := openDocument(real)
	if err != nil {
		return nil, fmt.Errorf("registry %s: reading %q: %w (check that %s is readable)", r.url, key, err, p)
	}
	defer f.Close()
	// Checked again on the open file: the entry may have been replaced since the Stat.
	if st, err := f.Stat(); err != nil {
		return nil, fail(err)
	} else if err := notDocument(st.Mode()); err != nil {
		return nil, fail(err)
	}
	data, err := io.ReadAll(io.LimitReader(f, r.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("registry %s: reading %q: %w (check that %s is readable)", r.url, key, err, p)
	}
	if int64(len(data)) > r.maxSize {
		return nil, tooLarge(r.url, key, 0, r.maxSize)
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
//
// A registry directory that does not exist is an error (ErrNoRegistry), not an empty registry:
// a registry moved away under a running runner must fail its ticks, not read as "every
// pipeline was deleted". A directory under it that does not exist (no pipelines/ yet) is an
// empty listing. An entry that cannot be read as a document is named in a *ListError beside
// the keys that could be listed; only the temporary files of an interrupted Put are left out.
func (r *fileRegistry) List(ctx context.Context, prefix string) ([]string, error) {
	entries, err := r.ListStamped(ctx, prefix)
	return Keys(entries), err
}

// ListStamped lists with each file's size, modification time (ns) and inode as its stamp,
// from the Lstat/Stat the walk makes anyway: a Put renames a new file into place, so even a
// rewrite within the clock's resolution changes the inode.
func (r *fileRegistry) ListStamped(_ context.Context, prefix string) ([]Entry, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("registry %s: list prefix %w", r.url, err)
	}
	realRoot, err := r.realRoot()
	if err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix names: "pipelines/daily" walks pipelines/.
	startKey := ""
	if dir := path.Dir(prefix + "x"); dir != "." {
		startKey = dir
	}
	w := &walker{realRoot: realRoot, prefix: prefix, startKey: startKey, keys: []Entry{}, visited: map[string]bool{realRoot: true}}
	if startKey == "" {
		w.dir(r.root, "")
	} else {
		w.entry(filepath.Join(r.root, filepath.FromSlash(startKey)), startKey, true)
	}
	if w.startErr != nil {
		// Nothing under the prefix is known: that is the listing failing, not one entry. Were
		// it an entry, a pipelines/ that cannot be read would list as "no pipelines", and a
		// runner would take every pipeline for deleted.
		where := startKey
		if where == "" {
			where = "the registry directory"
		}
		return nil, fmt.Errorf("registry %s: listing %q: %s %w", r.url, prefix, where, w.startErr)
	}
	sort.Slice(w.keys, func(i, j int) bool { return w.keys[i].Key < w.keys[j].Key })
	if len(w.problems.Entries) > 0 {
		w.problems.URL, w.problems.Prefix = r.url, prefix
		w.problems.sort()
		return w.keys, &w.problems
	}
	return w.keys, nil
}

// walker lists one prefix of a file registry, following symlinks within the registry.
type walker struct {
	realRoot string
	prefix   string
	// startKey is the directory the walk starts at ("" for the registry directory); startErr
	// is why it could not be walked.
	startKey string
	startErr error
	keys     []Entry
	problems ListError
	// visited are the resolved directories walked, so a symlink back up the tree is walked
	// once instead of forever.
	visited map[string]bool
}

// relevant reports whether key (a file or a directory) is or may hold keys under the prefix.
func (w *walker) relevant(key string, isDir bool) bool {
	if strings.HasPrefix(key, w.prefix) {
		return true
	}
	return isDir && strings.HasPrefix(w.prefix, key+"/")
}

func (w *walker) fail(key string, err error) {
	if key == w.startKey {
		w.startErr = err
		return
	}
	if strings.HasPrefix(key, w.prefix) || strings.HasPrefix(w.prefix, key+"/") {
		w.problems.Entries = append(w.problems.Entries, EntryError{Key: key, Err: err})
	}
}

// entry lists the entry at p (key k). start is true for the directory the prefix names, which
// may be missing.
func (w *walker) entry(p, k string, start bool) {
	lst, err := os.Lstat(p)
	if err != nil {
		if start && errors.Is(err, fs.ErrNotExist) {
			return
		}
		w.fail(k, err)
		return
	}
	mode, info := lst.Mode(), lst
	if mode&fs.ModeSymlink != 0 {
		real, err := resolve(w.realRoot, p)
		if err != nil {
			w.fail(k, err)
			return
		}
		st, err := os.Stat(real)
		if err != nil {
			w.fail(k, err)
			return
		}
		if st.IsDir() {
			if w.visited[real] {
				return // already walked under another name: a loop, or a second link to it
			}
			w.visited[real] = true
		}
		mode, info = st.Mode(), st
	}
	switch {
	case start && !mode.IsDir() && !strings.HasPrefix(k, w.prefix):
		// pipelines is a file (or a pipe…) where the directory of the prefix is expected.
		w.fail(k, fmt.Errorf("is not a directory (mode %s), where the directory of %q is expected", mode, w.prefix))
	case mode.IsDir() && strings.HasSuffix(k, ".json"):
		// Every document key ends in .json and no namespace does: a directory with that name
		// stands where a document is expected, and listing only what it holds would hide it.
		w.fail(k, notDocument(mode))
	case mode.IsDir():
		if w.relevant(k, true) {
			w.dir(p, k)
		}
	case mode.IsRegular():
		if strings.HasPrefix(k, w.prefix) {
			w.keys = append(w.keys, Entry{Key: k, Stamp: fileStamp(info)})
		}
	default:
		w.fail(k, notDocument(mode))
	}
}

// dir lists the directory at p (key k, "" for the registry directory).
func (w *walker) dir(p, k string) {
	entries, err := os.ReadDir(p)
	if err != nil {
		// ReadDir returns what it read before the error; those are still listed.
		w.fail(k, fmt.Errorf("cannot be read: %w", err))
	}
	for _, d := range entries {
		if strings.HasPrefix(d.Name(), tempPrefix) {
			continue
		}
		ck := d.Name()
		if k != "" {
			ck = k + "/" + d.Name()
		}
		if !w.relevant(ck, true) {
			continue
		}
		w.entry(filepath.Join(p, d.Name()), ck, false)
	}
}

// fileStamp is a file's stamp: size, modification time in nanoseconds and, where the system
// has one, the inode.
func fileStamp(info fs.FileInfo) string {
	return fmt.Sprintf("%d/%d/%d", info.Size(), info.ModTime().UnixNano(), inode(info))
}
