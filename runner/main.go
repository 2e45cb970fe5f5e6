// Command sluice-runner reads the pipeline definitions that the sluice Terraform provider
// publishes to a registry, checks them, and executes them: on schedule, with backfill, retries,
// QA checks and freshness, on River (SQLite or PostgreSQL).
//
// Exit codes: 0 success, 1 a document or pipeline is invalid or the command failed, 2 a usage
// or I/O error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ})
	stop()
	os.Exit(code)
}
