// Package storage reads and writes locations named by URL: s3://bucket/key and file:///abs/path
// (or file://relative/path, relative to the process's working directory, as for registry URLs).
// Executors (s3_copy, redshift_copy, wait_for pokers) use it so that every activity accepts both
// forms and a pipeline can be developed on local files and run on S3 unchanged.
//
// URLs are taken literally: there is no percent-decoding, so s3://b/a%20b names the key
// "a%20b", as the AWS CLI does. A URL ending in "/" names a directory (a prefix), never an
// object.
//
// Listing rule, the same for both schemes: List skips every object with a path segment that
// begins with "." below the prefix — hidden files and directories, Hadoop's .crc side files,
// Spark's .spark-staging, and the store's own temporary files — unless the prefix itself
// reaches into that segment ("s3://b/d/.cache/" lists the objects under .cache). Names beginning with "_" are kept: markers such as _SUCCESS are
// data a downstream wait_for may look for, so a prefix copy must carry them along. A loader that
// must not read them filters them itself.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3API is the part of *s3.Client the store uses.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// URLForms are the accepted location forms, for descriptions and error messages.
var URLForms = []string{"s3://bucket/key", "file:///absolute/path", "file://relative/path"}

var (
	// ErrNotFound is wrapped by the errors of Open (and of copies) when the object does not
	// exist; test with IsNotFound.
	ErrNotFound = errors.New("no such object")
	// ErrInvalidURL is wrapped by every error about a malformed location URL: retrying cannot
	// fix it.
	ErrInvalidURL = errors.New("invalid location URL")
	// ErrS3NotConfigured is wrapped by the errors for s3:// URLs of a Store made without an S3
	// client.
	ErrS3NotConfigured = errors.New("S3 is not configured")
)

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// Store reads and writes s3:// and file:// locations. It is safe for concurrent use.
type Store struct {
	s3 S3API
	// pageSize is ListObjectsV2's MaxKeys; zero means S3's default (1000). Tests lower it.
	pageSize int32
	// tempDir is where Put spools a non-seekable body bound for S3; "" is os.TempDir().
	tempDir string
}

// New returns a Store. s3 (e.g. awsclient.Client.S3()) may be nil: then every s3:// URL fails
// with an error saying S3 is not configured, and file:// URLs work as usual.
func New(s3 S3API) *Store { return &Store{s3: s3} }

// Object is one object found by List.
type Object struct {
	// URL is the object's full URL; it begins with the prefix given to List.
	URL  string
	Size int64
}

// List returns every object whose URL starts with prefix, sorted by URL. A prefix ending in "/"
// names a directory; "file:///d/part-" and "s3://b/d/part-" match the objects of d whose names
// start with part-, and deeper objects such as d/part-1/x. Directories themselves are not
// objects, nor are S3 "folder" placeholder keys ending in "/". Objects with a path segment
// beginning with "." below the prefix are skipped (see the package comment). A
// prefix that matches nothing, including a missing directory, gives an empty list.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	loc, err := parse(prefix, true)
	if err != nil {
		return nil, err
	}
	if loc.s3 {
		return s.listS3(ctx, prefix, loc)
	}
	return listFile(ctx, prefix, loc)
}

// Open opens the object at url for reading; the caller closes it. A missing object gives an
// error for which IsNotFound is true.
func (s *Store) Open(ctx context.Context, url string) (io.ReadCloser, error) {
	loc, err := parse(url, false)
	if err != nil {
		return nil, err
	}
	if loc.s3 {
		return s.openS3(ctx, url, loc)
	}
	return openFile(url, loc)
}

// Put writes r to url, replacing any object there. On file:// it writes a temporary file in the
// target directory (created as needed) and renames it into place, so readers see the old or the
// new object, never a part. On s3:// it is one PutObject, which S3 makes atomic; a body that is
// not an io.ReadSeeker is first spooled to a temporary file so that its length is known and it
// never sits in memory. S3 limits one PutObject to 5 GiB.
func (s *Store) Put(ctx context.Context, url string, r io.Reader) error {
	loc, err := parse(url, false)
	if err != nil {
		return err
	}
	if loc.s3 {
		return s.putS3(ctx, url, loc, r)
	}
	return putFile(ctx, url, loc, r)
}

