package registry

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Scheme is the kind of store a registry URL names.
type Scheme string

// The registry URL schemes.
const (
	SchemeFile Scheme = "file"
	SchemeS3   Scheme = "s3"
)

// URLForms are the accepted registry URL forms, for descriptions and error messages.
var URLForms = []string{"s3://bucket/prefix", "file:///absolute/path", "file://relative/path"}

// Location is a parsed registry URL.
type Location struct {
	Scheme Scheme
	// Path is the directory of a file registry, cleaned. A relative path (file://relative/path)
	// is relative to the working directory of the process that opens it: for Terraform, the
	// directory terraform runs in; for sluice-runner, its own working directory.
	Path string
	// Bucket is the bucket of an s3 registry.
	Bucket string
	// Prefix is the key prefix of an s3 registry: "" or slash-terminated, e.g. "sluice/".
	Prefix string
}

// String is the canonical URL of the location.
func (l Location) String() string {
	switch l.Scheme {
	case SchemeFile:
		return "file://" + filepath.ToSlash(l.Path)
	case SchemeS3:
		return "s3://" + l.Bucket + "/" + l.Prefix
	default:
		return ""
	}
}

// ParseURL parses a registry URL of one of the URLForms:
//
//   - s3://bucket or s3://bucket/prefix: documents are objects under prefix in bucket.
//   - file:///absolute/path: documents are files under the directory.
//   - file://relative/path: the same, relative to the working directory of the process (for
//     Terraform, the directory terraform runs in). Prefer an absolute path or s3 for anything
//     a runner on another machine must read.
//
// It checks the form only; it makes no network or file system call.
func ParseURL(raw string) (Location, error) {
	switch {
	case strings.HasPrefix(raw, "file://"):
		p := strings.TrimPrefix(raw, "file://")
		if p == "" {
			return Location{}, fmt.Errorf("registry URL %q has no path: use %s", raw, formsText())
		}
		if strings.ContainsRune(p, 0) {
			return Location{}, fmt.Errorf("registry URL %q contains a NUL byte", raw)
		}
		return Location{Scheme: SchemeFile, Path: filepath.Clean(filepath.FromSlash(p))}, nil
	case strings.HasPrefix(raw, "s3://"):
		rest := strings.TrimPrefix(raw, "s3://")
		bucket, prefix, _ := strings.Cut(rest, "/")
		if err := checkBucket(bucket); err != nil {
			return Location{}, fmt.Errorf("registry URL %q: %w", raw, err)
		}
		prefix = strings.Trim(prefix, "/")
		if prefix != "" {
			if err := checkKey(prefix); err != nil {
				return Location{}, fmt.Errorf("registry URL %q: prefix %w", raw, err)
			}
			prefix += "/"
		}
		return Location{Scheme: SchemeS3, Bucket: bucket, Prefix: prefix}, nil
	default:
		return Location{}, fmt.Errorf("registry URL %q is not supported: use %s", raw, formsText())
	}
}

func formsText() string {
	return strings.Join(URLForms[:len(URLForms)-1], ", ") + " or " + URLForms[len(URLForms)-1] +
		" (relative to the working directory)"
}

// checkBucket applies S3's bucket naming rules: 3 to 63 characters of lowercase letters,
// digits, dots and hyphens, beginning and ending with a letter or digit.
func checkBucket(b string) error {
	if b == "" {
		return fmt.Errorf("no bucket name: use %s", formsText())
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

// checkKey refuses keys that are empty or could escape the registry root: a leading slash,
// backslashes, and empty, "." or ".." segments.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("key is empty")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%q must be relative to the registry: remove the leading slash", key)
	case strings.ContainsAny(key, "\\\x00"):
		return fmt.Errorf("%q contains a backslash or NUL byte; keys are slash-separated", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%q has an empty path segment (a doubled or trailing slash)", key)
		case ".", "..":
			return fmt.Errorf("%q has a %q segment; keys must stay inside the registry", key, seg)
		}
	}
	return nil
}

// checkPrefix is checkKey for List prefixes: empty, or a key with an optional trailing slash.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return checkKey(strings.TrimSuffix(prefix, "/"))
}
