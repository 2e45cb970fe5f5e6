package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

func openFile(t *testing.T, root string, opts ...registry.Option) registry.Registry {
	t.Helper()
	reg, err := registry.Open(context.Background(), "file://"+root, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A missing registry directory read as an empty registry (issue 11, item 5): `validate` exited
// 0 with 0 documents, and a registry moved away under `serve` turned every pipeline disabled.
func TestFileRegistry_MissingRootIsAnErrorNotAnEmptyRegistry(t *testing.T) {
	root := filepath.Join(t.TempDir(), "registry")
	reg := openFile(t, root)
	want := fmt.Sprintf("registry file://%s: directory %s does not exist (the registry is missing): was it moved or deleted? "+
		"The first terraform apply that publishes to it creates it; check the registry URL", root, root)
	for _, prefix := range []string{"", registry.PipelinesPrefix} {
		keys, err := reg.List(context.Background(), prefix)
		if !errors.Is(err, registry.ErrNoRegistry) || err.Error() != want || keys != nil {
			t.Errorf("List(%q) of a missing registry = %q, %v; want nil and %s", prefix, keys, err, want)
		}
	}
	// Get still says "not found" (Terraform's first apply checks that a key is free), and why.
	_, err := reg.Get(context.Background(), "pipelines/a.json")
	if !errors.Is(err, registry.ErrNotFound) || !errors.Is(err, registry.ErrNoRegistry) {
		t.Errorf("Get in a missing registry = %v, want ErrNotFound and ErrNoRegistry", err)
	}

	// Published, then moved away under a reader.
	mustPut(t, reg, "pipelines/a.json", "{}")
	if got := mustList(t, reg, registry.PipelinesPrefix); !slices.Equal(got, []string{"pipelines/a.json"}) {
		t.Fatalf("List = %q", got)
	}
	must(t, os.Rename(root, root+".moved"))
	if _, err := reg.List(context.Background(), registry.PipelinesPrefix); !errors.Is(err, registry.ErrNoRegistry) {
		t.Errorf("List after the registry was moved away = %v, want ErrNoRegistry", err)
	}
	// A file where the registry directory should be is refused too.
	must(t, os.WriteFile(root, []byte("x"), 0o600))
	if _, err := reg.List(context.Background(), ""); err == nil || err.Error() != fmt.Sprintf("registry file://%s: %s is not a directory: point the registry URL at a directory", root, root) {
		t.Errorf("List of a file = %v", err)
	}
}

// An entry of pipelines/ that is not a readable document was skipped silently, or made the whole
// listing fail (issue 11, items 3 and 5). It is now named, and the other documents are listed.
// Each entry fails for real, also for root: a directory where a document is expected, a named
// pipe, a dangling symlink, a symlink loop, a symlink out of the registry, a directory that
// cannot be read (a directory symlink that loops).
func TestFileRegistry_UnreadableEntriesAreNamedAndTheOthersListed(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "registry")
	outside := filepath.Join(base, "outside.json")
	must(t, os.WriteFile(outside, []byte(`{"secret":true}`), 0o600))
	reg := openFile(t, root)
	mustPut(t, reg, "pipelines/good.json", "{}")
	mustPut(t, reg, "elsewhere/linked.json", "{}")
	pdir := filepath.Join(root, "pipelines")
	must(t, os.Mkdir(filepath.Join(pdir, "dir.json"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(pdir, "fifo.json"), 0o644))
	must(t, os.Symlink("nowhere.json", filepath.Join(pdir, "dangling.json")))
	must(t, os.Symlink("loop.json", filepath.Join(pdir, "loop.json")))
	must(t, os.Symlink(outside, filepath.Join(pdir, "outside.json")))
	must(t, os.Symlink("../elsewhere/linked.json", filepath.Join(pdir, "inside.json")))

	keys, err := reg.List(context.Background(), registry.PipelinesPrefix)
	if want := []string{"pipelines/good.json", "pipelines/inside.json"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want the readable documents %q", keys, want)
	}
	var le *registry.ListError
	if !errors.As(err, &le) {
		t.Fatalf("List error = %v, want a *ListError", err)
	}
	realBase, _ := filepath.EvalSymlinks(base)
	want := []string{
		"pipelines/dangling.json: is a symlink to nowhere.json, which cannot be resolved (dangling, or a loop): lstat " + filepath.Join(realBase, "registry", "pipelines", "nowhere.json") + ": no such file or directory",
		"pipelines/dir.json: is a directory, where a document (a regular file) is expected",
		"pipelines/fifo.json: is a named pipe (FIFO), not a regular file: documents are regular files",
		"pipelines/loop.json: is a symlink to loop.json, which cannot be resolved (dangling, or a loop): EvalSymlinks: too many links",
		"pipelines/outside.json: resolves to " + filepath.Join(realBase, "outside.json") + ", outside the registry directory " + filepath.Join(realBase, "registry") + ": symlinks are followed only within the registry",
	}
	var got []string
	for _, e := range le.Entries {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("unreadable entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "registry file://"+root+`: listing "pipelines/": 5 entries cannot be read as documents: pipelines/dangling.json: `) {
		t.Errorf("List error text = %s", err)
	}

	// Get of each says the same, and never blocks on the pipe.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, key := range []string{"pipelines/dangling.json", "pipelines/dir.json", "pipelines/fifo.json", "pipelines/loop.json", "pipelines/outside.json"} {
			_, err := reg.Get(context.Background(), key)
			_, reason, _ := strings.Cut(want[i], ": ")
			if err == nil || !strings.Contains(err.Error(), key) || !strings.HasSuffix(err.Error(), reason) {
				t.Errorf("Get(%s) = %v, want it to end with %q", key, err, reason)
			}
		}
		if got := mustGet(t, reg, "pipelines/inside.json"); got != "{}" {
			t.Errorf("Get through a symlink within the registry = %q", got)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Get blocked (opening the named pipe?)")
	}
}

// A pipelines/ directory that is a symlink was skipped silently (issue 11, item 5). Within the
// registry it is followed; out of it, it is refused by name.
func TestFileRegistry_SymlinkedPipelinesDirectoryIsFollowedWithinTheRootOnly(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "registry")
	reg := openFile(t, root)
	mustPut(t, reg, "releases/v1/pipelines/a.json", `{"a":1}`)
	must(t, os.Symlink("releases/v1/pipelines", filepath.Join(root, "pipelines")))
	if got := mustList(t, reg, registry.PipelinesPrefix); !slices.Equal(got, []string{"pipelines/a.json"}) {
		t.Errorf("List through a symlinked pipelines/ = %q, want [pipelines/a.json]", got)
	}
	if got := mustGet(t, reg, "pipelines/a.json"); got != `{"a":1}` {
		t.Errorf("Get through a symlinked pipelines/ = %q", got)
	}
	// A link back up to the registry directory is not walked again: what it holds is listed
	// under its own keys already.
	up := filepath.Join(root, "releases", "v1", "pipelines", "up")
	must(t, os.Symlink("../../..", up))
	if got, err := reg.List(context.Background(), ""); err != nil || !slices.Equal(got, []string{"pipelines/a.json", "releases/v1/pipelines/a.json"}) {
		t.Errorf("List with a symlink loop = %q, %v; want each document once under its own key", got, err)
	}
	must(t, os.Remove(up))

	// The whole registry directory may be a symlink: the resolved directory is the boundary.
	link := filepath.Join(base, "current")
	must(t, os.Symlink(root, link))
	if got := mustList(t, openFile(t, link), registry.PipelinesPrefix); !slices.Equal(got, []string{"pipelines/a.json"}) {
		t.Errorf("List of a symlinked registry = %q", got)
	}

	// pipelines/ pointing out of the registry, dangling, or a file: the listing fails (it is
	// not one entry: nothing under pipelines/ is known, and "no pipelines" would read as every
	// pipeline deleted).
	other := t.TempDir()
	must(t, os.WriteFile(filepath.Join(other, "b.json"), []byte("{}"), 0o600))
	realOther, _ := filepath.EvalSymlinks(other)
	realRoot, _ := filepath.EvalSymlinks(root)
	for _, tc := range []struct {
		setup func()
		want  string
	}{
		{func() { must(t, os.Symlink(other, filepath.Join(root, "pipelines"))) },
			"pipelines resolves to " + realOther + ", outside the registry directory " + realRoot + ": symlinks are followed only within the registry"},
		{func() { must(t, os.Symlink("releases/v2/pipelines", filepath.Join(root, "pipelines"))) },
			"pipelines is a symlink to releases/v2/pipelines, which cannot be resolved (dangling, or a loop): lstat " + filepath.Join(realRoot, "releases", "v2") + ": no such file or directory"},
		{func() { must(t, os.WriteFile(filepath.Join(root, "pipelines"), []byte("x"), 0o600)) },
			`pipelines is not a directory (mode -rw-------), where the directory of "pipelines/" is expected`},
	} {
		must(t, os.Remove(filepath.Join(root, "pipelines")))
		tc.setup()
		keys, err := reg.List(context.Background(), registry.PipelinesPrefix)
		want := "registry file://" + root + `: listing "pipelines/": ` + tc.want
		var le *registry.ListError
		if keys != nil || err == nil || errors.As(err, &le) || err.Error() != want {
			t.Errorf("List = %q, %v\nwant nil and %s", keys, err, want)
		}
	}
}

// An 80 MB document was read whole, by every tick (issue 11, item 6). Put and Get refuse a
// document over the maximum size, naming it and the limit, on every driver.
func TestRegistry_DocumentOverTheMaxSizeIsRefused(t *testing.T) {
	const limit = 1000
	opens := map[string]func(t *testing.T) (registry.Registry, func(key string, data []byte)){
		"file": func(t *testing.T) (registry.Registry, func(string, []byte)) {
			root := t.TempDir()
			return openFile(t, root, registry.WithMaxDocumentSize(limit)), func(key string, data []byte) {
				p := filepath.Join(root, filepath.FromSlash(key))
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				must(t, os.WriteFile(p, data, 0o600))
			}
		},
		"s3": func(t *testing.T) (registry.Registry, func(string, []byte)) {
			client := s3Client(t)
			bucket := stub.NewBucket(t)
			reg, err := registry.Open(context.Background(), "s3://"+bucket+"/p", client, registry.WithMaxDocumentSize(limit))
			must(t, err)
			return reg, func(key string, data []byte) {
				_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/" + key), Body: strings.NewReader(string(data))})
				must(t, err)
			}
		},
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			reg, write := open(t)
			if reg.MaxDocumentSize() != limit {
				t.Errorf("MaxDocumentSize = %d", reg.MaxDocumentSize())
			}
			big := strings.Repeat("x", limit+1)
			err := reg.Put(context.Background(), "pipelines/big.json", []byte(big))
			want := fmt.Sprintf(`registry %s: document "pipelines/big.json" is 1001 bytes, over the maximum document size of 1000B (1000 bytes): document too large; `+
				"split the pipeline, or raise max_document_size in the provider and the runner configuration", reg.URL())
			if !errors.Is(err, registry.ErrTooLarge) || err.Error() != want {
				t.Errorf("Put over the limit = %v\nwant %s", err, want)
			}
			mustPut(t, reg, "pipelines/fits.json", strings.Repeat("y", limit))
			write("pipelines/big.json", []byte(big))
			if _, err := reg.Get(context.Background(), "pipelines/big.json"); !errors.Is(err, registry.ErrTooLarge) || err.Error() != want {
				t.Errorf("Get over the limit = %v\nwant %s", err, want)
			}
			if got := mustGet(t, reg, "pipelines/fits.json"); len(got) != limit {
				t.Errorf("Get at the limit = %d bytes", len(got))
			}
		})
	}
	// The default is a few MiB.
	if got := openFile(t, t.TempDir()).MaxDocumentSize(); got != 4<<20 {
		t.Errorf("default MaxDocumentSize = %d, want 4 MiB", got)
	}
}

// An s3:// registry is missing when its bucket is: List says so instead of listing nothing (a
// prefix with no objects is an empty registry: S3 has no directories).
func TestS3Registry_MissingBucketIsAListError(t *testing.T) {
	reg, err := registry.Open(context.Background(), "s3://no-such-bucket/sluice", s3Client(t))
	must(t, err)
	keys, err := reg.List(context.Background(), registry.PipelinesPrefix)
	if err == nil || keys != nil || !strings.Contains(err.Error(), `s3:ListBucket "pipelines/"`) ||
		!strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist: create it or fix the registry URL`) {
		t.Errorf("List of a missing bucket = %q, %v", keys, err)
	}
}
