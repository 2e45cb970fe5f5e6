package state

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on path: a SQLite state database belongs to
// one runner process. Because the lock dies with the process, a runner that finds jobs left
// "running" in its SQLite file knows their worker is gone.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state database lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("state database %s is in use by another sluice-runner (lock %s): one runner per SQLite file; use --database postgres://… to run several", path[:len(path)-len(".lock")], path)
	}
	return f, nil
}

func unlock(f *os.File) {
	if f != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}
