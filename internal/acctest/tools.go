// Package acctest is the test harness: it finds the tools `make tools` installs, starts the local
// stand-ins for AWS on free loopback ports, and gives acceptance tests provider factories and
// provider blocks pointing at them. Nothing here is used outside tests.
package acctest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// errMissingTool is wrapped by every "tool not found" error, so a missing tool fails the test
// with the same instruction everywhere.
var errMissingTool = errors.New("run `make tools` to install the test tools")

// RepoRoot returns the repository root: the nearest directory above the working directory that
// holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// TerraformPath returns the Terraform binary tests must use: TF_ACC_TERRAFORM_PATH (the Makefile
// sets it), else the project-local bin/terraform. It never falls back to whatever terraform is
// first on PATH, which may be a version the tests were not written for.
func TerraformPath() (string, error) {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("TF_ACC_TERRAFORM_PATH=%s is not an executable file: %w", p, errMissingTool)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "terraform")
	if !isExecutable(p) {
		return "", fmt.Errorf("terraform not found at %s and TF_ACC_TERRAFORM_PATH is not set: %w", p, errMissingTool)
	}
	return p, nil
}

// KinesisLocalPath returns kinesis-local's main.js: SLUICE_KINESIS_LOCAL, else the copy `make
// tools` installs under .tools/node_modules.
func KinesisLocalPath() (string, error) {
	p := os.Getenv("SLUICE_KINESIS_LOCAL")
	if p == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		p = filepath.Join(root, ".tools", "node_modules", "kinesis-local", "main.js")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kinesis-local not found at %s: %w", p, errMissingTool)
	}
	return p, nil
}

// NodePath returns the node binary kinesis-local runs on.
func NodePath() (string, error) {
	p, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found on PATH: %w", errMissingTool)
	}
	return p, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
