//go:build unix

package registry

import (
	"os"
	"syscall"
)

// openDocument opens a file for reading without blocking: a named pipe put in the place of a
// document between the check and the open would otherwise block the reader until a writer
// comes. On a regular file O_NONBLOCK changes nothing.
func openDocument(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0) //nolint:wrapcheck // the caller names the key
}

// inode is the file's inode number (0 when the system does not say).
func inode(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
