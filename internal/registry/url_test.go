package registry_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want registry.Location
	}{
		{"file:///var/lib/sluice", registry.Location{Scheme: registry.SchemeFile, Path: "/var/lib/sluice"}},
		{"file:///var/lib/sluice/", registry.Location{Scheme: registry.SchemeFile, Path: "/var/lib/sluice"}},
		{"file://build/registry", registry.Location{Scheme: registry.SchemeFile, Path: "build/registry"}},
		{"file://./registry", registry.Location{Scheme: registry.SchemeFile, Path: "registry"}},
		{"file://../shared/registry", registry.Location{Scheme: registry.SchemeFile, Path: "../shared/registry"}},
		{"s3://acme-data", registry.Location{Scheme: registry.SchemeS3, Bucket: "acme-data"}},
		{"s3://acme-data/", registry.Location{Scheme: registry.SchemeS3, Bucket: "acme-data"}},
		{"s3://acme-data/sluice", registry.Location{Scheme: registry.SchemeS3, Bucket: "acme-data", Prefix: "sluice/"}},
		{"s3://acme.data/team/sluice/", registry.Location{Scheme: registry.SchemeS3, Bucket: "acme.data", Prefix: "team/sluice/"}},
	}
	for _, tt := range tests {
		got, err := registry.ParseURL(tt.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.raw, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func TestParseURL_Errors(t *testing.T) {
	tests := []struct{ raw, wantMsg string }{
		{"ftp://x", `registry URL "ftp://x" is not supported: use s3://bucket/prefix, file:///absolute/path or file://relative/path`},
		{"/abs/path", "is not supported"},
		{"", "is not supported"},
		{"S3://bucket", "is not supported"},
		{"file://", "has no path"},
		{"s3://", "no bucket name"},
		{"s3:///prefix", "no bucket name"},
		{"s3://Acme/x", `bucket name "Acme" is not valid`},
		{"s3://ab", `bucket name "ab" is not valid`},
		{"s3://-acme", `bucket name "-acme" is not valid`},
		{"s3://acme/a/../b", `prefix "a/../b" has a ".." segment`},
		{"s3://acme/a//b", "empty path segment"},
	}
	for _, tt := range tests {
		_, err := registry.ParseURL(tt.raw)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error", tt.raw)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("ParseURL(%q) error %q, want it to contain %q", tt.raw, err, tt.wantMsg)
		}
	}
}

func TestLocation_StringIsCanonical(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://acme/sluice/": "s3://acme/sluice/",
		"s3://acme/sluice":  "s3://acme/sluice/",
		"s3://acme":         "s3://acme/",
		"file:///a/b/":      "file:///a/b",
		"file://rel/":       "file://rel",
	} {
		loc, err := registry.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := loc.String(); got != want {
			t.Errorf("ParseURL(%q).String() = %q, want %q", raw, got, want)
		}
	}
}

func TestOpen_Errors(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := writeFile(file, "x"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw     string
		s3      registry.S3API
		wantMsg string
	}{
		{"ftp://x", nil, "is not supported"},
		{"s3://acme/sluice", nil, "no S3 client"},
		{"file://" + file, nil, "is not a directory"},
	}
	for _, tt := range tests {
		_, err := registry.Open(ctx, tt.raw, tt.s3)
		if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tt.raw, err, tt.wantMsg)
		}
	}
}
