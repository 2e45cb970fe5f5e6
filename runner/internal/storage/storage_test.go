package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

var s3x *acctest.S3

func TestMain(m *testing.M) {
	x, err := acctest.StartS3(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s3x = x
	code := m.Run()
	x.Stop()
	os.Exit(code)
}

// driver is one place the suite runs against: base is a fresh, empty directory URL ending in "/".
type driver struct {
	name  string
	store *storage.Store
	base  string
}

func newS3Store(t *testing.T) *storage.Store {
	t.Helper()
	c, err := s3x.Client()
	if err != nil {
		t.Fatal(err)
	}
	return storage.New(c)
}

// forEachDriver runs f against a file:// directory and an s3:// bucket prefix, each fresh.
func forEachDriver(t *testing.T, f func(t *testing.T, d driver)) {
	t.Helper()
	t.Run("file", func(t *testing.T) {
		f(t, driver{name: "file", store: storage.New(nil), base: "file://" + t.TempDir() + "/"})
	})
	t.Run("s3", func(t *testing.T) {
		f(t, driver{name: "s3", store: newS3Store(t), base: "s3://" + s3x.NewBucket(t) + "/data/"})
	})
}

func put(t *testing.T, s *storage.Store, url, data string) {
	t.Helper()
	if err := s.Put(context.Background(), url, strings.NewReader(data)); err != nil {
		t.Fatalf("Put(%s): %v", url, err)
	}
}

func read(t *testing.T, s *storage.Store, url string) string {
	t.Helper()
	rc, err := s.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return string(b)
}

func exists(t *testing.T, s *storage.Store, url string) bool {
	t.Helper()
	ok, err := s.Exists(context.Background(), url)
	if err != nil {
		t.Fatalf("Exists(%s): %v", url, err)
	}
	return ok
}

func list(t *testing.T, s *storage.Store, prefix string) []storage.Object {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%s): %v", prefix, err)
	}
	return objs
}

func TestStore_PutThenOpenReturnsTheBytesAndOverwriteReplacesThem(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		url := d.base + "day=2024-01-01/part-0.csv"
		if exists(t, d.store, url) {
			t.Fatalf("Exists(%s) = true before any Put", url)
		}
		put(t, d.store, url, "a,b\n1,2\n")
		if got := read(t, d.store, url); got != "a,b\n1,2\n" {
			t.Errorf("Open after Put = %q, want %q", got, "a,b\n1,2\n")
		}
		if !exists(t, d.store, url) {
			t.Errorf("Exists(%s) = false after Put", url)
		}
		put(t, d.store, url, "x")
		if got := read(t, d.store, url); got != "x" {
			t.Errorf("Open after the second Put = %q, want %q", got, "x")
		}
		put(t, d.store, d.base+"empty", "")
		if got := read(t, d.store, d.base+"empty"); got != "" {
			t.Errorf("empty object reads back as %q", got)
		}
	})
}

func TestStore_MissingObjectIsNotFoundAndNamesTheURL(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		url := d.base + "nope/missing.csv"
		_, err := d.store.Open(context.Background(), url)
		if !storage.IsNotFound(err) {
			t.Fatalf("Open(%s) error = %v, want one for which IsNotFound is true", url, err)
		}
		if !strings.Contains(err.Error(), url) {
			t.Errorf("error %q does not name %s", err, url)
		}
		if exists(t, d.store, url) {
			t.Errorf("Exists(%s) = true", url)
		}
	})
}

