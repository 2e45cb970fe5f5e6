//go:build !linux

package procgroup

import (
	"context"
	"log/slog"
	"os/exec"
	"syscall"
)

// Registry records nothing where there is no parent-death signal and no /proc: the command
// still gets a process group of its own, killed with it when its attempt ends, but a runner
// killed with SIGKILL leaves it running (see the runner guide).
type Registry struct{ dir string }

// Open returns a Registry that records nothing.
func Open(dir string, _ *slog.Logger) (*Registry, error) { return &Registry{dir: dir}, nil }

// Dir is the directory the records would be kept in.
func (r *Registry) Dir() string { return r.dir }

// Group is a started process group.
type Group struct{ pgid int }

// PGID is the group's id.
func (g *Group) PGID() int { return g.pgid }

// Start starts cmd in a new process group.
func (r *Registry) Start(cmd *exec.Cmd, _ Owner) (*Group, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Group{pgid: cmd.Process.Pid}, nil
}

// Done kills what is left of the group.
func (g *Group) Done() { _ = syscall.Kill(-g.pgid, syscall.SIGKILL) }

// Reaped is a process group that Reap ended.
type Reaped struct {
	Owner     Owner
	PGID      int
	Processes int
}

// Register records nothing.
func (r *Registry) Register(string) error { return nil }

// Unregister does nothing.
func (r *Registry) Unregister(string) {}

// KnownDead is always false: nothing is recorded.
func (r *Registry) KnownDead(context.Context, string) bool { return false }

// Reap does nothing: nothing is recorded.
func (r *Registry) Reap(context.Context) ([]Reaped, error) { return nil, nil }
