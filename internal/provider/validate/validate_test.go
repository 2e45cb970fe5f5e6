package validate

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func run(v validator.String, value types.String) bool {
	resp := &validator.StringResponse{}
	v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("x"), ConfigValue: value}, resp)
	return !resp.Diagnostics.HasError()
}

func TestEndpointURL(t *testing.T) {
	tests := []struct {
		value types.String
		ok    bool
	}{
		{types.StringValue("http://127.0.0.1:4568"), true},
		{types.StringValue("https://kinesis.eu-west-1.amazonaws.com"), true},
		{types.StringValue("127.0.0.1:4568"), false},
		{types.StringValue("s3://bucket"), false},
		{types.StringValue("http://"), false},
		{types.StringNull(), true},
		{types.StringUnknown(), true},
	}
	for _, tt := range tests {
		if got := run(EndpointURL(), tt.value); got != tt.ok {
			t.Errorf("EndpointURL(%s) ok = %v, want %v", tt.value, got, tt.ok)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		value types.String
		ok    bool
	}{
		{types.StringValue("90s"), true},
		{types.StringValue("1h30m"), true},
		{types.StringValue("0s"), false},
		{types.StringValue("-5m"), false},
		{types.StringValue("forever"), false},
		{types.StringValue("15"), false},
		{types.StringNull(), true},
		{types.StringUnknown(), true},
	}
	for _, tt := range tests {
		if got := run(Duration(), tt.value); got != tt.ok {
			t.Errorf("Duration(%s) ok = %v, want %v", tt.value, got, tt.ok)
		}
	}
}
