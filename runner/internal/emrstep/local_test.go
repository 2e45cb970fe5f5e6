package emrstep_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/emrstep"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// The word-count job: the mapper emits "word\t1" per word; the reducer sums runs of equal keys,
// which is only right when its input is sorted by key.
const (
	mapperScript  = "#!/bin/sh\nawk '{ for (i = 1; i <= NF; i++) print $i \"\\t\" 1 }'\n"
	reducerScript = "#!/bin/sh\nawk -F '\\t' 'BEGIN { OFS = \"\\t\" } $1 != k { if (NR > 1) print k, n; k = $1; n = 0 } { n += $2 } END { if (NR > 0) print k, n }'\n"
	inputA        = "the cat sat\non the mat\n"
	inputB        = "the dog\nsat\n"
	wordCounts    = "cat\t1\ndog\t1\nmat\t1\non\t1\nsat\t2\nthe\t3\n"
)

func fileURL(p string) string { return "file://" + filepath.ToSlash(p) }

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func localExec(t *testing.T, store emrstep.Storage) activity.Executor {
	t.Helper()
	x, err := emrstep.New(emrstep.Options{Mode: emrstep.ModeLocal, Store: store, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func localTask(steps ...definition.EMRStep) *activity.Task {
	return task(&definition.EMRStepActivity{Template: "spark_small", Steps: steps})
}

func readAll(t *testing.T, store *storage.Store, url string) string {
	t.Helper()
	rc, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLocal_StreamingWordCount_FileInputs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "a.txt"), inputA)
	writeFile(t, filepath.Join(dir, "in", "b.txt"), inputB)
	writeFile(t, filepath.Join(dir, "in", "_SUCCESS"), "ignored marker\n") // Hadoop skips _ names
	writeFile(t, filepath.Join(dir, "code", "count_words.sh"), mapperScript)
	writeFile(t, filepath.Join(dir, "code", "sum_counts.sh"), reducerScript)
	store := storage.New(nil)
	tk := localTask(definition.EMRStep{Name: "count", Streaming: &definition.StreamingStep{
		Mapper: "count_words.sh", Reducer: "sum_counts.sh",
		Input:  []string{fileURL(filepath.Join(dir, "in"))},
		Output: fileURL(filepath.Join(dir, "out")), // no trailing "/": still a directory
		Files:  []string{fileURL(filepath.Join(dir, "code", "count_words.sh")), fileURL(filepath.Join(dir, "code", "sum_counts.sh"))},
	}})
	res, err := localExec(t, store).Execute(context.Background(), tk)
	if err != nil {
		t.Fatalf("Execute: %v\nlog:\n%s", err, logOf(tk))
	}
	if got := readAll(t, store, fileURL(filepath.Join(dir, "out", "part-00000"))); got != wordCounts {
		t.Errorf("part-00000:\n%q\nwant\n%q", got, wordCounts)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "_SUCCESS")); err != nil {
		t.Errorf("no _SUCCESS marker: %v", err)
	}
	steps, _ := res.Details["steps"].([]map[string]string)
	if len(steps) != 1 || steps[0]["input_objects"] != "2" || steps[0]["state"] != "COMPLETED" {
		t.Errorf("details %v", res.Details)
	}
}

func TestLocal_StreamingWordCount_S3(t *testing.T) {
	fake, err := acctest.StartS3(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	bucket := fake.NewBucket(t)
	client, err := fake.Client()
	if err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{
		"logs/2024-01-01/a.txt": inputA, "logs/2024-01-02/b.txt": inputB, "logs/2023-12-31/old.txt": "old old old\n",
		"code/count_words.sh": mapperScript, "code/sum_counts.sh": reducerScript,
	} {
		if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
		}); err != nil {
			t.Fatal(err)
		}
	}
	store := storage.New(client)
	s3url := func(key string) string { return "s3://" + bucket + "/" + key }
	tk := localTask(definition.EMRStep{Name: "count", Streaming: &definition.StreamingStep{
		Mapper: "count_words.sh", Reducer: "./sum_counts.sh",
		Input:  []string{s3url("logs/2024-01-*")}, // a glob over directories, as Hadoop takes
		Output: s3url("out/"),
		Files:  []string{s3url("code/count_words.sh"), s3url("code/sum_counts.sh")},
	}})
	if _, err := localExec(t, store).Execute(context.Background(), tk); err != nil {
		t.Fatalf("Execute: %v\nlog:\n%s", err, logOf(tk))
	}
	if got := readAll(t, store, s3url("out/part-00000")); got != wordCounts {
		t.Errorf("part-00000:\n%q\nwant\n%q", got, wordCounts)
	}
	if got := readAll(t, store, s3url("out/_SUCCESS")); got != "" {
		t.Errorf("_SUCCESS holds %q", got)
	}
}

func TestLocal_StreamingWithoutReducer_WritesSortedMapperOutput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "b\nc\na\nB\n")
	store := storage.New(nil)
	tk := localTask(definition.EMRStep{Name: "upper", Streaming: &definition.StreamingStep{
		Mapper: "cat", Input: []string{fileURL(filepath.Join(dir, "in.txt"))}, Output: fileURL(filepath.Join(dir, "out")) + "/",
	}})
	if _, err := localExec(t, store).Execute(context.Background(), tk); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	// Byte order (C locale), as Hadoop compares keys: upper case first.
	if got := readAll(t, store, fileURL(filepath.Join(dir, "out", "part-00000"))); got != "B\na\nb\nc\n" {
		t.Errorf("part-00000 %q", got)
	}
}

