package registry_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

func writeFile(p, data string) error { return os.WriteFile(p, []byte(data), 0o600) }

func TestFileRegistry_RelativePathIsResolvedAtOpen(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	reg, err := registry.Open(context.Background(), "file://reg", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // a later chdir does not move the registry
	mustPut(t, reg, "pipelines/a.json", "{}")
	if _, err := os.Stat(filepath.Join(dir, "reg", "pipelines", "a.json")); err != nil {
		t.Errorf("document not under the directory the relative URL named at Open: %v", err)
	}
	if reg.URL() != "file://reg" {
		t.Errorf("URL() = %q, want the URL as given", reg.URL())
	}
}

func TestFileRegistry_PutIsReadableAndLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	reg, err := registry.Open(context.Background(), "file://"+root, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, reg, "emr-templates/spark.json", "{}")
	mustPut(t, reg, "emr-templates/spark.json", "{ }")
	entries, err := os.ReadDir(filepath.Join(root, "emr-templates"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "spark.json" {
		t.Errorf("directory holds %v, want only spark.json", entries)
	}
	st, err := os.Stat(filepath.Join(root, "emr-templates", "spark.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("document mode = %v, want 0644 so runners under other users can read it", st.Mode().Perm())
	}
}

func TestFileRegistry_ListSkipsTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	reg, err := registry.Open(context.Background(), "file://"+root, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, reg, "pipelines/a.json", "{}")
	// What a crash between CreateTemp and Rename leaves behind.
	if err := writeFile(filepath.Join(root, "pipelines", ".sluice-tmp-a.json-123"), "{"); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, reg, ""); !slices.Equal(got, []string{"pipelines/a.json"}) {
		t.Errorf("List = %q, want only pipelines/a.json", got)
	}
}

func TestS3Registry_ObjectsLiveUnderThePrefix(t *testing.T) {
	client := s3Client(t)
	bucket := stub.NewBucket(t)
	reg, err := registry.Open(context.Background(), "s3://"+bucket+"/team/sluice", client)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, reg, "pipelines/a.json", "{}")
	// A neighbour outside the prefix is not the registry's.
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("team/other/pipelines/b.json"), Body: strings.NewReader("{}"),
	}); err != nil {
		t.Fatal(err)
	}
	out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, o := range out.Contents {
		objects = append(objects, aws.ToString(o.Key))
	}
	if want := []string{"team/other/pipelines/b.json", "team/sluice/pipelines/a.json"}; !slices.Equal(objects, want) {
		t.Errorf("bucket holds %q, want %q", objects, want)
	}
	if got := mustList(t, reg, ""); !slices.Equal(got, []string{"pipelines/a.json"}) {
		t.Errorf("List = %q, want only the registry's key, without the prefix", got)
	}
}

func TestS3Registry_MissingBucketSaysCreateIt(t *testing.T) {
	reg, err := registry.Open(context.Background(), "s3://no-such-bucket/sluice", s3Client(t))
	if err != nil {
		t.Fatal(err)
	}
	err = reg.Put(context.Background(), "pipelines/a.json", []byte("{}"))
	if err == nil {
		t.Fatal("Put to a missing bucket succeeded")
	}
	for _, want := range []string{"s3://no-such-bucket/sluice", `"pipelines/a.json"`, "s3:PutObject", `bucket "no-such-bucket" does not exist: create it or fix the registry URL`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
