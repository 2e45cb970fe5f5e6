package validate

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestRegistryURL(t *testing.T) {
	tests := []struct {
		value types.String
		ok    bool
	}{
		{types.StringValue("s3://acme-data/sluice"), true},
		{types.StringValue("s3://acme-data"), true},
		{types.StringValue("file:///var/lib/sluice"), true},
		{types.StringValue("file://build/registry"), true},
		{types.StringValue("ftp://x"), false},
		{types.StringValue("/var/lib/sluice"), false},
		{types.StringValue("s3://"), false},
		{types.StringValue("s3://Bad_Bucket/x"), false},
		{types.StringValue("file://"), false},
		{types.StringNull(), true},
		{types.StringUnknown(), true},
	}
	for _, tt := range tests {
		if got := run(RegistryURL(), tt.value); got != tt.ok {
			t.Errorf("RegistryURL(%s) ok = %v, want %v", tt.value, got, tt.ok)
		}
	}
}
