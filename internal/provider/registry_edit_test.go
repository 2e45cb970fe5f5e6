package provider_test

import (
	"encoding/json"
	"os"
	"testing"
)

// editDocument returns a PreConfig that edits a published JSON document behind Terraform's back,
// the way a person with access to the registry would: decode, change, re-indent, write.
func editDocument(t *testing.T, path string, change func(map[string]any)) func() {
	return func() {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		out, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