func TestStore_ListReturnsObjectsUnderThePrefixSortedWithSizes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		files := map[string]string{
			"a/part-1.csv":        "11",
			"a/part-0.csv":        "0",
			"a/sub/part-2.csv":    "222",
			"a/_SUCCESS":          "",
			"a/.part-0.csv.crc":   "crc",
			"a/.staging/part-9":   "tmp",
			"a/sub/.hidden":       "h",
			"ab/x.csv":            "x",
			"b/part-0.csv":        "b",
			"a.csv":               "dot",
			"a/other-0.csv":       "o",
			"a/part-10/inner.csv": "in",
		}
		for name, data := range files {
			put(t, d.store, d.base+name, data)
		}
		cases := []struct {
			prefix string
			want   []storage.Object
		}{
			{"a/", []storage.Object{
				{URL: d.base + "a/_SUCCESS", Size: 0},
				{URL: d.base + "a/other-0.csv", Size: 1},
				{URL: d.base + "a/part-0.csv", Size: 1},
				{URL: d.base + "a/part-1.csv", Size: 2},
				{URL: d.base + "a/part-10/inner.csv", Size: 2},
				{URL: d.base + "a/sub/part-2.csv", Size: 3},
			}},
			{"a/part-", []storage.Object{
				{URL: d.base + "a/part-0.csv", Size: 1},
				{URL: d.base + "a/part-1.csv", Size: 2},
				{URL: d.base + "a/part-10/inner.csv", Size: 2},
			}},
			{"a", []storage.Object{
				{URL: d.base + "a.csv", Size: 3},
				{URL: d.base + "a/_SUCCESS", Size: 0},
				{URL: d.base + "a/other-0.csv", Size: 1},
				{URL: d.base + "a/part-0.csv", Size: 1},
				{URL: d.base + "a/part-1.csv", Size: 2},
				{URL: d.base + "a/part-10/inner.csv", Size: 2},
				{URL: d.base + "a/sub/part-2.csv", Size: 3},
				{URL: d.base + "ab/x.csv", Size: 1},
			}},
			{"a/sub/", []storage.Object{{URL: d.base + "a/sub/part-2.csv", Size: 3}}},
			{"a/part-0.csv", []storage.Object{{URL: d.base + "a/part-0.csv", Size: 1}}},
			{"missing/", []storage.Object{}},
			{"a/zzz", []storage.Object{}},
		}
		for _, c := range cases {
			got := list(t, d.store, d.base+c.prefix)
			if got == nil || !slices.Equal(got, c.want) {
				t.Errorf("List(%q) =\n  %v\nwant\n  %v", c.prefix, got, c.want)
			}
		}
	})
}

func TestStore_HiddenPrefixIsListedWhenNamedExplicitly(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		put(t, d.store, d.base+".cache/x", "x")
		want := []storage.Object{{URL: d.base + ".cache/x", Size: 1}}
		if got := list(t, d.store, d.base+".cache/"); !slices.Equal(got, want) {
			t.Errorf("List(.cache/) = %v, want %v: only segments below the prefix are hidden", got, want)
		}
		if got := list(t, d.store, d.base+".ca"); !slices.Equal(got, want) {
			t.Errorf("List(.ca) = %v, want %v: the prefix reaches into .cache", got, want)
		}
		if got := list(t, d.store, d.base); len(got) != 0 {
			t.Errorf("List(base) = %v, want nothing: .cache is hidden below base", got)
		}
		if got := list(t, d.store, d.base+"c"); len(got) != 0 {
			t.Errorf("List(c) = %v, want nothing", got)
		}
	})
}

func TestStore_ListCrossesS3Pages(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		d.store.SetPageSize(2)
		var want []storage.Object
		for i := range 7 {
			url := fmt.Sprintf("%sp/%02d", d.base, i)
			put(t, d.store, url, "z")
			want = append(want, storage.Object{URL: url, Size: 1})
		}
		if got := list(t, d.store, d.base+"p/"); !slices.Equal(got, want) {
			t.Errorf("List over pages of 2 = %v, want %v", got, want)
		}
	})
}

// patternReader yields n deterministic bytes without holding them: Put must stream it.
type patternReader struct{ n, off int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.off)
	for i := range k {
		p[i] = byte((r.off + i) * 7 % 251)
	}
	r.off += k
	return int(k), nil
}

func digest(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), n
}

