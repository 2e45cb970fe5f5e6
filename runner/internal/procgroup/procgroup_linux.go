package procgroup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// deathSignal is the guard's parent-death signal. Not SIGTERM: the runner sends SIGTERM to the
// whole group to stop an attempt gracefully, and the guard must then leave the command its
// grace rather than kill it at once.
const deathSignal = syscall.SIGUSR1

// Registry records the process groups this runner starts, in a directory. A nil *Registry
// records nothing; Start still guards the command.
type Registry struct {
	dir    string
	log    *slog.Logger
	boot   string
	self   int
	selfST uint64
}

// Open records process groups in dir, which it creates (0700: the records name pids to kill).
func Open(dir string, log *slog.Logger) (*Registry, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("process group records: creating %s: %w", dir, err)
	}
	boot, err := bootID()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	st, err := startTicks(self)
	if err != nil {
		return nil, fmt.Errorf("process group records: reading this runner's start time: %w", err)
	}
	return &Registry{dir: dir, log: log, boot: boot, self: self, selfST: st}, nil
}

// Dir is the directory the records are kept in.
func (r *Registry) Dir() string { return r.dir }

// Group is a started, guarded process group.
type Group struct {
	reg   *Registry
	pgid  int
	token string
	file  string
}

// PGID is the group's id: the guard's pid, which is cmd.Process.Pid.
func (g *Group) PGID() int { return g.pgid }

// Start starts cmd (built with exec.Command, not yet started) under a guard, as the only
// command of a new process group, and records the group. The command sees the environment
// cmd.Env (or the runner's), plus EnvToken; its wait status is the guard's, so cmd.Wait reports
// the command's exit code or signal as usual. cmd.Process.Pid is the group id: signal -pid to
// reach the whole group. cmd.ExtraFiles must be empty.
//
// Start locks the calling goroutine to its OS thread, and Done unlocks it: Linux sends the
// parent-death signal when the *thread* that forked the guard exits, not the process, and the Go
// runtime ends a thread whose goroutine exits while locked to it — possibly one that forked a
// guard earlier. A locked thread belongs to this goroutine alone until Done, so the signal
// fires only when the runner itself dies. Call cmd.Wait and then Done from the same goroutine.
func (r *Registry) Start(cmd *exec.Cmd, owner Owner) (*Group, error) {
	if cmd.Err != nil {
		return nil, cmd.Err // what cmd.Start would say: program not found, and the like
	}
	if len(cmd.ExtraFiles) > 0 {
		return nil, errors.New("procgroup: the command must not have ExtraFiles")
	}
	token := newToken()
	prog := cmd.Path
	// The runner's own binary, through /proc: it still works after the file was replaced or
	// removed by an upgrade while the runner runs, where os.Executable's path would not.
	cmd.Path = "/proc/self/exe"
	cmd.Args = append([]string{"sluice-guard", prog}, cmd.Args...)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = slices.Concat(env, []string{EnvToken + "=" + token, guardEnv + "=" + strconv.Itoa(os.Getpid())})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	cmd.SysProcAttr.Pdeathsig = deathSignal
	sr, sw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("procgroup: creating the guard's status pipe: %w", err)
	}
	defer sr.Close()
	cmd.ExtraFiles = []*os.File{sw}

	runtime.LockOSThread()
	err = cmd.Start()
	_ = sw.Close()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("starting the process guard of %s: %w", prog, err)
	}
	// The guard closes its end once the command started, or reports why it could not.
	msg, _ := io.ReadAll(sr)
	if len(msg) > 0 {
		_ = cmd.Wait()
		runtime.UnlockOSThread()
		return nil, guardStartError(prog, string(msg))
	}
	g := &Group{reg: r, pgid: cmd.Process.Pid, token: token}
	if r != nil {
		if err := r.write(g, owner); err != nil {
			// The guard still ties the group to the runner; only the reaping after a
			// double failure (runner and guard both killed) is lost.
			r.log.Warn("could not record a process group; it is still killed with the runner", "error", err, "pgid", g.pgid)
		}
	}
	return g, nil
}

