package acctest

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	pg, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartPostgres took %s (port %d)", time.Since(start).Round(time.Millisecond), pg.Port)
	stopped := false
	defer func() {
		if !stopped {
			pg.Stop()
		}
	}()
	dir := pg.dir

	if err := pg.CreateDatabase(ctx, "replica_b"); err != nil {
		t.Fatal(err)
	}
	if err := pg.CreateDatabase(ctx, "Bad-Name"); err == nil {
		t.Error("CreateDatabase accepted an invalid name")
	}
	if err := pg.Exec(ctx, "replica_b", "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "replica_b", "INSERT INTO orders VALUES ($1, $2)", 7, "widget"); err != nil {
		t.Fatal(err)
	}

	url := pg.URL("replica_b")
	if want := "@127.0.0.1:" + strconv.Itoa(pg.Port) + "/replica_b?sslmode=disable"; !strings.Contains(url, want) {
		t.Errorf("URL %q does not contain %q", url, want)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var item, db string
	err = conn.QueryRow(ctx, "SELECT item, current_database() FROM orders WHERE id = $1", 7).Scan(&item, &db)
	_ = conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if item != "widget" || db != "replica_b" {
		t.Errorf("read item %q from database %q, want widget from replica_b", item, db)
	}

	// The password is what keeps other local users out, so a wrong one must be refused.
	bad := strings.Replace(url, ":"+pg.Password+"@", ":wrong@", 1)
	if c, err := pgx.Connect(ctx, bad); err == nil {
		_ = c.Close(ctx)
		t.Error("connected with a wrong password")
	}

	start = time.Now()
	pg.Stop()
	stopped = true
	t.Logf("Stop took %s", time.Since(start).Round(time.Millisecond))

	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postgres dir %s still there after Stop (stat: %v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port)), time.Second); err == nil {
		_ = c.Close()
		t.Errorf("port %d still open after Stop", pg.Port)
	}
}

func TestPostgresBinDirMissing(t *testing.T) {
	t.Setenv("SLUICE_PG_BIN", t.TempDir())
	_, err := PostgresBinDir()
	if err == nil {
		t.Fatal("PostgresBinDir found PostgreSQL in an empty directory")
	}
	if !strings.Contains(err.Error(), "make tools") {
		t.Errorf("error %q does not mention make tools", err)
	}
}
