// Package shell is the executor of shell activities: it runs a command (an argv, with no shell
// unless the argv names one, e.g. ["sh", "-c", "..."]) in its own process group, sends its output
// to the attempt log, and makes sure nothing it started outlives it.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
)

// DefaultKillGrace is how long a canceled command has between SIGTERM and SIGKILL.
const DefaultKillGrace = 10 * time.Second

// Output kept for the error of a failed command: the last tailLines lines of at most tailBytes.
const (
	tailBytes = 4 << 10
	tailLines = 10
)

// Options configure the executor.
type Options struct {
	// BaseEnv is the environment every command starts from, as "KEY=value" entries. nil means
	// the runner's own environment (os.Environ() at each run); an empty, non-nil slice means an
	// empty one.
	BaseEnv []string
	// WorkDir is the working directory of a command whose activity sets no dir, and the base of
	// a relative dir. "" means the runner's working directory.
	WorkDir string
	// KillGrace is how long a command whose attempt is canceled or timed out has after SIGTERM
	// before its whole process group gets SIGKILL. 0 means DefaultKillGrace.
	KillGrace time.Duration
	// Processes records the commands' process groups, so that a runner restarted after a
	// SIGKILL reaps what its predecessor left (see package procgroup). nil records nothing;
	// every command still dies with the runner through its guard.
	Processes *procgroup.Registry
}

// New returns the executor of shell activities.
func New(opts Options) activity.Executor {
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultKillGrace
	}
	return &executor{opts: opts}
}

type executor struct{ opts Options }

// Execute runs the task's command and waits for it. The command gets the base environment, the
// activity's env, and SLUICE_PIPELINE, SLUICE_RUN_ID, SLUICE_ACTIVITY, SLUICE_INTERVAL_START,
// SLUICE_INTERVAL_END (RFC 3339) and SLUICE_ATTEMPT, which override both. Its stdout and stderr
// go to t.Log. When ctx ends, the command's process group gets SIGTERM and, after
// Options.KillGrace, SIGKILL; when the command exits, whatever it left running in its group is
// killed: an attempt leaves no process behind. When the runner dies, the command's guard kills
// the group (see package procgroup), so that the attempt's retry never runs beside it.
//
// A program named without a slash is looked up in the runner's PATH, as os/exec does, not in
// the PATH the activity's env may set; a relative path such as ./run.sh is relative to the
// command's directory. Errors name the program, never its arguments or environment, which may
// hold secrets.
func (e *executor) Execute(ctx context.Context, t *activity.Task) (*activity.Result, error) {
	if t.Activity == nil || t.Activity.Shell == nil {
		return nil, activity.Permanent(fmt.Errorf("activity %q has no shell block", t.ActivityID))
	}
	sh := t.Activity.Shell
	if len(sh.Command) == 0 || sh.Command[0] == "" {
		return nil, activity.Permanent(fmt.Errorf("activity %q: shell.command is empty: give the program and its arguments", t.ActivityID))
	}
	prog := sh.Command[0]
	log := t.Log
	if log == nil {
		log = io.Discard
	}

	dir := e.dir(sh.Dir)
	if dir != "" {
		// Checked here: a failed chdir in the child reads like a missing program.
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return nil, activity.Permanent(fmt.Errorf("activity %q: cannot run %q in directory %q: it does not exist or is not a directory", t.ActivityID, prog, dir))
		}
	}
	cmd := exec.CommandContext(ctx, prog, sh.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = e.env(t, sh.Env)
	// procgroup.Start puts it in a process group of its own, so that a signal reaches the
	// children of a shell too, under a guard that kills the group when the runner dies.
	grace := e.opts.KillGrace
	var killTimer *time.Timer
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		killTimer = time.AfterFunc(grace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
			return os.ErrProcessDone // the group is gone: nothing to stop
		}
		return nil
	}
	// A backstop: os/exec kills the leader if it is somehow still there after this.
	cmd.WaitDelay = 2 * grace

	// Our own pipe rather than os/exec's: Wait then returns when the command exits, not when
	// every process holding the pipe has closed it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("activity %q: creating the output pipe: %w", t.ActivityID, err)
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	tail := &tailBuffer{log: log}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(tail, pr)
	}()

	start := time.Now()
	group, err := e.opts.Processes.Start(cmd, procgroup.Owner{Pipeline: t.Pipeline, RunID: t.RunID, Activity: t.ActivityID, Attempt: t.Attempt})
	_ = pw.Close() // the child has its copy; ours would keep the reader from seeing EOF
	if err != nil {
		_ = pr.SetReadDeadline(time.Now())
		<-copied
		return nil, startError(t.ActivityID, prog, err)
	}
	waitErr := cmd.Wait()
	elapsed := time.Since(start)
	// The leader is gone; end what it left running in its group. When the attempt was stopped
	// the group already has its SIGTERM: give it the rest of the grace to finish. The group id
	// stays reserved while any member lives, so the kill cannot hit an unrelated process.
	pgid := cmd.Process.Pid
	if killTimer != nil {
		awaitGroup(pgid, grace)
		killTimer.Stop()
	}
	group.Done() // SIGKILL to what is left, and the group's record removed
	// A process that left the group (setsid) may still hold the pipe: stop reading after grace.
	select {
	case <-copied:
	case <-time.After(grace):
		_ = pr.SetReadDeadline(time.Now())
		<-copied
	}

	took := fmt.Sprintf("%.1fs", elapsed.Seconds())
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
		// Success, even if ctx ended meanwhile: os/exec reports a canceled command as failed.
	case ctx.Err() != nil:
		return nil, fmt.Errorf("activity %q: command %q was stopped after %s: %w%s", t.ActivityID, prog, took, context.Cause(ctx), tail.lastLines())
	case errors.As(waitErr, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil, fmt.Errorf("activity %q: command %q was killed by signal %s after %s%s", t.ActivityID, prog, ws.Signal(), took, tail.lastLines())
		}
		return nil, fmt.Errorf("activity %q: command %q exited with code %d after %s%s", t.ActivityID, prog, exitErr.ExitCode(), took, tail.lastLines())
	default:
		return nil, fmt.Errorf("activity %q: command %q: %w%s", t.ActivityID, prog, waitErr, tail.lastLines())
	}
	return &activity.Result{
		Summary: "exit 0 in " + took,
		Details: map[string]any{"exit_code": 0, "duration_seconds": elapsed.Seconds()},
	}, nil
}