// Done ends what is left of the group (the command's leftovers after the guard exited), waits
// briefly for it to go, removes the group's record and unlocks the OS thread (see Start). Call
// it once, after cmd.Wait, from the goroutine that called Start.
func (g *Group) Done() {
	defer runtime.UnlockOSThread()
	// The group id stays reserved while any member lives, so this cannot hit another group.
	_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
	deadline := time.Now().Add(2 * time.Second)
	for groupAlive(g.pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g.file != "" {
		if err := os.Remove(g.file); err != nil && !errors.Is(err, os.ErrNotExist) {
			g.reg.log.Warn("could not remove a process group record", "file", g.file, "error", err)
		}
	}
}

func (r *Registry) write(g *Group, owner Owner) error {
	st, err := startTicks(g.pgid)
	if err != nil {
		return fmt.Errorf("reading the guard's start time: %w", err)
	}
	rec := record{Token: g.token, BootID: r.boot, PGID: g.pgid, StartTicks: st, RunnerPID: r.self,
		RunnerStartTicks: r.selfST, Owner: owner, Started: time.Now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding the record: %w", err)
	}
	file := filepath.Join(r.dir, g.token+".json")
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	g.file = file
	return nil
}

// runnerRecord says which process a runner id is on this machine: <dir>/runner-<hash>.json.
type runnerRecord struct {
	RunnerID   string `json:"runner_id"`
	BootID     string `json:"boot_id"`
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
}

func (r *Registry) runnerFile(id string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return filepath.Join(r.dir, fmt.Sprintf("runner-%016x.json", h.Sum64()))
}

// Register records that this process is the runner id on this machine, so that another runner
// here can tell, once id is dead, that its processes are known dead (KnownDead).
func (r *Registry) Register(id string) error {
	if r == nil {
		return nil
	}
	data, err := json.Marshal(runnerRecord{RunnerID: id, BootID: r.boot, PID: r.self, StartTicks: r.selfST})
	if err != nil {
		return fmt.Errorf("encoding the runner record: %w", err)
	}
	file := r.runnerFile(id)
	if err := os.WriteFile(file+".tmp", data, 0o600); err != nil {
		return fmt.Errorf("writing runner record %s: %w", file, err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		return fmt.Errorf("writing runner record %s: %w", file, err)
	}
	return nil
}

// Unregister removes the record Register wrote; a runner that stops cleanly leaves nothing.
func (r *Registry) Unregister(id string) {
	if r != nil {
		_ = os.Remove(r.runnerFile(id))
	}
}

// KnownDead reports whether runner id ran on this machine, is dead, and left no process
// group alive: its groups are reaped first. False means unknown — another machine's runner,
// whose processes only a grace period can account for.
func (r *Registry) KnownDead(ctx context.Context, id string) bool {
	if r == nil {
		return false
	}
	data, err := os.ReadFile(r.runnerFile(id))
	if err != nil {
		return false
	}
	var rec runnerRecord
	if json.Unmarshal(data, &rec) != nil || rec.RunnerID != id || rec.BootID != r.boot {
		return false
	}
	if st, err := startTicks(rec.PID); err == nil && st == rec.StartTicks {
		return false // the process lives: it only lost its database connection
	}
	if _, err := r.Reap(ctx); err != nil {
		r.log.Warn("reaping a dead runner's processes", "runner", id, "error", err)
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), "runner-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			return false
		}
		var g record
		if json.Unmarshal(b, &g) != nil || (g.RunnerPID == rec.PID && g.RunnerStartTicks == rec.StartTicks) {
			return false // a group Reap could not end, or a record it could not read
		}
	}
	return true
}

// runnerRecordKeep is how long the record of a dead runner is kept, for KnownDead of runners
// that take its jobs over; after that it is pruned by Reap.
const runnerRecordKeep = 24 * time.Hour

// pruneRunner removes the record of a runner that is dead (or from an earlier boot) since
// long enough.
func (r *Registry) pruneRunner(file string, info os.FileInfo) {
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	var rec runnerRecord
	if json.Unmarshal(data, &rec) != nil {
		return
	}
	if rec.BootID == r.boot {
		if st, err := startTicks(rec.PID); err == nil && st == rec.StartTicks {
			return
		}
		if time.Since(info.ModTime()) < runnerRecordKeep {
			return
		}
	}
	_ = os.Remove(file)
}

// Reaped is a process group that Reap ended.
type Reaped struct {
	Owner     Owner
	PGID      int
	Processes int
}

