package itest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// runnerBin is sluice-runner built from this tree; repoRoot is the repository's root.
var runnerBin, repoRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-itest-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	repoRoot = root
	runnerBin = filepath.Join(dir, "sluice-runner")
	build := exec.Command("go", "build", "-o", runnerBin, "./runner")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice-runner:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	acctest.RunnerMain(m)
}

// publish writes pipelines into a fresh file registry and returns its URL.
func publish(t *testing.T, ps ...*definition.Pipeline) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range ps {
		data, err := definition.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "pipelines", p.Name+".json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return "file://" + dir
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func queryInts(t *testing.T, url, sql string) []int64 {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var out []int64
	rows, err := c.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch x := v.(type) {
			case int64:
				out = append(out, x)
			case int32:
				out = append(out, int64(x))
			default:
				t.Fatalf("unexpected %T", v)
			}
		}
	}
	return out
}

// runner starts sluice-runner with args and env (plus PATH and HOME), logging to a file.
func runner(t *testing.T, logPath string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runnerBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = f.Close()
	})
	return cmd
}
