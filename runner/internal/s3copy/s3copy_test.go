package s3copy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/s3copy"
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

func newStore(t *testing.T) *storage.Store {
	t.Helper()
	c, err := s3x.Client()
	if err != nil {
		t.Fatal(err)
	}
	return storage.New(c)
}

func task(from, to string) (*activity.Task, *activity.LogBuffer) {
	log := activity.NewLogBuffer(0)
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	return &activity.Task{
		Pipeline: "web", RunID: 7, ActivityID: "copy", Attempt: 1,
		Interval: definition.Interval{Start: start, End: start.Add(24 * time.Hour)},
		Activity: &definition.Activity{S3Copy: &definition.S3CopyActivity{From: from, To: to}},
		Log:      log,
	}, log
}

func put(t *testing.T, s *storage.Store, url, data string) {
	t.Helper()
	if err := s.Put(context.Background(), url, strings.NewReader(data)); err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	return string(b)
}

func urls(t *testing.T, s *storage.Store, prefix string) []string {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, strings.TrimPrefix(o.URL, prefix))
	}
	return out
}

// locations returns a fresh directory URL (ending in "/") per scheme.
func locations(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"file": "file://" + t.TempDir() + "/",
		"s3":   "s3://" + s3x.NewBucket(t) + "/",
	}
}

func TestExecute_CopiesAPrefixInEveryDirectionKeepingRelativeNames(t *testing.T) {
	source := map[string]string{
		"in/day=1/part-0.csv":     "a,b\n",
		"in/day=1/part-1.csv":     "cc\n",
		"in/day=1/sub/part-2.csv": "ddd\n",
		"in/day=1/_SUCCESS":       "",
		"in/day=1/.part-0.crc":    "crc",
		"in/day=2/part-0.csv":     "other day",
	}
	wantNames := []string{"_SUCCESS", "part-0.csv", "part-1.csv", "sub/part-2.csv"}
	for _, dir := range []struct{ from, to string }{
		{"s3", "file"}, {"file", "s3"}, {"s3", "s3"}, {"file", "file"},
	} {
		t.Run(dir.from+"_to_"+dir.to, func(t *testing.T) {
			store := newStore(t)
			src, dst := locations(t)[dir.from], locations(t)[dir.to]
			for name, data := range source {
				put(t, store, src+name, data)
			}
			from, to := src+"in/day=1/", dst+"out/2024-03-01/"
			tk, log := task(from, to)
			res, err := s3copy.New(store).Execute(context.Background(), tk)
			if err != nil {
				t.Fatal(err)
			}
			if got := urls(t, store, to); !slices.Equal(got, wantNames) {
				t.Errorf("copied %v, want %v", got, wantNames)
			}
			if got := read(t, store, to+"sub/part-2.csv"); got != "ddd\n" {
				t.Errorf("sub/part-2.csv = %q", got)
			}
			wantSummary := fmt.Sprintf("copied 4 objects (11 B) from %s to %s", from, to)
			if res.Summary != wantSummary {
				t.Errorf("Summary = %q, want %q", res.Summary, wantSummary)
			}
			if res.Details["objects"] != 4 || res.Details["bytes"] != int64(11) {
				t.Errorf("Details = %v, want 4 objects and 11 bytes", res.Details)
			}
			l := log.String()
			for _, want := range []string{
				"copying 4 objects from " + from,
				fmt.Sprintf("copied %spart-1.csv to %spart-1.csv (3 bytes)", from, to),
				"copied 4 objects, 11 bytes",
			} {
				if !strings.Contains(l, want) {
					t.Errorf("log does not say %q:\n%s", want, l)
				}
			}
		})
	}
}

