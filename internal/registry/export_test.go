package registry

// SetListPageSize sets the ListObjectsV2 page size (MaxKeys) of an s3 registry, so tests can
// exercise pagination with a few keys. Other registries are left alone.
func SetListPageSize(r Registry, n int32) {
	if s, ok := r.(*s3Registry); ok {
		s.pageSize = n
	}
}
