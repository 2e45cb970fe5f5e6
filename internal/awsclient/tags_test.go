package awsclient

import (
	"reflect"
	"testing"
)

func TestMergeTags_ResourceTagWins(t *testing.T) {
	got := MergeTags(map[string]string{"team": "data", "env": "prod"}, map[string]string{"env": "dev", "app": "x"})
	want := map[string]string{"team": "data", "env": "dev", "app": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MergeTags = %v, want %v", got, want)
	}
}

func TestResourceTags(t *testing.T) {
	defaults := map[string]string{"team": "data", "env": "prod"}
	tests := []struct {
		name                string
		prior, actual, want map[string]string
	}{
		{"in sync", map[string]string{"app": "x"}, map[string]string{"team": "data", "env": "prod", "app": "x"}, map[string]string{"app": "x"}},
		{"declared value changed outside", map[string]string{"app": "x"}, map[string]string{"team": "data", "env": "prod", "app": "y"}, map[string]string{"app": "y"}},
		{"declared tag removed outside", map[string]string{"app": "x"}, map[string]string{"team": "data", "env": "prod"}, map[string]string{}},
		{"tag added outside", map[string]string{"app": "x"}, map[string]string{"team": "data", "env": "prod", "app": "x", "rogue": "1"}, map[string]string{"app": "x", "rogue": "1"}},
		{"resource overrides a default key", map[string]string{"env": "dev"}, map[string]string{"team": "data", "env": "dev"}, map[string]string{"env": "dev"}},
		{"import: defaults stay out", nil, map[string]string{"team": "data", "app": "x"}, map[string]string{"app": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResourceTags(tt.prior, tt.actual, defaults); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ResourceTags = %v, want %v", got, tt.want)
			}
		})
	}
}
