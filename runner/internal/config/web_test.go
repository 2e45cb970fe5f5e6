package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
)

const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func loadWeb(t *testing.T, yaml string) (config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runner.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	if err := c.LoadFile(path); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestWeb_ActionsOffByDefaultAndTokensHashed(t *testing.T) {
	c, err := loadWeb(t, "")
	if err != nil || c.Web.Actions {
		t.Fatalf("default: actions %v, %v", c.Web.Actions, err)
	}
	c, err = loadWeb(t, fmt.Sprintf("web:\n  actions: true\n  tokens:\n    - name: alice\n      sha256: %s\n", hash))
	if err != nil || !c.Web.Actions || c.Web.Tokens[0].Name != "alice" {
		t.Fatalf("actions with a token: %+v %v", c.Web, err)
	}
	red := fmt.Sprint(c.Redacted())
	if strings.Contains(red, hash) || !strings.Contains(red, "alice") {
		t.Errorf("redacted config shows the hash or hides the name: %s", red)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"actions without tokens": {"web:\n  actions: true\n", "web.actions is on but web.tokens is empty"},
		"a token, not its hash":  {"web:\n  actions: true\n  tokens:\n    - name: alice\n      sha256: slr_abcdef\n", "web.tokens[0] (alice).sha256: want the 64 hex digits"},
		"hostile name":           {fmt.Sprintf("web:\n  tokens:\n    - name: \"<b>\"\n      sha256: %s\n", hash), `web.tokens[0].name "<b>"`},
		"same name twice":        {fmt.Sprintf("web:\n  tokens:\n    - {name: a, sha256: %s}\n    - {name: a, sha256: %s}\n", hash, hash), `name "a" is used twice`},
		"cert without key":       {"web:\n  tls_cert: /etc/tls.crt\n", "web.tls_cert and web.tls_key go together"},
		"unknown key":            {"web:\n  action: true\n", "field action not found"},
	} {
		if _, err := loadWeb(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}
