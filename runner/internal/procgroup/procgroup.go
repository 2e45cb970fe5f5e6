// Package procgroup ties the processes an activity starts to the runner's life, and lets a
// restarted runner end what a dead predecessor on the same machine left running.
//
// Shell activities and local EMR steps run in a process group of their own, so that one signal
// reaches a command and everything it forked. That alone does not survive the runner: a runner
// killed with SIGKILL (OOM killer, kill -9, a crashed host agent) leaves the group running, and the
// attempt's retry then runs beside it. Two mechanisms close that gap:
//
//   - Guard (Linux): the direct child of the runner is a small guard — the runner's own binary,
//     re-executed — that leads the group, starts the real command in it and waits. The guard has
//     a parent-death signal (PR_SET_PDEATHSIG): when the runner dies, the kernel signals the
//     guard, which kills the whole group, itself included. The parent-death signal only reaches
//     the direct child, which is why a guard is needed at all: a shell's own children would
//     survive it.
//   - Records: every group is recorded in a directory (see Dir) as a small file naming the
//     machine's boot id, the group id, the guard's start time, the owning runner process and
//     the attempt. A runner reaps, at start, the groups whose runner is dead: the case of a guard
//     that was itself killed, or of a process that escaped the guard's kill. The boot id and the
//     start time make sure a recycled pid is never killed by mistake.
//
// The guard must be entered before anything else runs in the re-executed binary: this package's
// init does it, so every binary that imports it (sluice-runner, and the tests of its importers)
// can be a guard.
package procgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Env names.
const (
	// EnvToken is set in the environment of every recorded process group: its members inherit
	// it, so a member whose group leader is gone can still be told apart from an unrelated
	// process that happens to have the same group id.
	EnvToken = "SLUICE_PROCESS_GROUP"
	// guardEnv marks a re-executed binary as a guard (value: the runner's pid, to check that the
	// parent is still the one that started it).
	guardEnv = "SLUICE_PROCGROUP_GUARD"
)

// Owner is the attempt a process group belongs to, as recorded (for logs and for the operator
// who reads the record files).
type Owner struct {
	Pipeline string `json:"pipeline"`
	RunID    int64  `json:"run_id"`
	Activity string `json:"activity"`
	Attempt  int    `json:"attempt"`
}

func (o Owner) String() string {
	return fmt.Sprintf("pipeline %s run %d activity %s attempt %d", o.Pipeline, o.RunID, o.Activity, o.Attempt)
}

// record is one process group, as stored in <dir>/<token>.json.
type record struct {
	Token string `json:"token"`
	// BootID is /proc/sys/kernel/random/boot_id: pids and start times mean nothing across a
	// reboot, and after one every recorded process is gone anyway.
	BootID string `json:"boot_id"`
	PGID   int    `json:"pgid"`
	// StartTicks is the guard's start time (field 22 of /proc/<pid>/stat, in clock ticks since
	// boot): with the boot id, it tells the guard from a later process that got its pid.
	StartTicks uint64 `json:"start_ticks"`
	// RunnerPID and RunnerStartTicks identify the runner process that started the group: its
	// groups are reaped only once it is dead.
	RunnerPID        int       `json:"runner_pid"`
	RunnerStartTicks uint64    `json:"runner_start_ticks"`
	Owner            Owner     `json:"owner"`
	Started          time.Time `json:"started"`
}

// Dir is where the process groups are recorded for a runner whose work directory is workDir:
// <workDir>/.sluice-processes, or, without a work directory,
// <os.TempDir()>/sluice-runner-<uid>/processes. Runners on one machine that should reap each
// other's leftovers must use the same work directory; a file there survives a kill -9 of the
// runner, which a record in memory would not.
func Dir(workDir string) string {
	if workDir != "" {
		return filepath.Join(workDir, ".sluice-processes")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("sluice-runner-%d", os.Getuid()), "processes")
}