func TestLocal_CommandStep_RunsArgvInOrder(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	tk := localTask(
		definition.EMRStep{Name: "first", Command: []string{"sh", "-c", `echo first >> "$0"; echo said-hello`, out}},
		definition.EMRStep{Name: "second", Command: []string{"sh", "-c", `echo second >> "$0"`, out}},
	)
	if _, err := localExec(t, storage.New(nil)).Execute(context.Background(), tk); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != "first\nsecond\n" {
		t.Errorf("out.txt %q, %v", b, err)
	}
	if !strings.Contains(logOf(tk), "said-hello") {
		t.Errorf("the step's output is not in the attempt log:\n%s", logOf(tk))
	}
}

func TestLocal_FailingMapper_ErrorQuotesStderrAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "a.txt"), inputA)
	store := storage.New(nil)
	tk := localTask(definition.EMRStep{Name: "count", Streaming: &definition.StreamingStep{
		Mapper: `echo "parse error: bad record on line 2" >&2; exit 3`, Reducer: "cat",
		Input: []string{fileURL(filepath.Join(dir, "in"))}, Output: fileURL(filepath.Join(dir, "out")),
	}})
	_, err := localExec(t, store).Execute(context.Background(), tk)
	if err == nil {
		t.Fatal("Execute succeeded with a failing mapper")
	}
	for _, want := range []string{`local step "count"`, "exit status 3", "parse error: bad record on line 2", "a.txt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if activity.IsPermanent(err) {
		t.Error("a failed mapper is retryable")
	}
	objs, lerr := store.List(context.Background(), fileURL(filepath.Join(dir, "out"))+"/")
	if lerr != nil || len(objs) != 0 {
		t.Errorf("output after a failed mapper: %v, %v", objs, lerr)
	}
}

func TestLocal_FailingCommand_ErrorQuotesStderr(t *testing.T) {
	tk := localTask(definition.EMRStep{Name: "load", Command: []string{"sh", "-c", "echo 'no such table: clicks' >&2; exit 1"}})
	_, err := localExec(t, storage.New(nil)).Execute(context.Background(), tk)
	if err == nil || !strings.Contains(err.Error(), "no such table: clicks") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("error %v", err)
	}
}

func TestLocal_MissingInput_IsAnError(t *testing.T) {
	dir := t.TempDir()
	tk := localTask(definition.EMRStep{Name: "count", Streaming: &definition.StreamingStep{
		Mapper: "cat", Input: []string{fileURL(filepath.Join(dir, "nothing-here"))}, Output: fileURL(filepath.Join(dir, "out")),
	}})
	_, err := localExec(t, storage.New(nil)).Execute(context.Background(), tk)
	if err == nil || !strings.Contains(err.Error(), "nothing-here matches no objects") {
		t.Fatalf("error %v", err)
	}
}

// alive reports whether pid is a live process (not gone, not a zombie awaiting its reaper).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}

func TestLocal_Cancel_KillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// The step forks a grandchild and waits: cancellation must kill both.
	tk := localTask(definition.EMRStep{Name: "slow", Command: []string{"sh", "-c", `sleep 300 & echo $! > "$0.tmp"; mv "$0.tmp" "$0"; wait`, pidFile}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := localExec(t, storage.New(nil)).Execute(ctx, tk)
		done <- err
	}()
	var pid int
	for pid == 0 {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Execute returned before the step started: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	// SIGKILL is delivered asynchronously: wait for it, but not forever.
	for deadline := time.Now().Add(20 * time.Second); alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the step's child process %d survived the cancellation", pid)
		}
	}
}

func TestLocal_SparkAndJarSteps_ArePermanentErrors(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for name, s := range map[string]definition.EMRStep{
		"spark": {Name: "train", Spark: []string{"s3://acme/train.py"}},
		"jar":   {Name: "crunch", Jar: &definition.JarStep{Jar: "s3://acme/crunch.jar"}},
	} {
		first := definition.EMRStep{Name: "touch", Command: []string{"touch", marker}}
		_, err := localExec(t, storage.New(nil)).Execute(context.Background(), localTask(first, s))
		if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), "is a "+name+" step, which needs EMR") ||
			!strings.Contains(err.Error(), `"aws"`) {
			t.Errorf("%s: error %v, want a permanent error saying aws mode is needed", name, err)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an earlier step ran although the activity cannot run locally: %v", err)
	}
}

func TestLocal_HDFSLocation_IsPermanent(t *testing.T) {
	tk := localTask(definition.EMRStep{Name: "count", Streaming: &definition.StreamingStep{
		Mapper: "cat", Input: []string{"hdfs:///logs/"}, Output: fileURL(t.TempDir()),
	}})
	_, err := localExec(t, storage.New(nil)).Execute(context.Background(), tk)
	if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), "hdfs:///logs/") {
		t.Fatalf("error %v", err)
	}
}
