package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

func TestFileStore_RelativeURLIsRelativeToTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := storage.New(nil)
	put(t, s, "file://out/day/x.csv", "rel")
	data, err := os.ReadFile(filepath.Join(dir, "out", "day", "x.csv"))
	if err != nil || string(data) != "rel" {
		t.Fatalf("file under the working directory: %q, %v", data, err)
	}
	want := []storage.Object{{URL: "file://out/day/x.csv", Size: 3}}
	for _, prefix := range []string{"file://out/", "file://out/day/x", "file://o"} {
		if got := list(t, s, prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %v, want %v", prefix, got, want)
		}
	}
	if !exists(t, s, "file://out/day/x.csv") {
		t.Error("Exists of a relative URL = false")
	}
}

func TestFileStore_PutIsReadableByOthersAndLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	s := storage.New(nil)
	url := "file://" + root + "/a/b/c.csv"
	put(t, s, url, "1")
	put(t, s, url, "2")
	entries, err := os.ReadDir(filepath.Join(root, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "c.csv" {
		t.Errorf("directory holds %v, want only c.csv", entries)
	}
	st, err := os.Stat(filepath.Join(root, "a", "b", "c.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", st.Mode().Perm())
	}
}

func TestFileStore_ListSkipsTemporaryFilesOfAPutInProgress(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ".sluice-tmp-x.csv-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := list(t, storage.New(nil), "file://"+root+"/"); len(got) != 0 {
		t.Errorf("List = %v, want nothing", got)
	}
}

func TestFileStore_DirectoryIsNotAnObject(t *testing.T) {
	root := t.TempDir()
	s := storage.New(nil)
	if err := os.MkdirAll(filepath.Join(root, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	url := "file://" + root + "/d"
	if exists(t, s, url) {
		t.Errorf("Exists(%s) = true for a directory", url)
	}
	_, err := s.Open(context.Background(), url)
	if err == nil || storage.IsNotFound(err) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open of a directory: error = %v, want one saying it is a directory", err)
	}
	if got := list(t, s, url+"/"); len(got) != 0 {
		t.Errorf("List of a directory of empty directories = %v, want nothing", got)
	}
}

func TestFileStore_PathBelowAFileIsNotFound(t *testing.T) {
	root := t.TempDir()
	s := storage.New(nil)
	put(t, s, "file://"+root+"/f", "x")
	url := "file://" + root + "/f/g"
	if _, err := s.Open(context.Background(), url); !storage.IsNotFound(err) {
		t.Errorf("Open(%s) = %v, want not found", url, err)
	}
	if exists(t, s, url) {
		t.Errorf("Exists(%s) = true", url)
	}
	err := s.Put(context.Background(), url, strings.NewReader("y"))
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Errorf("Put below a file: error = %v, want one naming %s", err, url)
	}
}

func TestFileStore_ListFollowsLinksToFilesButNotToDirectories(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	s := storage.New(nil)
	put(t, s, "file://"+other+"/target.csv", "abc")
	put(t, s, "file://"+other+"/sub/deep.csv", "d")
	if err := os.Symlink(filepath.Join(other, "target.csv"), filepath.Join(root, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "sub"), filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "gone"), filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
	want := []storage.Object{{URL: "file://" + root + "/link.csv", Size: 3}}
	if got := list(t, s, "file://"+root+"/"); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func TestFileStore_PrefixWithoutSlashMatchesSiblingDirectories(t *testing.T) {
	root := t.TempDir()
	s := storage.New(nil)
	put(t, s, "file://"+root+"/d/x", "1")
	put(t, s, "file://"+root+"/data/y", "2")
	put(t, s, "file://"+root+"/e/z", "3")
	want := []storage.Object{
		{URL: "file://" + root + "/d/x", Size: 1},
		{URL: "file://" + root + "/data/y", Size: 1},
	}
	if got := list(t, s, "file://"+root+"/d"); !slices.Equal(got, want) {
		t.Errorf("List(d) = %v, want %v", got, want)
	}
}

func TestFileStore_ListOfAFileThatIsNotADirectoryIsEmpty(t *testing.T) {
	root := t.TempDir()
	s := storage.New(nil)
	put(t, s, "file://"+root+"/f", "x")
	if got := list(t, s, "file://"+root+"/f/"); len(got) != 0 {
		t.Errorf("List(f/) where f is a file = %v, want nothing", got)
	}
}

func TestFileStore_ListHonoursTheContext(t *testing.T) {
	root := t.TempDir()
	s := storage.New(nil)
	put(t, s, "file://"+root+"/x", "1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.List(ctx, "file://"+root+"/"); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context = %v, want context.Canceled", err)
	}
}

func TestS3Store_WithoutAClientS3URLsSayS3IsNotConfigured(t *testing.T) {
	s := storage.New(nil)
	ctx := context.Background()
	url := "s3://bucket/key"
	_, errOpen := s.Open(ctx, url)
	_, errList := s.List(ctx, "s3://bucket/")
	_, errExists := s.Exists(ctx, url)
	errPut := s.Put(ctx, url, strings.NewReader("x"))
	for name, err := range map[string]error{"Open": errOpen, "List": errList, "Exists": errExists, "Put": errPut} {
		if !errors.Is(err, storage.ErrS3NotConfigured) || !strings.Contains(err.Error(), "S3 is not configured") ||
			!strings.Contains(err.Error(), "s3://bucket/") {
			t.Errorf("%s without an S3 client: error = %v, want ErrS3NotConfigured naming the URL", name, err)
		}
	}
	// file:// still works.
	root := t.TempDir()
	put(t, s, "file://"+root+"/x", "ok")
}

func TestS3Store_MissingBucketSaysSo(t *testing.T) {
	s := newS3Store(t)
	ctx := context.Background()
	_, err := s.List(ctx, "s3://no-such-bucket-here/p/")
	if err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket-here" does not exist`) ||
		!strings.Contains(err.Error(), "s3://no-such-bucket-here/p/") {
		t.Errorf("List on a missing bucket: error = %v, want one saying the bucket does not exist", err)
	}
	err = s.Put(ctx, "s3://no-such-bucket-here/k", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "s3:PutObject") {
		t.Errorf("Put on a missing bucket: error = %v", err)
	}
	_, err = s.Open(ctx, "s3://no-such-bucket-here/k")
	if err == nil || storage.IsNotFound(err) {
		t.Errorf("Open on a missing bucket: error = %v, want an error that is not a missing key", err)
	}
}

func TestS3Store_ListSkipsFolderPlaceholders(t *testing.T) {
	c, err := s3x.Client()
	if err != nil {
		t.Fatal(err)
	}
	bucket := s3x.NewBucket(t)
	for _, key := range []string{"in/", "in/sub/", "in/sub/x.csv"} {
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(""),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s := storage.New(c)
	want := []storage.Object{{URL: "s3://" + bucket + "/in/sub/x.csv", Size: 0}}
	if got := list(t, s, "s3://"+bucket+"/in/"); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if got := list(t, s, "s3://"+bucket); !slices.Equal(got, want) {
		t.Errorf("List of the whole bucket = %v, want %v", got, want)
	}
}