func TestExecute_CopiesOneObjectToAKeyOrIntoADirectory(t *testing.T) {
	store := newStore(t)
	loc := locations(t)
	for _, dir := range []struct{ from, to string }{
		{"s3", "file"}, {"file", "s3"}, {"s3", "s3"}, {"file", "file"},
	} {
		t.Run(dir.from+"_to_"+dir.to, func(t *testing.T) {
			from := loc[dir.from] + dir.from + "-" + dir.to + "/src/report.csv"
			put(t, store, from, "r1\n")

			toKey := loc[dir.to] + dir.from + "-" + dir.to + "/dst/renamed.csv"
			tk, log := task(from, toKey)
			res, err := s3copy.New(store).Execute(context.Background(), tk)
			if err != nil {
				t.Fatal(err)
			}
			if got := read(t, store, toKey); got != "r1\n" {
				t.Errorf("%s = %q", toKey, got)
			}
			if want := fmt.Sprintf("copied 1 object (3 B) from %s to %s", from, toKey); res.Summary != want {
				t.Errorf("Summary = %q, want %q", res.Summary, want)
			}
			if !strings.Contains(log.String(), "copied "+from+" to "+toKey+" (3 bytes)") {
				t.Errorf("log:\n%s", log)
			}

			toDir := loc[dir.to] + dir.from + "-" + dir.to + "/into/"
			tk, _ = task(from, toDir)
			if _, err := s3copy.New(store).Execute(context.Background(), tk); err != nil {
				t.Fatal(err)
			}
			if got := urls(t, store, toDir); !slices.Equal(got, []string{"report.csv"}) {
				t.Errorf("copy into %s made %v, want [report.csv]", toDir, got)
			}
		})
	}
}

func TestExecute_RunningAgainOverwrites(t *testing.T) {
	store := newStore(t)
	loc := locations(t)
	from, to := loc["s3"]+"src/", loc["file"]+"dst/"
	put(t, store, from+"a", "old")
	tk, _ := task(from, to)
	if _, err := s3copy.New(store).Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	put(t, store, from+"a", "new!")
	tk, _ = task(from, to)
	res, err := s3copy.New(store).Execute(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, store, to+"a"); got != "new!" {
		t.Errorf("after the second run %sa = %q, want %q", to, got, "new!")
	}
	if got := urls(t, store, to); !slices.Equal(got, []string{"a"}) {
		t.Errorf("destination holds %v, want [a]", got)
	}
	if res.Details["objects"] != 1 || res.Details["bytes"] != int64(4) {
		t.Errorf("Details = %v", res.Details)
	}
}

func TestExecute_ManyObjectsAreAllCopied(t *testing.T) {
	store := newStore(t)
	loc := locations(t)
	from, to := loc["file"]+"many/", loc["s3"]+"many/"
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("part-%03d", i)
		put(t, store, from+name, strings.Repeat("x", i))
		want = append(want, name)
	}
	tk, _ := task(from, to)
	res, err := s3copy.New(store).Execute(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := urls(t, store, to); !slices.Equal(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if res.Details["objects"] != 23 || res.Details["bytes"] != int64(22*23/2) {
		t.Errorf("Details = %v, want 23 objects, %d bytes", res.Details, 22*23/2)
	}
	if got := read(t, store, to+"part-022"); got != strings.Repeat("x", 22) {
		t.Errorf("part-022 = %q", got)
	}
}

func TestExecute_LargeObjectIsCopiedWhole(t *testing.T) {
	store := newStore(t)
	loc := locations(t)
	data := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	put(t, store, loc["file"]+"big", data)
	tk, _ := task(loc["file"]+"big", loc["s3"]+"big")
	res, err := s3copy.New(store).Execute(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, store, loc["s3"]+"big"); got != data {
		t.Errorf("copy differs from the source (%d bytes, want %d)", len(got), len(data))
	}
	if !strings.Contains(res.Summary, "(1.0 MiB)") {
		t.Errorf("Summary = %q, want the size as 1.0 MiB", res.Summary)
	}
}

func TestExecute_RefusesWhatRetryingCannotFix(t *testing.T) {
	store := newStore(t)
	loc := locations(t)
	put(t, store, loc["file"]+"src/a", "a")
	put(t, store, loc["s3"]+"one", "1")
	cases := []struct {
		name, from, to, want string
		notFound             bool
	}{
		{"empty prefix", loc["s3"] + "nothing/", loc["file"] + "dst/", "nothing matched: there are no objects under " + loc["s3"] + "nothing/", false},
		{"missing file directory", loc["file"] + "nope/", loc["s3"] + "dst/", "nothing matched", false},
		{"prefix to a key", loc["file"] + "src/", loc["s3"] + "dst", "to must be one too", false},
		{"to inside from", loc["file"] + "src/", loc["file"] + "src/copy/", "to is inside from", false},
		{"missing object", loc["s3"] + "missing.csv", loc["file"] + "x", "no such object", true},
		{"same object", loc["s3"] + "one", loc["s3"] + "one", "same object", false},
		{"same object via directory", loc["s3"] + "one", loc["s3"], "same object", false},
		{"bad scheme", "http://example.com/x", loc["file"] + "x", "is not supported", false},
		{"bad bucket", "s3://No_Bucket/x/", loc["file"] + "x/", "not valid", false},
		{"bad destination", loc["s3"] + "one", "ftp://x/y", "is not supported", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk, _ := task(c.from, c.to)
			_, err := s3copy.New(store).Execute(context.Background(), tk)
			if !activity.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want a Permanent error saying %q", err, c.want)
			}
			if !strings.Contains(err.Error(), c.from) {
				t.Errorf("error %q does not name from %s", err, c.from)
			}
			if storage.IsNotFound(err) != c.notFound {
				t.Errorf("IsNotFound(%v) = %v, want %v", err, !c.notFound, c.notFound)
			}
		})
	}
}

