package cli_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// The web UI's actions from the command line: the same implementation, recorded in the same
// action log as cli:USER@HOST, with usage errors (exit 2) for what is refused.
func TestActionCommands_PauseClearMarkFailedAndTheLog(t *testing.T) {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "hourly", Owner: "ops@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: "2026-01-01T00:00:00Z", MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{
			"a": {Shell: &definition.ShellActivity{Command: []string{"true"}}},
			"b": {DependsOn: []string{"a"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
		},
	}
	env := map[string]string{"SLUICE_REGISTRY": publish(t, p), "SLUICE_DATABASE": "sqlite://" + filepath.Join(t.TempDir(), "s.db"), "USER": "carol"}
	if code, _, errOut := run(t, env, "backfill", "hourly", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T02:00:00Z", "--no-wait"); code != 0 {
		t.Fatalf("backfill: %d %s", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"pause", "hourly"}, 0, "hourly paused\n"},
		{[]string{"pause", "hourly"}, 0, "hourly was already paused\n"},
		{[]string{"pause", "nope"}, 2, ""},
		{[]string{"mark-failed", "1"}, 0, "run 1: marked failed (activities failed: [a b])\n"},
		{[]string{"mark-failed", "1"}, 2, ""},
		{[]string{"mark-failed", "x"}, 2, ""},
		{[]string{"clear", "1", "b"}, 2, ""},
		{[]string{"clear", "1", "a"}, 0, "run 1: cleared [a b]\n"},
		{[]string{"clear", "99", "a"}, 2, ""},
		{[]string{"unpause", "hourly"}, 0, "hourly unpaused\n"},
	} {
		code, out, errOut := run(t, env, tc.args...)
		if code != tc.code || out != tc.out {
			t.Errorf("%s: exit %d, %q (%s); want exit %d, %q", strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.out)
		}
	}
	code, out, errOut := run(t, env, "actions", "--output", "json")
	if code != 0 {
		t.Fatalf("actions: %d %s", code, errOut)
	}
	var log []status.Action
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range log {
		if !strings.HasPrefix(a.Actor, "cli:") || !strings.Contains(a.Actor, "@") {
			t.Errorf("actor %q, want cli:USER@HOST", a.Actor)
		}
		got = append(got, a.Action+" "+a.Outcome)
	}
	want := "unpause ok|clear error|clear ok|clear error|mark_failed error|mark_failed ok|pause error|pause ok|pause ok|backfill ok"
	if strings.Join(got, "|") != want {
		t.Errorf("action log %v, want %s", got, want)
	}
	code, out, _ = run(t, env, "actions", "--pipeline", "hourly", "--limit", "1")
	if code != 0 || !regexp.MustCompile(`^\S+ cli:\S+ unpause hourly: unpaused\n$`).MatchString(out) {
		t.Errorf("actions text: %d %q", code, out)
	}
}

func TestTokenCommand_PrintsATokenAndItsHashOnly(t *testing.T) {
	code, out, _ := run(t, nil, "token", "alice")
	m := regexp.MustCompile(`^token: (slr_\S+)\n\n# in the runner's config file, under web.tokens:\n  - name: alice\n    sha256: ([0-9a-f]{64})\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("token: %d %q", code, out)
	}
	if code, _, errOut := run(t, nil, "token", "<b>"); code != 2 || !strings.Contains(errOut, "token name") {
		t.Errorf("hostile name: %d %s", code, errOut)
	}
}

// serve refuses plain HTTP beyond loopback unless told it is meant, and says how to proceed.
func TestServe_RefusesPlainHTTPBeyondLoopback(t *testing.T) {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "hourly", Enabled: true,
		Schedule:   definition.Schedule{Every: "1h", Start: "2026-01-01T00:00:00Z", MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{"a": {Shell: &definition.ShellActivity{Command: []string{"true"}}}},
	}
	env := map[string]string{"SLUICE_REGISTRY": publish(t, p), "SLUICE_DATABASE": "sqlite://" + filepath.Join(t.TempDir(), "s.db")}
	code, _, errOut := run(t, env, "serve", "--listen", "0.0.0.0:0")
	if code != 2 || !strings.Contains(errOut, `listen address "0.0.0.0:0" serves 0.0.0.0 beyond this machine without TLS`) || !strings.Contains(errOut, "--insecure") {
		t.Errorf("serve on 0.0.0.0: exit %d, %s", code, errOut)
	}
}