// Reap ends the recorded process groups whose runner process is dead: the leader, if it is
// still the guard that was recorded (same boot, same start time), and every live process that
// carries the group's token in its environment, in the group or not. It returns once they are
// gone, and removes their records; records of an earlier boot are removed unread. Groups of
// live runners are left alone, so runners sharing the directory do not reap each other.
func (r *Registry) Reap(ctx context.Context) ([]Reaped, error) {
	if r == nil {
		return nil, nil
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("reading the process group records in %s: %w", r.dir, err)
	}
	var reaped []Reaped
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		file := filepath.Join(r.dir, e.Name())
		if strings.HasPrefix(e.Name(), "runner-") {
			if info, err := e.Info(); err == nil {
				r.pruneRunner(file, info)
			}
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading process group record %s: %w", file, err))
			continue
		}
		var rec record
		if err := json.Unmarshal(data, &rec); err != nil || rec.Token == "" || rec.PGID <= 1 {
			errs = append(errs, fmt.Errorf("process group record %s is not one this runner wrote: remove it by hand", file))
			continue
		}
		if rec.BootID != r.boot {
			_ = os.Remove(file)
			continue
		}
		if st, err := startTicks(rec.RunnerPID); err == nil && st == rec.RunnerStartTicks {
			continue // its runner lives (and will end it, or its guard will)
		}
		n, err := reapOne(ctx, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("process group %d of %s: %w", rec.PGID, rec.Owner, err))
			continue
		}
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing process group record %s: %w", file, err))
		}
		if n > 0 {
			reaped = append(reaped, Reaped{Owner: rec.Owner, PGID: rec.PGID, Processes: n})
		}
	}
	return reaped, errors.Join(errs...)
}

// reapTimeout bounds how long Reap waits for SIGKILLed processes to be gone.
const reapTimeout = 10 * time.Second

// reapOne kills what is left of one group and waits until it is gone; it returns how many
// processes it found.
func reapOne(ctx context.Context, rec record) (int, error) {
	leader := false
	if st, err := startTicks(rec.PGID); err == nil && st == rec.StartTicks {
		leader = true
		_ = syscall.Kill(-rec.PGID, syscall.SIGKILL)
	}
	found := 0
	deadline := time.Now().Add(reapTimeout)
	for {
		left := members(rec, leader)
		if found == 0 {
			found = len(left)
		}
		if len(left) == 0 {
			return found, nil
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return found, fmt.Errorf("processes %v are still alive %s after SIGKILL", left, reapTimeout)
		}
		select {
		case <-ctx.Done():
			return found, fmt.Errorf("waiting for processes %v to end: %w", left, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// members lists the live (not zombie) processes of a recorded group: those carrying its token,
// and, while its recorded leader lives, those in its process group.
func members(rec record, leader bool) []int {
	var out []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(EnvToken + "=" + rec.Token + "\x00")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readStat(pid)
		if err != nil || s.state == "Z" || s.state == "X" {
			continue
		}
		if leader && s.pgrp == rec.PGID {
			out = append(out, pid)
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(append(env, 0), marker) {
			out = append(out, pid)
		}
	}
	return out
}

// groupAlive reports whether group pgid has a live (not zombie) member.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readStat(pid); err == nil && s.pgrp == pgid && s.state != "Z" && s.state != "X" {
			return true
		}
	}
	return false
}

type stat struct {
	state      string
	pgrp       int
	startTicks uint64
}

// readStat parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session ... starttime(22) ...";
// comm may hold spaces and parentheses, so fields are counted after the last ')'.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, fmt.Errorf("reading the process's status: %w", err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 20 {
		return stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	pgrp, err1 := strconv.Atoi(f[2])
	st, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return stat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return stat{state: f[0], pgrp: pgrp, startTicks: st}, nil
}

func startTicks(pid int) (uint64, error) {
	s, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return s.startTicks, nil
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("process group records: reading the boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// guardStartError turns the guard's report "errno<TAB>message" into the error os/exec would
// have returned for starting the command itself, so that callers' errors.Is checks (not found,
// permission denied, exec format error) keep working.
func guardStartError(prog, msg string) error {
	num, text, _ := strings.Cut(msg, "\t")
	if n, err := strconv.Atoi(num); err == nil && n > 0 {
		return &os.PathError{Op: "fork/exec", Path: prog, Err: syscall.Errno(n)}
	}
	return fmt.Errorf("starting %s: %s", prog, text)
}
