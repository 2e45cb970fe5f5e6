//go:build !unix

package registry

import "os"

// openDocument opens a file for reading; see the unix version.
func openDocument(p string) (*os.File, error) {
	return os.Open(p) //nolint:wrapcheck // the caller names the key
}

// inode is 0 where files have no inode number: size and modification time remain the stamp.
func inode(os.FileInfo) uint64 { return 0 }
