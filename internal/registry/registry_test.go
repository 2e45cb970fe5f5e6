package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// stub is the package's S3 stand-in, started by TestMain.
var stub *acctest.S3

func TestMain(m *testing.M) {
	var err error
	stub, err = acctest.StartS3(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stub.Stop()
	os.Exit(code)
}

// countingS3 counts ListObjectsV2 calls, to show that List follows pages.
type countingS3 struct {
	registry.S3API
	lists atomic.Int64
}

func (c *countingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.lists.Add(1)
	return c.S3API.ListObjectsV2(ctx, in, opts...)
}

// driver opens a fresh, empty registry. lists, when set, counts the S3 list calls.
type driver struct {
	name string
	open func(t *testing.T) (reg registry.Registry, lists *atomic.Int64)
}

func s3Client(t *testing.T) *s3.Client {
	t.Helper()
	c, err := stub.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openS3(t *testing.T, prefix string) (registry.Registry, *atomic.Int64) {
	t.Helper()
	client := &countingS3{S3API: s3Client(t)}
	reg, err := registry.Open(context.Background(), "s3://"+stub.NewBucket(t)+prefix, client)
	if err != nil {
		t.Fatal(err)
	}
	registry.SetListPageSize(reg, 3)
	return reg, &client.lists
}

// drivers is every registry implementation; each behaviour test runs against all of them.
var drivers = []driver{
	{"file absolute", func(t *testing.T) (registry.Registry, *atomic.Int64) {
		reg, err := registry.Open(context.Background(), "file://"+filepath.Join(t.TempDir(), "registry"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return reg, nil
	}},
	{"file relative", func(t *testing.T) (registry.Registry, *atomic.Int64) {
		t.Chdir(t.TempDir())
		reg, err := registry.Open(context.Background(), "file://out/registry", nil)
		if err != nil {
			t.Fatal(err)
		}
		return reg, nil
	}},
	{"s3 bucket", func(t *testing.T) (registry.Registry, *atomic.Int64) { return openS3(t, "") }},
	{"s3 prefix", func(t *testing.T) (registry.Registry, *atomic.Int64) { return openS3(t, "/team/sluice") }},
}

func forEachDriver(t *testing.T, test func(t *testing.T, reg registry.Registry, lists *atomic.Int64)) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			reg, lists := d.open(t)
			test(t, reg, lists)
		})
	}
}

