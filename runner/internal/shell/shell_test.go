package shell_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/shell"
)

func task(argv ...string) (*activity.Task, *activity.LogBuffer) {
	log := activity.NewLogBuffer(0)
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	return &activity.Task{
		Pipeline: "web_daily", RunID: 42, ActivityID: "extract", Attempt: 3,
		Interval: definition.Interval{Start: start, End: start.Add(24 * time.Hour)},
		Activity: &definition.Activity{Shell: &definition.ShellActivity{Command: argv}},
		Log:      log,
	}, log
}

func TestExecute_SucceedsAndLogsStdoutAndStderr(t *testing.T) {
	tk, log := task("sh", "-c", "echo to-stdout; echo to-stderr >&2")
	res, err := shell.New(shell.Options{}).Execute(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != "to-stdout\nto-stderr\n" {
		t.Errorf("log = %q, want both streams in order", got)
	}
	if !regexp.MustCompile(`^exit 0 in \d+\.\ds$`).MatchString(res.Summary) {
		t.Errorf("Summary = %q, want \"exit 0 in N.Ns\"", res.Summary)
	}
	if res.Details["exit_code"] != 0 {
		t.Errorf("Details = %v, want exit_code 0", res.Details)
	}
}

func TestExecute_ArgvIsNotInterpretedByAShell(t *testing.T) {
	tk, log := task("echo", "$HOME", "a  b", "*", "`id`")
	if _, err := shell.New(shell.Options{}).Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != "$HOME a  b * `id`\n" {
		t.Errorf("log = %q, want the arguments verbatim", got)
	}
}

func TestExecute_EnvironmentLayersBaseActivityAndSluiceVariables(t *testing.T) {
	tk, log := task("sh", "-c", `printf '%s|' "$BASE" "$FOO" "$EXTRA" "${HOME-unset}" "$SLUICE_PIPELINE" "$SLUICE_RUN_ID" "$SLUICE_ACTIVITY" "$SLUICE_INTERVAL_START" "$SLUICE_INTERVAL_END" "$SLUICE_ATTEMPT"`)
	tk.Activity.Shell.Env = map[string]string{"FOO": "from-activity", "EXTRA": "x y", "SLUICE_RUN_ID": "spoofed"}
	ex := shell.New(shell.Options{BaseEnv: []string{"PATH=" + os.Getenv("PATH"), "BASE=b", "FOO=from-base"}})
	if _, err := ex.Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	want := "b|from-activity|x y|unset|web_daily|42|extract|2024-03-01T00:00:00+01:00|2024-03-02T00:00:00+01:00|3|"
	if got := log.String(); got != want {
		t.Errorf("environment seen:\n  %s\nwant\n  %s", got, want)
	}
}

func TestExecute_DefaultBaseEnvIsTheRunnersEnvironment(t *testing.T) {
	t.Setenv("SLUICE_SHELL_TEST_MARK", "inherited")
	tk, log := task("sh", "-c", `echo "$SLUICE_SHELL_TEST_MARK"`)
	if _, err := shell.New(shell.Options{}).Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != "inherited\n" {
		t.Errorf("log = %q", got)
	}
}

func TestExecute_WorkingDirectory(t *testing.T) {
	work := t.TempDir()
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dir, want string }{
		{"", work},
		{"sub", filepath.Join(work, "sub")},
		{other, other},
	}
	for _, c := range cases {
		tk, log := task("pwd", "-P")
		tk.Activity.Shell.Dir = c.dir
		if _, err := shell.New(shell.Options{WorkDir: work}).Execute(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
		want, err := filepath.EvalSymlinks(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(log.String()); got != want {
			t.Errorf("dir %q: ran in %q, want %q", c.dir, got, want)
		}
	}
}

func TestExecute_RelativeProgramIsFoundInTheDirectory(t *testing.T) {
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "run.sh"), []byte("#!/bin/sh\necho ran script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tk, log := task("./run.sh")
	if _, err := shell.New(shell.Options{WorkDir: work}).Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != "ran script\n" {
		t.Errorf("log = %q", got)
	}
}

func TestExecute_NonZeroExitNamesTheCodeAndTheLastLines(t *testing.T) {
	tk, log := task("sh", "-c", `i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; echo "boom: disk full" >&2; exit 3`)
	_, err := shell.New(shell.Options{}).Execute(context.Background(), tk)
	if err == nil {
		t.Fatal("no error for exit 3")
	}
	msg := err.Error()
	for _, want := range []string{`activity "extract"`, `command "sh" exited with code 3`, "last output:", "line 22\n", "line 30\nboom: disk full"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 21\n") || strings.Contains(msg, "while") {
		t.Errorf("error holds more than the last 10 lines, or the command's arguments:\n%s", msg)
	}
	if activity.IsPermanent(err) {
		t.Error("a failed exit is Permanent; a retry may succeed")
	}
	if !strings.Contains(log.String(), "line 1\n") {
		t.Errorf("log lost the start of the output:\n%s", log)
	}
}

func TestExecute_SilentFailureSaysItPrintedNothing(t *testing.T) {
	tk, _ := task("false")
	_, err := shell.New(shell.Options{}).Execute(context.Background(), tk)
	if err == nil || !strings.Contains(err.Error(), `command "false" exited with code 1`) || !strings.Contains(err.Error(), "printed nothing") {
		t.Errorf("error = %v", err)
	}
}

func TestExecute_KilledBySignalSaysSo(t *testing.T) {
	tk, _ := task("sh", "-c", "kill -KILL $$")
	_, err := shell.New(shell.Options{}).Execute(context.Background(), tk)
	if err == nil || !strings.Contains(err.Error(), "was killed by signal killed") {
		t.Errorf("error = %v", err)
	}
}

func TestExecute_WhatCannotStartIsPermanent(t *testing.T) {
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "noexec.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		argv []string
		dir  string
		want string
	}{
		{"not in PATH", []string{"sluice-no-such-program"}, "", `program "sluice-no-such-program" was not found in the runner's PATH`},
		{"missing path", []string{"/nonexistent/prog"}, "", `cannot run program "/nonexistent/prog"`},
		{"not executable", []string{"./noexec.sh"}, "", `cannot run program "./noexec.sh"`},
		{"missing dir", []string{"true"}, "missing-dir", `cannot run "true" in directory "` + filepath.Join(work, "missing-dir") + `"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk, _ := task(c.argv...)
			tk.Activity.Shell.Dir = c.dir
			_, err := shell.New(shell.Options{WorkDir: work}).Execute(context.Background(), tk)
			if !activity.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want a Permanent error saying %q", err, c.want)
			}
		})
	}
}

func TestExecute_MalformedActivityIsPermanent(t *testing.T) {
	for name, a := range map[string]*definition.Activity{
		"no shell block": {S3Copy: &definition.S3CopyActivity{From: "s3://b/k", To: "file:///x"}},
		"empty command":  {Shell: &definition.ShellActivity{}},
		"empty program":  {Shell: &definition.ShellActivity{Command: []string{"", "x"}}},
	} {
		tk := &activity.Task{ActivityID: "bad", Activity: a}
		_, err := shell.New(shell.Options{}).Execute(context.Background(), tk)
		if !activity.IsPermanent(err) || !strings.Contains(err.Error(), `activity "bad"`) {
			t.Errorf("%s: error = %v, want Permanent naming the activity", name, err)
		}
	}
}

func TestExecute_NilLogIsAllowed(t *testing.T) {
	tk, _ := task("echo", "x")
	tk.Log = nil
	if _, err := shell.New(shell.Options{}).Execute(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
}

// readPID waits for the command under test to write a pid to path.
func readPID(t *testing.T, path string, done <-chan struct{}) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		select {
		case <-done:
			t.Fatal("the command ended before writing its child's pid")
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("the command did not write its child's pid in 10s")
	return 0
}

// alive reports whether pid runs (a zombie waiting for its reaper has ended).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "123 (sleep) S ...".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// assertGone waits for pid to end; signals are delivered asynchronously.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // our test's process: do not leak it
			t.Fatalf("process %d still runs after the attempt ended", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type outcome struct {
	res *activity.Result
	err error
}

func start(ctx context.Context, ex activity.Executor, tk *activity.Task) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := ex.Execute(ctx, tk)
		ch <- outcome{res, err}
	}()
	return ch
}

func TestExecute_CancelKillsTheShellAndItsChildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	tk, log := task("sh", "-c", `echo started; sleep 300 & echo $! > "$PIDFILE"; wait`)
	tk.Activity.Shell.Env = map[string]string{"PIDFILE": pidFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := start(ctx, shell.New(shell.Options{KillGrace: 5 * time.Second}), tk)
	done := make(chan struct{})
	var o outcome
	go func() { o = <-out; close(done) }()
	child := readPID(t, pidFile, done)
	cancel()
	<-done
	if !errors.Is(o.err, context.Canceled) || !strings.Contains(o.err.Error(), `command "sh" was stopped`) {
		t.Errorf("error = %v, want one wrapping context.Canceled saying the command was stopped", o.err)
	}
	if !strings.Contains(o.err.Error(), "last output:\nstarted") {
		t.Errorf("error does not show the output: %v", o.err)
	}
	assertGone(t, child)
	if !strings.Contains(log.String(), "started") {
		t.Errorf("log = %q", log)
	}
}

func TestExecute_TimeoutKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// The shell and sleep ignore SIGTERM; only the SIGKILL after the grace ends them.
	tk, _ := task("sh", "-c", `trap '' TERM; sleep 300 & echo $! > "$PIDFILE"; wait`)
	tk.Activity.Shell.Env = map[string]string{"PIDFILE": pidFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := start(ctx, shell.New(shell.Options{KillGrace: 200 * time.Millisecond}), tk)
	done := make(chan struct{})
	var o outcome
	go func() { o = <-out; close(done) }()
	child := readPID(t, pidFile, done)
	cancel()
	<-done
	if !errors.Is(o.err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", o.err)
	}
	assertGone(t, child)
}

func TestExecute_DeadlineIsReportedAsDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	tk, _ := task("sleep", "300")
	_, err := shell.New(shell.Options{KillGrace: time.Second}).Execute(ctx, tk)
	if !errors.Is(err, context.DeadlineExceeded) || activity.IsPermanent(err) {
		t.Errorf("error = %v, want a retryable context.DeadlineExceeded", err)
	}
}

func TestExecute_BackgroundChildrenDoNotOutliveASuccessfulCommand(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// The background sleep keeps the output pipe open; Execute must neither wait for it nor
	// leave it running.
	tk, _ := task("sh", "-c", `sleep 300 & echo $! > "$PIDFILE"`)
	tk.Activity.Shell.Env = map[string]string{"PIDFILE": pidFile}
	res, err := shell.New(shell.Options{KillGrace: 5 * time.Second}).Execute(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Summary, "exit 0 in ") {
		t.Errorf("Summary = %q", res.Summary)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	assertGone(t, child)
}

func TestExecute_AProcessThatLeftTheGroupDoesNotBlockTheAttempt(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "escaped.pid")
	// setsid puts sleep in a new session, out of reach of the group kill, still holding the
	// output pipe: Execute stops reading after the grace.
	tk, log := task("sh", "-c", `setsid sh -c 'echo $$ > "$PIDFILE"; exec sleep 300' & while [ ! -s "$PIDFILE" ]; do sleep 0.01; done; echo parent done`)
	tk.Activity.Shell.Env = map[string]string{"PIDFILE": pidFile}
	res, err := shell.New(shell.Options{KillGrace: 100 * time.Millisecond}).Execute(context.Background(), tk)
	b, rerr := os.ReadFile(pidFile)
	if rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL) // the sleep this test started
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Summary, "exit 0") || !strings.Contains(log.String(), "parent done") {
		t.Errorf("Summary = %q, log = %q", res.Summary, log)
	}
}

func TestExecute_CancelSendsSIGTERMFirstSoTheCommandCanCleanUp(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	tk, log := task("sh", "-c", `trap 'echo cleaning up; exit 0' TERM; sleep 300 & echo $! > "$PIDFILE"; wait`)
	tk.Activity.Shell.Env = map[string]string{"PIDFILE": pidFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := start(ctx, shell.New(shell.Options{KillGrace: 10 * time.Second}), tk)
	done := make(chan struct{})
	var o outcome
	go func() { o = <-out; close(done) }()
	child := readPID(t, pidFile, done)
	cancel()
	<-done
	if !errors.Is(o.err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled even though the command exited 0 on SIGTERM", o.err)
	}
	if !strings.Contains(log.String(), "cleaning up") {
		t.Errorf("log = %q, want the output of the SIGTERM handler", log)
	}
	assertGone(t, child)
}

// brokenLog fails every write, like a log whose disk is full.
type brokenLog struct{}

func (brokenLog) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExecute_AFailingLogDoesNotBlockTheCommand(t *testing.T) {
	// 1 MiB of output: far more than a pipe holds, so the command would block if the copy stopped.
	tk, _ := task("sh", "-c", `head -c 1048576 /dev/zero; echo; echo the end; exit 4`)
	tk.Log = brokenLog{}
	_, err := shell.New(shell.Options{}).Execute(context.Background(), tk)
	if err == nil || !strings.Contains(err.Error(), "exited with code 4") || !strings.Contains(err.Error(), "the end") {
		t.Errorf("error = %v, want exit code 4 with the last output", err)
	}
}