// Exists reports whether an object is at url. A directory is not an object: Exists of a
// file:// directory is false, and a URL ending in "/" is an error (use List for prefixes).
func (s *Store) Exists(ctx context.Context, url string) (bool, error) {
	loc, err := parse(url, false)
	if err != nil {
		return false, err
	}
	if loc.s3 {
		return s.existsS3(ctx, url, loc)
	}
	return existsFile(url, loc)
}

// Join appends a relative name to a location URL: Join("s3://b/p/", "x.csv") and
// Join("s3://b/p", "x.csv") are both "s3://b/p/x.csv". Leading slashes of name are dropped, so
// the result always stays under base.
func Join(base, name string) string {
	name = strings.TrimLeft(name, "/")
	if base == "" || strings.HasSuffix(base, "/") {
		return base + name
	}
	return base + "/" + name
}

// Validate checks that url is a well-formed object URL (not a prefix ending in "/"), without any
// I/O. Its errors wrap ErrInvalidURL.
func Validate(url string) error {
	_, err := parse(url, false)
	return err
}

// ValidatePrefix is Validate for List prefixes, which may end in "/" or name a whole bucket.
func ValidatePrefix(prefix string) error {
	_, err := parse(prefix, true)
	return err
}

// location is a parsed URL.
type location struct {
	s3 bool
	// bucket and key of an s3:// URL; key may be "" or end in "/" for a prefix.
	bucket, key string
	// path of a file:// URL, slash-separated as written (not cleaned): a trailing "/" is kept.
	path string
}

// parse checks the form of raw. prefix allows what only List accepts: a trailing "/" and, on
// s3, an empty key (the whole bucket).
func parse(raw string, prefix bool) (location, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidURL, raw, fmt.Sprintf(format, args...))
	}
	if strings.ContainsRune(raw, 0) {
		return location{}, bad("contains a NUL byte")
	}
	dirURL := func() error {
		return bad("ends in \"/\", so it names a directory, not an object")
	}
	switch {
	case strings.HasPrefix(raw, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(raw, "s3://"), "/")
		if err := checkBucket(bucket); err != nil {
			return location{}, bad("%s", err)
		}
		switch {
		case prefix:
		case key == "" && !strings.HasSuffix(raw, "/"):
			return location{}, bad("has no key: use s3://bucket/key")
		case key == "" || strings.HasSuffix(key, "/"):
			return location{}, dirURL()
		}
		return location{s3: true, bucket: bucket, key: key}, nil
	case strings.HasPrefix(raw, "file://"):
		p := strings.TrimPrefix(raw, "file://")
		if p == "" {
			return location{}, bad("has no path: use file:///absolute/path or file://relative/path")
		}
		if !prefix && strings.HasSuffix(p, "/") {
			return location{}, dirURL()
		}
		return location{path: p}, nil
	default:
		return location{}, bad("is not supported: use %s", strings.Join(URLForms, ", "))
	}
}

// checkBucket applies S3's bucket naming rules: 3 to 63 characters of lowercase letters,
// digits, dots and hyphens, beginning and ending with a letter or digit.
func checkBucket(b string) error {
	if b == "" {
		return errors.New("no bucket name: use s3://bucket/key")
	}
	alnum := func(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }
	ok := len(b) >= 3 && len(b) <= 63 && alnum(b[0]) && alnum(b[len(b)-1])
	for i := 0; ok && i < len(b); i++ {
		ok = alnum(b[i]) || b[i] == '.' || b[i] == '-'
	}
	if !ok {
		return fmt.Errorf("bucket name %q is not valid: S3 bucket names are 3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit", b)
	}
	return nil
}

// hidden reports whether the slash-separated path p has a segment beginning with "." that
// starts at or after byte n, the length of the listed prefix: a segment the prefix already
// names, as in "file:///d/.cache/", is the caller's explicit choice.
func hidden(p string, n int) bool {
	for i := n; i < len(p); i++ {
		if p[i] == '.' && (i == 0 || p[i-1] == '/') {
			return true
		}
	}
	return false
}

// dirPart is the part of a slash-separated path up to and including its last "/", or "".
func dirPart(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// ctxReader stops a long copy from a source that does not watch ctx (a local file) when ctx
// ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("stopped reading: %w", err)
	}
	return c.r.Read(p) //nolint:wrapcheck // io.Reader contract: io.EOF must pass unwrapped
}