func mustPut(t *testing.T, reg registry.Registry, key, data string) {
	t.Helper()
	if err := reg.Put(context.Background(), key, []byte(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, reg registry.Registry, key string) string {
	t.Helper()
	data, err := reg.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(data)
}

func mustList(t *testing.T, reg registry.Registry, prefix string) []string {
	t.Helper()
	keys, err := reg.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func TestRegistry_PutGetOverwrite(t *testing.T) {
	forEachDriver(t, func(t *testing.T, reg registry.Registry, _ *atomic.Int64) {
		key := registry.PipelineKey("daily_clicks")
		mustPut(t, reg, key, `{"version":"sha256:1"}`)
		if got := mustGet(t, reg, key); got != `{"version":"sha256:1"}` {
			t.Errorf("Get = %s, want the first document", got)
		}
		mustPut(t, reg, key, `{"version":"sha256:2"}`)
		if got := mustGet(t, reg, key); got != `{"version":"sha256:2"}` {
			t.Errorf("Get after overwrite = %s, want the second document", got)
		}
		mustPut(t, reg, "empty.json", "")
		if got := mustGet(t, reg, "empty.json"); got != "" {
			t.Errorf("Get of an empty document = %q", got)
		}
		if got := mustList(t, reg, ""); !slices.Equal(got, []string{"empty.json", key}) {
			t.Errorf("List = %q, want [empty.json %s]", got, key)
		}
	})
}

func TestRegistry_ListFiltersByPrefixSortsAndFollowsPages(t *testing.T) {
	forEachDriver(t, func(t *testing.T, reg registry.Registry, lists *atomic.Int64) {
		var pipelines, templates []string
		for i := range 8 {
			pipelines = append(pipelines, registry.PipelineKey(fmt.Sprintf("p%02d", 7-i)))
			templates = append(templates, registry.EMRTemplateKey(fmt.Sprintf("t%d", i)))
		}
		for _, k := range append(append([]string{"pipelines.json", "z/deep/er/doc.json"}, pipelines...), templates...) {
			mustPut(t, reg, k, k)
		}
		slices.Sort(pipelines)

		if lists != nil {
			lists.Store(0)
		}
		all := mustList(t, reg, "")
		if len(all) != 18 || !slices.IsSorted(all) {
			t.Errorf("List(\"\") = %q, want 18 sorted keys", all)
		}
		if lists != nil && lists.Load() < 6 {
			t.Errorf("List(\"\") made %d ListObjectsV2 calls, want at least 6 pages of 3", lists.Load())
		}
		if got := mustList(t, reg, registry.PipelinesPrefix); !slices.Equal(got, pipelines) {
			t.Errorf("List(pipelines/) = %q, want %q", got, pipelines)
		}
		if got := mustList(t, reg, registry.EMRTemplatesPrefix); !slices.Equal(got, templates) {
			t.Errorf("List(emr-templates/) = %q, want %q", got, templates)
		}
		if got := mustList(t, reg, "pipelines/p0"); !slices.Equal(got, pipelines) {
			t.Errorf("List(pipelines/p0) = %q, want %q", got, pipelines)
		}
		if got := mustList(t, reg, "pipelines"); len(got) != 9 || got[0] != "pipelines.json" {
			t.Errorf("List(pipelines) = %q, want pipelines.json and the 8 pipelines", got)
		}
		if got := mustList(t, reg, "z/"); !slices.Equal(got, []string{"z/deep/er/doc.json"}) {
			t.Errorf("List(z/) = %q, want the nested key with forward slashes", got)
		}
		if got := mustList(t, reg, "nothing/here/"); got == nil || len(got) != 0 {
			t.Errorf("List(nothing/here/) = %#v, want an empty list", got)
		}
	})
}

func TestRegistry_DeleteAndMissingKeys(t *testing.T) {
	forEachDriver(t, func(t *testing.T, reg registry.Registry, _ *atomic.Int64) {
		ctx := context.Background()
		key := registry.EMRTemplateKey("spark")

		_, err := reg.Get(ctx, key)
		if !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
		if msg := err.Error(); !strings.Contains(msg, reg.URL()) || !strings.Contains(msg, key) {
			t.Errorf("missing-key error %q does not name the registry and the key", msg)
		}
		if err := reg.Delete(ctx, key); err != nil {
			t.Errorf("Delete of a missing key: %v, want nil", err)
		}

		mustPut(t, reg, key, "{}")
		mustPut(t, reg, registry.EMRTemplateKey("spark2"), "{}")
		if err := reg.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := reg.Get(ctx, key); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
		if got := mustList(t, reg, ""); !slices.Equal(got, []string{registry.EMRTemplateKey("spark2")}) {
			t.Errorf("List after Delete = %q, want only spark2", got)
		}
		if err := reg.Delete(ctx, key); err != nil {
			t.Errorf("second Delete: %v, want nil", err)
		}
	})
}

func TestRegistry_RefusesKeysThatEscapeTheRoot(t *testing.T) {
	bad := []string{"", "/etc/passwd", "../outside.json", "pipelines/../../outside.json", "./a.json",
		"a//b.json", "pipelines/", `a\b.json`, "a/./b.json", "..", "a\x00b"}
	forEachDriver(t, func(t *testing.T, reg registry.Registry, _ *atomic.Int64) {
		ctx := context.Background()
		for _, key := range bad {
			if err := reg.Put(ctx, key, []byte("x")); err == nil {
				t.Errorf("Put(%q) succeeded, want a refusal", key)
			}
			if _, err := reg.Get(ctx, key); err == nil || errors.Is(err, registry.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want a refusal", key, err)
			}
			if err := reg.Delete(ctx, key); err == nil {
				t.Errorf("Delete(%q) succeeded, want a refusal", key)
			}
		}
		for _, prefix := range []string{"/", "../", "a/../", "a//"} {
			if _, err := reg.List(ctx, prefix); err == nil {
				t.Errorf("List(%q) succeeded, want a refusal", prefix)
			}
		}
		// A file registry that was never written to is missing, which List reports.
		got, err := reg.List(ctx, "")
		if err != nil && !errors.Is(err, registry.ErrNoRegistry) {
			t.Fatalf("List: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("refused keys left documents behind: %q", got)
		}
	})
}

// Writers overwrite one key with whole documents while readers read it: every read is one of
// the documents, never a mix or a truncation.
func TestRegistry_ConcurrentPutNeverYieldsAPartialDocument(t *testing.T) {
	const size, writers, puts, readers = 64 << 10, 4, 8, 4
	docs := make([][]byte, writers)
	for i := range docs {
		docs[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
	}
	forEachDriver(t, func(t *testing.T, reg registry.Registry, _ *atomic.Int64) {
		ctx := context.Background()
		key := registry.PipelineKey("hot")
		if err := reg.Put(ctx, key, docs[0]); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var done atomic.Bool
		var reads atomic.Int64
		errs := make(chan error, writers*puts+readers)
		for w := range writers {
			wg.Go(func() {
				for range puts {
					if err := reg.Put(ctx, key, docs[w]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var rg sync.WaitGroup
		for range readers {
			rg.Go(func() {
				for !done.Load() {
					data, err := reg.Get(ctx, key)
					if err != nil {
						errs <- fmt.Errorf("Get during Put: %w", err)
						return
					}
					reads.Add(1)
					if !slices.ContainsFunc(docs, func(d []byte) bool { return bytes.Equal(d, data) }) {
						errs <- fmt.Errorf("Get returned %d bytes that are none of the documents", len(data))
						return
					}
				}
			})
		}
		wg.Wait()
		done.Store(true)
		rg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if reads.Load() == 0 {
			t.Error("no read overlapped the writes")
		}
		if got := mustList(t, reg, ""); !slices.Equal(got, []string{key}) {
			t.Errorf("List after concurrent Puts = %q, want only %s (no temporary files)", got, key)
		}
	})
}
