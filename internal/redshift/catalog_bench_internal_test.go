package redshift

// The one-object read path (what Create, Update and SetGrant read back through, bypassing the
// snapshot), exposed to BenchmarkPlanRead in package redshift_test as its per-object baseline.
var (
	ReadTableFresh = (*Catalog).readTable
	ReadGrantFresh = (*Catalog).readGrant
)