func TestExecute_WithoutS3ClientS3LocationsFailPermanently(t *testing.T) {
	tk, _ := task("s3://bucket/src/", "file://"+t.TempDir()+"/")
	_, err := s3copy.New(storage.New(nil)).Execute(context.Background(), tk)
	if !activity.IsPermanent(err) || !errors.Is(err, storage.ErrS3NotConfigured) {
		t.Errorf("error = %v, want a Permanent ErrS3NotConfigured", err)
	}
}

func TestExecute_MissingBucketIsRetryable(t *testing.T) {
	tk, _ := task("s3://no-such-bucket-x/src/", "file://"+t.TempDir()+"/")
	_, err := s3copy.New(newStore(t)).Execute(context.Background(), tk)
	if err == nil || activity.IsPermanent(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error = %v, want a retryable error saying the bucket does not exist", err)
	}
}

func TestExecute_CanceledContextStopsTheCopy(t *testing.T) {
	store := newStore(t)
	loc := locations(t)
	put(t, store, loc["file"]+"src/a", "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tk, _ := task(loc["file"]+"src/", loc["s3"]+"dst/")
	_, err := s3copy.New(store).Execute(ctx, tk)
	if !errors.Is(err, context.Canceled) || activity.IsPermanent(err) {
		t.Errorf("error = %v, want a retryable context.Canceled", err)
	}
	if got := urls(t, store, loc["s3"]+"dst/"); len(got) != 0 {
		t.Errorf("a canceled copy wrote %v", got)
	}
}

func TestExecute_WithoutS3CopyBlockIsPermanent(t *testing.T) {
	tk := &activity.Task{ActivityID: "oops", Activity: &definition.Activity{Shell: &definition.ShellActivity{Command: []string{"true"}}}}
	_, err := s3copy.New(storage.New(nil)).Execute(context.Background(), tk)
	if !activity.IsPermanent(err) || !strings.Contains(err.Error(), `activity "oops" has no s3_copy block`) {
		t.Errorf("error = %v", err)
	}
}

func TestExecute_NilLogIsAllowed(t *testing.T) {
	root := "file://" + t.TempDir() + "/"
	store := storage.New(nil)
	put(t, store, root+"a", "a")
	tk, _ := task(root+"a", root+"b")
	tk.Log = nil
	if _, err := s3copy.New(store).Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if got := read(t, store, root+"b"); got != "a" {
		t.Errorf("b = %q", got)
	}
}
