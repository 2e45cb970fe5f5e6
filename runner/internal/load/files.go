package load

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

// files lists what a PostgreSQL load reads: every object under from when it ends in "/", else
// from itself. Objects with a name below from that begins with "_" are skipped: they are
// markers and metadata (_SUCCESS, _metadata) that storage.List keeps for wait_for. A prefix with nothing under
// it is a Permanent error: the upstream activity wrote nothing where the load looks.
func (e *executor) files(ctx context.Context, from string) ([]string, error) {
	if !strings.HasSuffix(from, "/") {
		return []string{from}, nil
	}
	objs, err := e.store.List(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("redshift_copy.from: listing %s: %w", from, err)
	}
	var urls []string
	for _, o := range objs {
		if !strings.HasSuffix(o.URL, "/") && !marker(strings.TrimPrefix(o.URL, from)) {
			urls = append(urls, o.URL)
		}
	}
	if len(urls) == 0 {
		return nil, activity.Permanent(fmt.Errorf("redshift_copy.from: no files under %s", from))
	}
	slices.Sort(urls)
	return urls, nil
}

// openFile opens one file for a PostgreSQL load: decompressed (by its .gz/.bz2 name, or for
// every file when GZIP/BZIP2 is set) and with the first skipLines lines dropped.
func (e *executor) openFile(ctx context.Context, url string, pc *pgCopy) (io.Reader, io.Closer, error) {
	rc, err := e.store.Open(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", url, err)
	}
	var r io.Reader = rc
	lower := strings.ToLower(url)
	switch {
	case pc.gzip || strings.HasSuffix(lower, ".gz"):
		br := bufio.NewReader(rc)
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			r = br // an empty file is empty, compressed or not
			break
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			_ = rc.Close()
			return nil, nil, activity.Permanent(fmt.Errorf("%s: not a gzip file: %w", url, err))
		}
		r = &corruptReader{r: zr, url: url, format: "gzip"}
	case pc.bzip2 || strings.HasSuffix(lower, ".bz2"):
		r = &corruptReader{r: bzip2.NewReader(rc), url: url, format: "bzip2"}
	}
	if pc.skipLines > 0 {
		br := bufio.NewReader(r)
		for i := 0; i < pc.skipLines; i++ {
			if _, err := br.ReadSlice('\n'); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				if errors.Is(err, io.EOF) {
					break // fewer lines than the header: nothing to load
				}
				_ = rc.Close()
				return nil, nil, fmt.Errorf("reading the header of %s: %w", url, err)
			} else if errors.Is(err, bufio.ErrBufferFull) {
				i-- // a header line longer than the buffer: keep skipping the same line
			}
		}
		r = br
	}
	return r, rc, nil
}

// corruptReader marks an error of a decompressor as Permanent — the file is corrupt, and
// reading it again will not help — and names the file.
type corruptReader struct {
	r      io.Reader
	url    string
	format string
}

func (c *corruptReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, activity.Permanent(fmt.Errorf("%s: corrupt %s data: %w", c.url, c.format, err))
	}
	return n, err //nolint:wrapcheck // io.EOF must reach the reader unwrapped
}

// marker reports whether rel, a slash-separated path below a listed prefix, has a segment
// beginning with "_".
func marker(rel string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, "_") {
			return true
		}
	}
	return false
}
