package cli_test

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
)

// dailyShell is a daily pipeline since 2026-11-01 whose one activity succeeds.
func dailyShell(name string) *definition.Pipeline {
	return &definition.Pipeline{
		Format: definition.FormatPipeline, Name: name, Owner: "ops@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1d", Start: "2026-11-01T00:00:00Z", MaxActiveRuns: 1},
		Activities: map[string]*definition.Activity{"work": {Shell: &definition.ShellActivity{Command: []string{"true"}}}},
	}
}

// Issue 11, item 4: `run` of an interval that has not ended exited 0, recorded a freshness in
// the future and left the interval to be skipped by the scheduler when it came due.
func TestRun_RefusesAnIntervalThatHasNotEndedAndSaysWhenItEnds(t *testing.T) {
	reg := publish(t, dailyShell("daily"))
	database := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": database}

	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, c := range []struct{ start, ends string }{
		{"2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"},                             // far ahead
		{today.Format(time.RFC3339), today.Add(24 * time.Hour).Format(time.RFC3339)}, // started, not ended
	} {
		code, out, errOut := run(t, env, "run", "daily", "--interval", c.start, "--tick", "20ms")
		if code != 2 {
			t.Fatalf("run --interval %s: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", c.start, code, out, errOut)
		}
		for _, want := range []string{"has not ended yet", "it ends at " + c.ends, "--allow-future"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("run --interval %s: stderr lacks %q:\n%s", c.start, want, errOut)
			}
		}
	}
	// Nothing was planned: the intervals remain for the scheduler.
	if code, out, _ := run(t, env, "status"); code != 0 || strings.Contains(out, "run 1") {
		t.Errorf("a refused run left a run behind (exit %d):\n%s", code, out)
	}
	// An interval that has ended still runs.
	if code, out, errOut := run(t, env, "run", "daily", "--interval", "2026-11-01T00:00:00Z", "--tick", "20ms"); code != 0 {
		t.Fatalf("run of an ended interval: exit %d\n%s\n%s", code, out, errOut)
	}
}

// With --allow-future the run happens, and its freshness — ahead of now — never shows as a
// negative age: not in `status`, not in /metrics.
func TestRun_AllowFutureRunsItAndFreshnessNeverShowsANegativeAge(t *testing.T) {
	reg := publish(t, dailyShell("daily"))
	database := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	env := map[string]string{"SLUICE_REGISTRY": reg, "SLUICE_DATABASE": database}
	code, out, errOut := run(t, env, "run", "daily", "--interval", "2030-01-01T00:00:00Z", "--allow-future", "--tick", "20ms")
	if code != 0 || !strings.Contains(out, "daily 2030-01-01T00:00:00Z run 1: success") {
		t.Fatalf("run --allow-future: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run(t, env, "status", "daily")
	if code != 0 {
		t.Fatalf("status: exit %d", code)
	}
	if want := "freshness: pipeline = 2030-01-02T00:00:00Z (0s old)"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "(-") {
		t.Errorf("status shows a negative age:\n%s", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cli.Execute(ctx, []string{"serve", "--tick", "50ms", "--listen", "127.0.0.1:0", "--fetch-cooldown", "5ms"}, cli.IO{
			Stdout: io.Discard, Stderr: stderr, Getenv: func(k string) string { return env[k] },
			Environ: func() []string { return environ(env) },
		})
	}()
	defer func() { cancel(); wg.Wait() }()
	addr := waitFor(t, 20*time.Second, func() (string, bool) {
		m := regexp.MustCompile(`status page http://([0-9.:]+)/`).FindStringSubmatch(stderr.String())
		if m == nil {
			return "", false
		}
		return m[1], true
	})
	metric := waitFor(t, 20*time.Second, func() (string, bool) {
		m := regexp.MustCompile(`(?m)^sluice_freshness_age_seconds\{pipeline="daily"\} (\S+)$`).FindStringSubmatch(get(t, "http://"+addr+"/metrics"))
		if m == nil {
			return "", false
		}
		return m[1], true
	})
	if metric != "0" {
		t.Errorf("sluice_freshness_age_seconds{pipeline=\"daily\"} = %s, want 0", metric)
	}
}
