package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3API is the part of the S3 client a registry uses; *s3.Client implements it.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ S3API = (*s3.Client)(nil)

// s3Registry keeps each document in an object under prefix in bucket. PutObject is atomic:
// S3 never serves a partly written object.
type s3Registry struct {
	url    string
	client S3API
	bucket string
	prefix string
	// pageSize is ListObjectsV2's MaxKeys; zero means S3's default (1000). Tests lower it.
	pageSize int32
	maxSize  int64
}

var _ Registry = (*s3Registry)(nil)

func (r *s3Registry) URL() string { return r.url }

func (r *s3Registry) MaxDocumentSize() int64 { return r.maxSize }

func (r *s3Registry) objectKey(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("registry %s: key %w", r.url, err)
	}
	return r.prefix + key, nil
}

// fail names the registry, the key and the S3 action, and says what to do for the errors a
// user can fix.
func (r *s3Registry) fail(action, key string, err error) error {
	hint := "check the s3 endpoint, the network and the AWS credentials"
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			hint = fmt.Sprintf("bucket %q does not exist: create it or fix the registry URL", r.bucket)
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			hint = fmt.Sprintf("the AWS credentials need %s on arn:aws:s3:::%s/%s*", action, r.bucket, r.prefix)
		}
	}
	return fmt.Errorf("registry %s: %s %q: %w (%s)", r.url, action, key, err, hint)
}

func isNoSuchKey(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound")
}

func (r *s3Registry) Put(ctx context.Context, key string, data []byte) error {
	obj, err := r.objectKey(key)
	if err != nil {
		return err
	}
	if int64(len(data)) > r.maxSize {
		return tooLarge(r.url, key, int64(len(data)), r.maxSize)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(r.bucket),
		Key:           aws.String(obj),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if strings.HasSuffix(key, ".json") {
		in.ContentType = aws.String("application/json")
	}
	if _, err := r.client.PutObject(ctx, in); err != nil {
		return r.fail("s3:PutObject", key, err)
	}
	return nil
}

func (r *s3Registry) Get(ctx context.Context, key string) ([]byte, error) {
	obj, err := r.objectKey(key)
	if err != nil {
		return nil, err
	}
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(obj)})
	if err != nil {
		if isNoSuchKey(err) {
			return nil, fmt.Errorf("registry %s: key %q: %w", r.url, key, ErrNotFound)
		}
		return nil, r.fail("s3:GetObject", key, err)
	}
	defer out.Body.Close()
	// The object's length is known before its body is read: an object over the limit is
	// refused without downloading it, and the body is read through a limit in case the length
	// was not sent.
	if n := aws.ToInt64(out.ContentLength); n > r.maxSize {
		return nil, tooLarge(r.url, key, n, r.maxSize)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, r.maxSize+1))
	if err != nil {
		return nil, r.fail("s3:GetObject", key, err)
	}
	if int64(len(data)) > r.maxSize {
		return nil, tooLarge(r.url, key, 0, r.maxSize)
	}
	return data, nil
}

// Delete removes the object; S3 treats a missing key as deleted, and so does this.
func (r *s3Registry) Delete(ctx context.Context, key string) error {
	obj, err := r.objectKey(key)
	if err != nil {
		return err
	}
	_, err = r.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(obj)})
	if err != nil && !isNoSuchKey(err) {
		return r.fail("s3:DeleteObject", key, err)
	}
	return nil
}

func (r *s3Registry) List(ctx context.Context, prefix string) ([]string, error) {
	entries, err := r.ListStamped(ctx, prefix)
	return Keys(entries), err
}

// ListStamped lists with each object's ETag and size as its stamp: ListObjectsV2 returns
// them with the keys, a page (1,000 keys) per request, so knowing what changed costs no GET.
func (r *s3Registry) ListStamped(ctx context.Context, prefix string) ([]Entry, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("registry %s: list prefix %w", r.url, err)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket), Prefix: aws.String(r.prefix + prefix)}
	if r.pageSize > 0 {
		in.MaxKeys = aws.Int32(r.pageSize)
	}
	entries := []Entry{}
	pages := s3.NewListObjectsV2Paginator(r.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, r.fail("s3:ListBucket", prefix, err)
		}
		for _, o := range page.Contents {
			entries = append(entries, Entry{
				Key:   strings.TrimPrefix(aws.ToString(o.Key), r.prefix),
				Stamp: fmt.Sprintf("%s/%d", aws.ToString(o.ETag), aws.ToInt64(o.Size)),
			})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	return entries, nil
}
