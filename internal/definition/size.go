package definition

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultMaxDocumentSize bounds a published document (pipeline or EMR template) when neither
// the provider's max_document_size nor the runner's max_document_size says otherwise.
//
// A real pipeline is a few KiB; the largest seen in practice (hundreds of activities with long
// SQL) stay under 1 MiB. The bound exists because nothing else does: the runner reads every
// document each tick, keeps each version in its state database and shows it on the status
// page, so an 80 MB document took a runner from 42 MB to 1.2 GB of memory and made 80 MB status
// pages (issue 11). 4 MiB leaves room for any honest pipeline and keeps a runner's memory
// bounded by documents × 4 MiB.
const DefaultMaxDocumentSize int64 = 4 << 20

// MaxDocumentSizeLimit is the largest max_document_size accepted: one document must always fit
// comfortably in a runner's memory.
const MaxDocumentSizeLimit int64 = 1 << 30

// sizeUnits are the suffixes ParseSize accepts, longest first so "KiB" is not read as "B".
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// SizeForms says which sizes ParseSize accepts, for descriptions and errors.
const SizeForms = `a whole number of bytes with an optional unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. "4MiB" or "500KB"`

// ParseSize reads a document size such as "4MiB", "500KB" or "1048576" (bytes). The result is
// between 1 byte and MaxDocumentSizeLimit.
func ParseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is not valid: use %s", s, SizeForms)
	}
	if n*mult > MaxDocumentSizeLimit {
		return 0, fmt.Errorf("size %q is over the largest allowed, %s", s, FormatSize(MaxDocumentSizeLimit))
	}
	return n * mult, nil
}

// FormatSize shows a byte count the way ParseSize reads it back: in the largest binary unit that
// divides it, else in bytes ("4MiB", "1500B").
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
