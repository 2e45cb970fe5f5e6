//go:build unix

package emrstep

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the process in a process group of its own and makes cancellation kill
// the whole group: a mapper run through sh -c, or a command that forks, leaves no orphans.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