// awaitGroup waits until process group pgid has no live process or d has passed. Processes of
// the group are not our children, so polling is the only way to see them go.
func awaitGroup(pgid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// groupAlive reports whether a process of group pgid still runs. kill(-pgid, 0) also counts
// zombies, which wait for a reaper that may be slow or missing (a runner that is PID 1 of a
// container), so where /proc exists the group's members are looked up there.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// dir is the command's working directory: the activity's dir, relative to WorkDir.
func (e *executor) dir(d string) string {
	switch {
	case d == "":
		return e.opts.WorkDir
	case filepath.IsAbs(d) || e.opts.WorkDir == "":
		return d
	default:
		return filepath.Join(e.opts.WorkDir, d)
	}
}

// env is the command's environment; os/exec keeps the last of duplicate keys, so the activity's
// env overrides the base and the SLUICE_ variables override both.
func (e *executor) env(t *activity.Task, extra map[string]string) []string {
	base := e.opts.BaseEnv
	if base == nil {
		base = os.Environ()
	}
	env := slices.Clone(base)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return append(env,
		"SLUICE_PIPELINE="+t.Pipeline,
		"SLUICE_RUN_ID="+activity.RunIDString(t.RunID),
		"SLUICE_ACTIVITY="+t.ActivityID,
		"SLUICE_INTERVAL_START="+t.Interval.Start.Format(time.RFC3339),
		"SLUICE_INTERVAL_END="+t.Interval.End.Format(time.RFC3339),
		"SLUICE_ATTEMPT="+strconv.Itoa(t.Attempt),
	)
}

// startError explains why the command did not start. A missing or non-executable program is
// Permanent: the next attempt would fail the same way.
func startError(activityID, prog string, err error) error {
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return activity.Permanent(fmt.Errorf("activity %q: program %q was not found in the runner's PATH: install it or give its absolute path", activityID, prog))
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EISDIR):
		return activity.Permanent(fmt.Errorf("activity %q: cannot run program %q: %w", activityID, prog, err))
	default:
		return fmt.Errorf("activity %q: starting %q: %w", activityID, prog, err)
	}
}

// tailBuffer passes the output on to the attempt log and keeps its last tailBytes bytes. A failing
// log does not stop the copy: the command would block on a full pipe.
type tailBuffer struct {
	log io.Writer
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	_, _ = b.log.Write(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - tailBytes; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// lastLines is the end of the output for an error message: "; last output:\n..." or "".
func (b *tailBuffer) lastLines() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimRight(string(b.buf), "\n")
	if strings.TrimSpace(s) == "" {
		return "; it printed nothing"
	}
	lines := strings.Split(s, "\n")
	if len(b.buf) == tailBytes && len(lines) > 1 {
		lines = lines[1:] // the first line is probably cut
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return "; last output:\n" + strings.Join(lines, "\n")
}