func TestStore_PutStreamsALargeNonSeekableBody(t *testing.T) {
	const size = 6<<20 + 123
	want, _ := digest(t, &patternReader{n: size})
	forEachDriver(t, func(t *testing.T, d driver) {
		spool := t.TempDir()
		d.store.SetTempDir(spool)
		url := d.base + "big.bin"
		if err := d.store.Put(context.Background(), url, &patternReader{n: size}); err != nil {
			t.Fatal(err)
		}
		rc, err := d.store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		got, n := digest(t, rc)
		_ = rc.Close()
		if n != size || got != want {
			t.Errorf("read back %d bytes with sha256 %s, want %d bytes with %s", n, got, int64(size), want)
		}
		if objs := list(t, d.store, url); len(objs) != 1 || objs[0].Size != size {
			t.Errorf("List(%s) = %v, want one object of %d bytes", url, objs, int64(size))
		}
		if left, _ := os.ReadDir(spool); len(left) != 0 {
			t.Errorf("Put left spool files behind: %v", left)
		}
	})
}

func TestStore_PutSendsOnlyTheRestOfASeekableBody(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		r := bytes.NewReader([]byte("skip-keep"))
		if _, err := r.Seek(5, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if err := d.store.Put(context.Background(), d.base+"k", r); err != nil {
			t.Fatal(err)
		}
		if got := read(t, d.store, d.base+"k"); got != "keep" {
			t.Errorf("object = %q, want %q (the bytes from the reader's offset on)", got, "keep")
		}
	})
}

func TestStore_PutFromAPipeSpoolsIt(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, _ = io.WriteString(pw, "through a pipe")
			_ = pw.Close()
		}()
		defer pr.Close()
		// *os.File is an io.ReadSeeker, but a pipe cannot seek.
		if err := d.store.Put(context.Background(), d.base+"piped", pr); err != nil {
			t.Fatal(err)
		}
		if got := read(t, d.store, d.base+"piped"); got != "through a pipe" {
			t.Errorf("object = %q", got)
		}
	})
}

// failingReader fails after some bytes, like a source whose connection drops.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.sent {
		return 0, errors.New("connection reset")
	}
	r.sent = true
	return copy(p, "partial"), nil
}

func TestStore_FailedPutLeavesTheOldObject(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		url := d.base + "keep.csv"
		put(t, d.store, url, "old")
		err := d.store.Put(context.Background(), url, &failingReader{})
		if err == nil || !strings.Contains(err.Error(), "connection reset") || !strings.Contains(err.Error(), url) {
			t.Fatalf("Put from a failing reader: error = %v, want the reader's error and the URL", err)
		}
		if got := read(t, d.store, url); got != "old" {
			t.Errorf("object after a failed Put = %q, want the old %q", got, "old")
		}
		if got := list(t, d.store, d.base); len(got) != 1 {
			t.Errorf("List after a failed Put = %v, want only keep.csv (no temporary files)", got)
		}
	})
}

func TestStore_PutWithCanceledContextWritesNothing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		url := d.base + "canceled"
		if err := d.store.Put(ctx, url, &patternReader{n: 1 << 20}); !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a canceled context: error = %v, want context.Canceled", err)
		}
		if exists(t, d.store, url) {
			t.Errorf("%s exists after a canceled Put", url)
		}
	})
}

func TestStore_DirectoryURLsAreRefusedForObjects(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		ctx := context.Background()
		url := d.base + "dir/"
		if _, err := d.store.Open(ctx, url); !errors.Is(err, storage.ErrInvalidURL) {
			t.Errorf("Open(%s) error = %v, want ErrInvalidURL", url, err)
		}
		if err := d.store.Put(ctx, url, strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidURL) {
			t.Errorf("Put(%s) error = %v, want ErrInvalidURL", url, err)
		}
		if _, err := d.store.Exists(ctx, url); !errors.Is(err, storage.ErrInvalidURL) || !strings.Contains(err.Error(), "directory") {
			t.Errorf("Exists(%s) error = %v, want ErrInvalidURL saying it names a directory", url, err)
		}
	})
}

