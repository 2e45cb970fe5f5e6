package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// maxPutSize is S3's limit for one PutObject. Larger objects need a multipart upload, which
// S3API does not offer.
const maxPutSize = 5 << 30

// client returns the S3 client or, when the Store has none, an error naming url.
func (s *Store) client(url string) (S3API, error) {
	if s.s3 == nil {
		return nil, fmt.Errorf("%s: %w: give the runner AWS settings (region, credentials or an s3 endpoint)", url, ErrS3NotConfigured)
	}
	return s.s3, nil
}

// fail names the URL and the S3 action, and says what to do for the errors a user can fix.
func fail(action, url string, loc location, err error) error {
	hint := "check the s3 endpoint, the network and the AWS credentials"
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			hint = fmt.Sprintf("bucket %q does not exist: create it or fix the URL", loc.bucket)
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			hint = fmt.Sprintf("the AWS credentials need %s on arn:aws:s3:::%s/%s", action, loc.bucket, loc.key)
		}
	}
	return fmt.Errorf("%s %s: %w (%s)", action, url, err, hint)
}

func isNoSuchKey(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var nf *types.NotFound
	if errors.As(err, &nf) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound")
}

func (s *Store) listS3(ctx context.Context, prefix string, loc location) ([]Object, error) {
	c, err := s.client(prefix)
	if err != nil {
		return nil, err
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(loc.bucket), Prefix: aws.String(loc.key)}
	if s.pageSize > 0 {
		in.MaxKeys = aws.Int32(s.pageSize)
	}
	objs := []Object{}
	pages := s3.NewListObjectsV2Paginator(c, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fail("s3:ListBucket", prefix, loc, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			// A key ending in "/" is a console "folder" placeholder, not data.
			if strings.HasSuffix(key, "/") || hidden(key, len(loc.key)) {
				continue
			}
			objs = append(objs, Object{URL: "s3://" + loc.bucket + "/" + key, Size: aws.ToInt64(o.Size)})
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].URL < objs[j].URL })
	return objs, nil
}

func (s *Store) openS3(ctx context.Context, url string, loc location) (io.ReadCloser, error) {
	c, err := s.client(url)
	if err != nil {
		return nil, err
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.bucket), Key: aws.String(loc.key)})
	if err != nil {
		if isNoSuchKey(err) {
			return nil, fmt.Errorf("opening %s: %w", url, ErrNotFound)
		}
		return nil, fail("s3:GetObject", url, loc, err)
	}
	return out.Body, nil
}

// putS3 sends r in one PutObject. The SDK must know the length and, over plain HTTP, be able to
// rewind the body to sign and retry it: a seekable r is sent as it is, anything else is spooled
// to a temporary file first.
func (s *Store) putS3(ctx context.Context, url string, loc location, r io.Reader) error {
	c, err := s.client(url)
	if err != nil {
		return err
	}
	body, size, cleanup, err := s.seekable(ctx, r)
	if err != nil {
		return fmt.Errorf("writing %s: %w", url, err)
	}
	defer cleanup()
	if size > maxPutSize {
		return fmt.Errorf("writing %s: the object is %d bytes, more than the 5 GiB S3 allows in one PutObject: split it into parts under a prefix", url, size)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(loc.bucket), Key: aws.String(loc.key),
		Body: body, ContentLength: aws.Int64(size),
	})
	if err != nil {
		return fail("s3:PutObject", url, loc, err)
	}
	return nil
}

// seekable returns r with its remaining length when it can seek, or else a temporary file holding
// r's bytes, which cleanup removes.
func (s *Store) seekable(ctx context.Context, r io.Reader) (io.ReadSeeker, int64, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if size, err := remaining(rs); err == nil {
			return rs, size, func() {}, nil
		}
		// Not really seekable (a pipe behind an *os.File): spool it like any other reader.
	}
	f, err := os.CreateTemp(s.tempDir, "sluice-put-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spooling the body to a temporary file: %w", err)
	}
	cleanup := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	size, err := io.Copy(f, ctxReader{ctx: ctx, r: r})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spooling the body to %s: %w", f.Name(), err)
	}
	return f, size, cleanup, nil
}

// remaining is the number of bytes from rs's current offset to its end; it leaves the offset
// where it was.
func remaining(rs io.ReadSeeker) (int64, error) {
	cur, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("seeking: %w", err)
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("seeking: %w", err)
	}
	if _, err := rs.Seek(cur, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seeking: %w", err)
	}
	return end - cur, nil
}

// existsS3 asks HeadObject. S3 answers a HEAD for a missing bucket with the same 404 as for a
// missing key, so a wrong bucket also reads as "does not exist".
func (s *Store) existsS3(ctx context.Context, url string, loc location) (bool, error) {
	c, err := s.client(url)
	if err != nil {
		return false, err
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(loc.bucket), Key: aws.String(loc.key)})
	switch {
	case err == nil:
		return true, nil
	case isNoSuchKey(err):
		return false, nil
	default:
		return false, fail("s3:GetObject", url, loc, err)
	}
}
