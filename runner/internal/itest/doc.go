// Package itest holds sluice-runner's process-level tests: the runner binary is built once and
// run as separate processes, killed with SIGKILL mid-run, and run twice against one PostgreSQL
// database. The package has no code of its own.
package itest
