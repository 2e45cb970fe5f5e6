package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// The helpers both scenarios share: narration, running a command with its output in the
// narration, and a Terraform working directory driven with the provider built from this tree.

// say prints one step of the narration.
func say(w io.Writer, format string, args ...any) { fmt.Fprintf(w, "\n==> "+format+"\n", args...) }

// command runs name with args in dir, the environment being ours plus env, its output going to
// the narration.
func command(ctx context.Context, o Options, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, o.Out, o.Out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), args[0], err)
	}
	return nil
}

// terraform is a working directory where o.Terraform runs with the provider binary o.Provider
// through dev_overrides (no registry, no network), and never prompts.
type terraform struct {
	o   Options
	dir string
	env []string
}

// newTerraform writes the dev_overrides CLI configuration into o.Dir and returns a Terraform
// for the working directory dir; env is added to every command's environment.
func newTerraform(o Options, dir string, env ...string) (*terraform, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	cliConfig := filepath.Join(o.Dir, "terraformrc")
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"sluice-data/sluice\" = %q\n  }\n  direct {}\n}\n", filepath.Dir(o.Provider))
	if err := os.WriteFile(cliConfig, []byte(rc), 0o600); err != nil {
		return nil, fmt.Errorf("writing the Terraform CLI config: %w", err)
	}
	return &terraform{o: o, dir: dir, env: append([]string{"TF_CLI_CONFIG_FILE=" + cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}, env...)}, nil
}

// run runs terraform with args (no colour, and no prompts where a command could ask) in the
// working directory.
func (t *terraform) run(ctx context.Context, args ...string) error {
	full := []string{args[0], "-no-color"}
	switch args[0] {
	case "apply", "destroy", "import", "init", "plan", "refresh":
		full = append(full, "-input=false")
	}
	full = append(full, args[1:]...)
	return command(ctx, t.o, t.dir, t.env, t.o.Terraform, full...)
}

// copyFiles copies the regular files of directory from (not its subdirectories) into to.
func copyFiles(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return fmt.Errorf("reading %s: %w", from, err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", to, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", e.Name(), err)
		}
	}
	return nil
}
