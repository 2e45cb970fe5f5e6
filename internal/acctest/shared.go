package acctest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Packages outside the provider (the runner's) use the stand-ins without Terraform: one
// PostgreSQL server per test package, started by the first test that needs it and stopped by
// RunnerMain; one database per test.

var shared struct {
	once sync.Once
	pg   *Postgres
	err  error
	seq  atomic.Int64
}

// RunnerMain is the TestMain of a runner package whose tests use SharedPostgres: it runs the
// tests and stops the server afterwards.
func RunnerMain(m *testing.M) {
	code := m.Run()
	if shared.pg != nil {
		shared.pg.Stop()
	}
	if sharedMy.db != nil {
		sharedMy.db.Stop()
	}
	os.Exit(code)
}

// SharedPostgres returns the package's PostgreSQL server, starting it on first use. A missing
// server binary fails the test naming `make tools`.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	shared.once.Do(func() { shared.pg, shared.err = StartPostgres(context.Background()) })
	if shared.err != nil {
		t.Fatalf("acctest: %v (run `make tools` to install PostgreSQL 15)", shared.err)
	}
	return shared.pg
}

// NewPostgresDatabase creates a fresh database on the package's shared PostgreSQL server and
// returns its URL (postgres://…?sslmode=disable, on 127.0.0.1).
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	pg := SharedPostgres(t)
	name := fmt.Sprintf("run_%d_%d", os.Getpid(), shared.seq.Add(1))
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatalf("acctest: %v", err)
	}
	return pg.URL(name)
}

var sharedMy struct {
	once sync.Once
	db   *MariaDB
	err  error
}

// SharedMariaDB returns the package's MariaDB server, starting it on first use (RunnerMain stops
// it). A missing server fails the test naming `make tools`.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	sharedMy.once.Do(func() { sharedMy.db, sharedMy.err = StartMariaDB(context.Background()) })
	if sharedMy.err != nil {
		t.Fatalf("acctest: %v (run `make tools` to install MariaDB)", sharedMy.err)
	}
	return sharedMy.db
}

// NewMariaDBDatabase creates a fresh database on the package's shared MariaDB server and returns
// its mysql:// URL (on 127.0.0.1).
func NewMariaDBDatabase(t testing.TB) string {
	t.Helper()
	m := SharedMariaDB(t)
	name := fmt.Sprintf("run_%d_%d", os.Getpid(), shared.seq.Add(1))
	if err := m.Exec(context.Background(), "", "CREATE DATABASE "+name); err != nil {
		t.Fatalf("acctest: %v", err)
	}
	return m.URL(name)
}
