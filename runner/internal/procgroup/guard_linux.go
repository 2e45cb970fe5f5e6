package procgroup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// init turns a re-executed runner binary into a guard (see Registry.Start) before main or
// TestMain run: the guard must not parse flags, open databases or start tests.
func init() {
	if parent := os.Getenv(guardEnv); parent != "" {
		os.Exit(guard(parent, os.Args[1:]))
	}
}

// guard leads the process group it was started in: it starts the command (args[0] is its path,
// args[1:] its argv) in the group, and waits for it. When the runner dies, the kernel sends
// deathSignal and the guard kills the group, itself included. Otherwise it exits as the command
// did: same exit code, or the same signal. Before the command starts, fd 3 is the runner's
// status pipe: closed once the command runs, or written "errno<TAB>message" when it cannot start.
func guard(parent string, args []string) int {
	syscall.CloseOnExec(3) // the command must not hold the status pipe open
	status := os.NewFile(3, "sluice-guard-status")
	if syscall.Getpgrp() != os.Getpid() {
		// Not started by Registry.Start (which makes the guard lead a new group): killing
		// "its" group would kill whoever started it.
		fmt.Fprintf(os.Stderr, "sluice-runner: %s is set, but this process does not lead a process group: not acting as a process guard\n", guardEnv)
		return 127
	}
	sigs := make(chan os.Signal, 8)
	// SIGTERM, SIGINT and SIGHUP reach the whole group; the command got its own copy and
	// decides for itself. The guard only stays to report how it ended.
	signal.Notify(sigs, deathSignal, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if strconv.Itoa(os.Getppid()) != parent {
		// The runner died before the handler was in place (the kernel may have delivered the
		// signal before Go could catch it, or the fork raced with the runner's death).
		_ = syscall.Kill(0, syscall.SIGKILL)
	}
	if len(args) < 2 {
		fmt.Fprintf(status, "0\tthe process guard got no command")
		return 127
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, guardEnv+"=") })
	cmd := &exec.Cmd{Path: args[0], Args: args[1:], Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := cmd.Start(); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			fmt.Fprintf(status, "%d\t%v", int(errno), err)
		} else {
			fmt.Fprintf(status, "0\t%v", err)
		}
		return 127
	}
	_ = status.Close()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	for {
		select {
		case s := <-sigs:
			if s == deathSignal {
				// Kill the whole group, this guard included: the runner is gone.
				_ = syscall.Kill(0, syscall.SIGKILL)
			}
		case <-done:
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				// End the same way, so the runner reports "killed by signal X".
				sig := ws.Signal()
				signal.Reset(sig)
				_ = syscall.Kill(os.Getpid(), sig)
				time.Sleep(100 * time.Millisecond) // a signal Go handles itself may not end us
				return 128 + int(sig)
			}
			return ws.ExitStatus()
		}
	}
}
