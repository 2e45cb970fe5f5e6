package procgroup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
)

// The test binary doubles as a runner: with helperEnv set, TestMain starts a guarded command
// that forks a background sleep (writing its pid to $PIDFILE) and then waits to be killed.
const helperEnv = "PROCGROUP_TEST_RUNNER"

var owner = procgroup.Owner{Pipeline: "daily", RunID: 7, Activity: "extract", Attempt: 2}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperRunner())
	}
	os.Exit(m.Run())
}

func helperRunner() int {
	reg, err := procgroup.Open(os.Getenv("RECORDS"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := reg.Register("helper"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("sh", "-c", `sleep 300 & echo $! > "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; wait`)
	if _, err := reg.Start(cmd, owner); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = cmd.Wait()
	return 0
}

// startRunner starts the helper runner and returns it with the pid of the sleep its guarded
// command forked.
func startRunner(t *testing.T, recordsDir string) (*exec.Cmd, int) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "RECORDS="+recordsDir, "PIDFILE="+pidfile)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(pidfile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			// The record is written just after the guard starts, so the command may write its
			// pid file first: wait for the record too.
			for len(records(t, recordsDir)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the helper runner did not record its process group")
				}
				time.Sleep(10 * time.Millisecond)
			}
			return cmd, pid
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper runner did not start its command")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a live process (a zombie is dead: it only waits for a reaper).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && !bytes.HasPrefix(b[i+1:], []byte(" Z"))
}

func waitDead(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs %s later", pid, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func records(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "[0-9a-f]*.json")) // not runner-*.json
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// A runner killed with SIGKILL takes its command's whole process group with it: the guard gets
// the parent-death signal and kills the group, background children included.
func TestGuard_KillsTheWholeGroupWhenTheRunnerIsKilled(t *testing.T) {
	runner, sleep := startRunner(t, t.TempDir())
	if err := runner.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = runner.Wait()
	waitDead(t, sleep, 2*time.Second)
}

// The parent-death signal fires when the OS thread that forked the guard exits. Goroutines
// that lock a thread and return without unlocking make the Go runtime end that thread; the
// guard's thread is locked by Start, so none of them can be it.
func TestGuard_SurvivesTheExitOfOtherThreads(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	g, err := (*procgroup.Registry)(nil).Start(cmd, owner)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	if !alive(cmd.Process.Pid) {
		t.Fatal("the guard died when other threads exited: its parent-death signal fired without the runner dying")
	}
	_ = syscall.Kill(-g.PGID(), syscall.SIGKILL)
	_ = cmd.Wait()
	g.Done()
}

// When the guard itself was killed too (so nothing killed the group), the next runner reaps
// what is left from the record: the members carry the group's token.
func TestReap_EndsTheGroupOfADeadRunnerWhoseGuardDiedToo(t *testing.T) {
	dir := t.TempDir()
	runner, sleep := startRunner(t, dir)
	recs := records(t, dir)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	guard := int(recs[0]["pgid"].(float64))
	if err := syscall.Kill(guard, syscall.SIGKILL); err != nil { // the guard first: no death signal
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	_ = runner.Process.Signal(syscall.SIGKILL)
	_ = runner.Wait()
	time.Sleep(100 * time.Millisecond)
	if !alive(sleep) {
		t.Fatal("the command's child died without the guard: this test needs it left behind")
	}
	reg, err := procgroup.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	reaped, err := reg.Reap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !alive(sleep) && len(reaped) == 1 && reaped[0].Owner == owner && reaped[0].Processes >= 1 {
		if n := len(records(t, dir)); n != 0 {
			t.Errorf("%d records left after reaping, want 0", n)
		}
		return
	}
	t.Fatalf("reaped %+v; the left-behind sleep alive: %v", reaped, alive(sleep))
}

// Reap leaves alone the groups of a live runner, and a process that reuses a recorded pid
// after the recorded one ended (its start time differs, it has no token).
func TestReap_SparesLiveRunnersAndRecycledPids(t *testing.T) {
	dir := t.TempDir()
	stranger := exec.Command("sleep", "30")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stranger.Process.Kill(); _ = stranger.Wait() })
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	st := startTicks(t, stranger.Process.Pid)
	self := startTicks(t, os.Getpid())
	write := func(name string, rec map[string]any) {
		rec["boot_id"] = strings.TrimSpace(string(boot))
		b, _ := json.Marshal(rec)
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A dead runner's group whose pid now belongs to the stranger: another start time.
	write("aaaa", map[string]any{"token": "aaaa", "pgid": stranger.Process.Pid, "start_ticks": st - 1,
		"runner_pid": 999999999, "runner_start_ticks": 1})
	// The stranger recorded as the group of a live runner (this process).
	write("bbbb", map[string]any{"token": "bbbb", "pgid": stranger.Process.Pid, "start_ticks": st,
		"runner_pid": os.Getpid(), "runner_start_ticks": self})
	reg, err := procgroup.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	reaped, err := reg.Reap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(reaped) != 0 || !alive(stranger.Process.Pid) {
		t.Fatalf("reaped %+v, stranger alive %v: want nothing reaped", reaped, alive(stranger.Process.Pid))
	}
	left := records(t, dir)
	if len(left) != 1 || left[0]["token"] != "bbbb" {
		t.Errorf("records left %v, want only the live runner's", left)
	}
}

func startTicks(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	n, err := strconv.ParseFloat(f[19], 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// KnownDead is true only for a runner that ran on this machine, is dead, and whose processes
// are gone once reaped: the guard and the command's child are killed here along with the
// runner, so nothing but the reaping in KnownDead can end the child.
func TestKnownDead_OnlyForADeadRunnerOfThisMachineWhoseProcessesAreGone(t *testing.T) {
	dir := t.TempDir()
	runner, sleep := startRunner(t, dir)
	reg, err := procgroup.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if reg.KnownDead(ctx, "helper") {
		t.Fatal("KnownDead(helper) while it runs")
	}
	if reg.KnownDead(ctx, "elsewhere") {
		t.Fatal("KnownDead of a runner never recorded here: it may run on another machine")
	}
	guard := int(records(t, dir)[0]["pgid"].(float64))
	// The guard first, so that it cannot kill its group on the runner's death. (Stopping it
	// instead does not work: a process group orphaned with a stopped member gets SIGHUP from
	// the kernel, which would end the child this test needs left behind.)
	_ = syscall.Kill(guard, syscall.SIGKILL)
	waitDead(t, guard, 2*time.Second)
	_ = runner.Process.Signal(syscall.SIGKILL)
	_ = runner.Wait()
	time.Sleep(50 * time.Millisecond)
	if !alive(sleep) {
		t.Fatal("the command's child died without the guard: this test needs it left behind")
	}
	if !reg.KnownDead(ctx, "helper") {
		t.Fatal("KnownDead(helper) after it died: want true, once its processes are reaped")
	}
	if alive(sleep) {
		t.Error("KnownDead said dead while the runner's process still runs")
	}
}
