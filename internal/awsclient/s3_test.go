package awsclient

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestS3_EndpointOverrideUsesPathStyle(t *testing.T) {
	tests := []struct {
		name         string
		endpoints    map[Service]string
		wantEndpoint string
		wantPath     bool
	}{
		{"override", map[Service]string{S3: "http://127.0.0.1:9000"}, "http://127.0.0.1:9000", true},
		{"no override", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(context.Background(), Settings{
				Region: "us-east-1", AccessKey: "a", SecretKey: "b", Endpoints: tt.endpoints,
				Getenv: func(string) string { return "" },
			})
			if err != nil {
				t.Fatal(err)
			}
			o := c.S3().Options()
			if got := aws.ToString(o.BaseEndpoint); got != tt.wantEndpoint {
				t.Errorf("BaseEndpoint = %q, want %q", got, tt.wantEndpoint)
			}
			if o.UsePathStyle != tt.wantPath {
				t.Errorf("UsePathStyle = %v, want %v", o.UsePathStyle, tt.wantPath)
			}
		})
	}
}
