package storage

// SetPageSize lowers ListObjectsV2's MaxKeys so that tests cross page boundaries.
func (s *Store) SetPageSize(n int32) { s.pageSize = n }

// SetTempDir moves Put's spool files to dir so that tests can see them.
func (s *Store) SetTempDir(dir string) { s.tempDir = dir }