func TestStore_ObjectNamesWithSpacesAndUnicodeAreTakenLiterally(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d driver) {
		url := d.base + "dir/a b%20ü.csv"
		put(t, d.store, url, "u")
		if got := read(t, d.store, url); got != "u" {
			t.Errorf("read %q", got)
		}
		want := []storage.Object{{URL: url, Size: 1}}
		if got := list(t, d.store, d.base+"dir/"); !slices.Equal(got, want) {
			t.Errorf("List = %v, want %v", got, want)
		}
	})
}

func TestValidate_RefusesMalformedURLs(t *testing.T) {
	cases := []struct{ url, want string }{
		{"http://example.com/x", "not supported"},
		{"/abs/path", "not supported"},
		{"S3://bucket/key", "not supported"},
		{"s3://", "no bucket name"},
		{"s3:///key", "no bucket name"},
		{"s3://Bad_Bucket/key", "not valid"},
		{"s3://ab/key", "not valid"},
		{"s3://bucket", "has no key"},
		{"s3://bucket/", "names a directory"},
		{"s3://bucket/key/", "names a directory"},
		{"file://", "has no path"},
		{"file:///tmp/dir/", "names a directory"},
		{"file:///tmp/a\x00b", "NUL byte"},
	}
	for _, c := range cases {
		err := storage.Validate(c.url)
		if !errors.Is(err, storage.ErrInvalidURL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidURL saying %q", c.url, err, c.want)
		}
	}
	for _, ok := range []string{"s3://bucket/key", "s3://my.bucket-1/a/b.csv", "file:///tmp/x", "file://rel/x"} {
		if err := storage.Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", ok, err)
		}
	}
	for _, ok := range []string{"s3://bucket", "s3://bucket/", "s3://bucket/p/", "file:///tmp/", "file://rel"} {
		if err := storage.ValidatePrefix(ok); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", ok, err)
		}
	}
	if err := storage.ValidatePrefix("ftp://x/"); !errors.Is(err, storage.ErrInvalidURL) {
		t.Errorf("ValidatePrefix(ftp://x/) = %v, want ErrInvalidURL", err)
	}
}

func TestStore_InvalidURLErrorsBeforeAnyIO(t *testing.T) {
	s := storage.New(nil)
	ctx := context.Background()
	if _, err := s.List(ctx, "gs://bucket/x/"); !errors.Is(err, storage.ErrInvalidURL) || !strings.Contains(err.Error(), "gs://bucket/x/") {
		t.Errorf("List(gs://...) = %v, want ErrInvalidURL naming the URL", err)
	}
	if _, err := s.Open(ctx, "gs://bucket/x"); !errors.Is(err, storage.ErrInvalidURL) {
		t.Errorf("Open(gs://...) = %v, want ErrInvalidURL", err)
	}
	if err := s.Put(ctx, "gs://bucket/x", strings.NewReader("")); !errors.Is(err, storage.ErrInvalidURL) {
		t.Errorf("Put(gs://...) = %v, want ErrInvalidURL", err)
	}
	if _, err := s.Exists(ctx, "gs://bucket/x"); !errors.Is(err, storage.ErrInvalidURL) {
		t.Errorf("Exists(gs://...) = %v, want ErrInvalidURL", err)
	}
}

func TestJoin(t *testing.T) {
	cases := []struct{ base, name, want string }{
		{"s3://b/p/", "x.csv", "s3://b/p/x.csv"},
		{"s3://b/p", "x.csv", "s3://b/p/x.csv"},
		{"s3://b/p/", "/x.csv", "s3://b/p/x.csv"},
		{"s3://b/", "d/x.csv", "s3://b/d/x.csv"},
		{"s3://b", "x.csv", "s3://b/x.csv"},
		{"file:///d/", "sub/x", "file:///d/sub/x"},
		{"file://rel", "x", "file://rel/x"},
		{"file:///d/", "", "file:///d/"},
	}
	for _, c := range cases {
		if got := storage.Join(c.base, c.name); got != c.want {
			t.Errorf("Join(%q, %q) = %q, want %q", c.base, c.name, got, c.want)
		}
	}
}
