package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unhealthy_after and max_document_size (issue 11) are set like the other settings: defaults,
// then the file, then SLUICE_* variables; bad values are errors naming the setting.
func TestUnhealthyAfterAndMaxDocumentSize(t *testing.T) {
	c := Default()
	if c.UnhealthyAfter != 3 || c.MaxDocumentSize != 4<<20 {
		t.Errorf("defaults: unhealthy_after %d, max_document_size %d; want 3 and 4 MiB", c.UnhealthyAfter, c.MaxDocumentSize)
	}
	path := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(path, []byte("unhealthy_after: 5\nmax_document_size: 8MiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if c.UnhealthyAfter != 5 || c.MaxDocumentSize != 8<<20 {
		t.Errorf("from the file: %d, %d", c.UnhealthyAfter, c.MaxDocumentSize)
	}
	if err := c.LoadEnv([]string{"SLUICE_UNHEALTHY_AFTER=2", "SLUICE_MAX_DOCUMENT_SIZE=500KB"}); err != nil {
		t.Fatal(err)
	}
	if c.UnhealthyAfter != 2 || c.MaxDocumentSize != 500_000 || c.Validate() != nil {
		t.Errorf("from the environment: %d, %d, %v", c.UnhealthyAfter, c.MaxDocumentSize, c.Validate())
	}
	if got := c.Redacted(); got["unhealthy_after"] != 2 || got["max_document_size"] != "500000B" {
		t.Errorf("Redacted shows %v and %v", got["unhealthy_after"], got["max_document_size"])
	}

	bad := Default()
	err := bad.LoadEnv([]string{"SLUICE_UNHEALTHY_AFTER=often", "SLUICE_MAX_DOCUMENT_SIZE=huge"})
	for _, want := range []string{`SLUICE_UNHEALTHY_AFTER: "often" is not a whole number`, `SLUICE_MAX_DOCUMENT_SIZE: size "huge" is not valid`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadEnv error %v lacks %q", err, want)
		}
	}
	bad = Default()
	bad.UnhealthyAfter = 0
	if err := bad.Validate(); err == nil || err.Error() != "unhealthy after 0: use 1 or more failed ticks in a row" {
		t.Errorf("Validate(unhealthy_after 0) = %v", err)
	}
	if err := os.WriteFile(path, []byte("max_document_size: 2GiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad = Default()
	if err := bad.LoadFile(path); err == nil || !strings.Contains(err.Error(), `line 1: size "2GiB" is over the largest allowed, 1GiB`) {
		t.Errorf("LoadFile(2GiB) = %v", err)
	}
}
