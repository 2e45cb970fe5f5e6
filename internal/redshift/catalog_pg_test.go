package redshift_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// These tests run the catalog against a real PostgreSQL that TestMain starts; a missing server
// fails the run with a message naming `make tools`.
var (
	pg    *acctest.Postgres
	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	var err error
	pg, err = acctest.StartPostgres(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "redshift catalog tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// newCatalog opens a catalog on a fresh database.
func newCatalog(t testing.TB) *redshift.Catalog {
	t.Helper()
	name := fmt.Sprintf("cat_%d", dbSeq.Add(1))
	if err := pg.CreateDatabase(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	ex, err := redshift.OpenPgx(context.Background(), pg.URL(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.Close)
	return redshift.NewCatalog(ex)
}

func TestCatalog_DetectsPostgreSQL(t *testing.T) {
	if d := newCatalog(t).Dialect(); d != redshift.PostgreSQL {
		t.Fatalf("dialect = %s", d)
	}
}

func TestCatalog_SnapshotCostIsFixed(t *testing.T) {
	cat := newCatalog(t)
	ctx := context.Background()
	before := cat.Queries()
	if _, err := cat.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	perSnapshot := cat.Queries() - before
	for i := range 20 {
		if _, err := cat.CreateSchema(ctx, redshift.Schema{Name: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	cat.Invalidate()
	before = cat.Queries()
	for i := range 20 {
		if _, err := cat.Schema(ctx, fmt.Sprintf("s%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cat.Queries() - before; got != perSnapshot {
		t.Fatalf("20 schema reads cost %d queries; one snapshot costs %d", got, perSnapshot)
	}
}

// TestCatalog_PasswordsNeverInErrors makes CreateUser fail after hashing: the error must carry
// neither the password nor its hash.
func TestCatalog_PasswordsNeverInErrors(t *testing.T) {
	cat := newCatalog(t)
	ctx := context.Background()
	u := redshift.User{Name: "dup_user", Password: "s3cret-Passw0rd", ConnectionLimit: -1}
	if _, err := cat.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err := cat.CreateUser(ctx, u)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("want 'already exists', got %v", err)
	}
	for _, secret := range []string{"s3cret-Passw0rd", "SCRAM-SHA-256", "PASSWORD"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks %q: %v", secret, err)
		}
	}
	if err := cat.DropUser(ctx, "dup_user"); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.User(ctx, "dup_user"); !errors.Is(err, redshift.ErrNotFound) {
		t.Fatalf("user still there: %v", err)
	}
}

// FuzzSchemaName_RoundTrip creates a schema under an arbitrary name on the real database and reads
// it back: whatever the name holds — quotes, semicolons, unicode, reserved words — it must mean
// exactly itself, and nothing else may happen.
func FuzzSchemaName_RoundTrip(f *testing.F) {
	for _, seed := range []string{
		"plain", "select", "Mixed Case", `quo"te`, `""`, "semi;colon", "a; DROP SCHEMA public CASCADE; --",
		"ünïcødé", "表格", "emoji 🚰", `back\slash`, "it's", "$1", "new\nline", "tab\tname", "  spaces  ",
	} {
		f.Add(seed)
	}
	cat := newCatalog(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name string) {
		if cat.Dialect().ValidateIdent(name) != nil {
			return // refused up front with a clear error: nothing reaches SQL
		}
		desc := "fuzz: " + name
		st, err := cat.CreateSchema(ctx, redshift.Schema{Name: name, Description: desc, Responsible: "fuzz"})
		if err != nil {
			t.Fatalf("CreateSchema(%q): %v", name, err)
		}
		if st.Name != name || st.Description != desc || st.Responsible != "fuzz" {
			t.Fatalf("read back %+v for %q", st.Schema, name)
		}
		snap, err := cat.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := snap.Schemas[name]; !ok {
			t.Fatalf("schema %q missing from the snapshot", name)
		}
		if _, ok := snap.Schemas["public"]; !ok {
			t.Fatalf("creating %q lost the public schema", name)
		}
		if err := cat.DropSchema(ctx, name, false); err != nil {
			t.Fatalf("DropSchema(%q): %v", name, err)
		}
		if _, err := cat.Schema(ctx, name); !errors.Is(err, redshift.ErrNotFound) {
			t.Fatalf("schema %q still there: %v", name, err)
		}
	})
}
