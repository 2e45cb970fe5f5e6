package acctest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDBBin is where Debian's mariadb-server puts the server; mariadb-install-db is on PATH.
const MariaDBBin = "/usr/sbin/mariadbd"

// MariaDB is a throwaway MariaDB server (the stand-in for MySQL connections) on a free
// 127.0.0.1 port, with its data in a temporary directory.
type MariaDB struct {
	Host     string
	Port     int
	User     string
	Password string

	dir  string
	cmd  *exec.Cmd
	done chan error
}

// StartMariaDB creates a fresh data directory, starts mariadbd on a free 127.0.0.1 port, waits
// until it answers and creates a user with a random password. Call Stop when done.
func StartMariaDB(ctx context.Context) (*MariaDB, error) {
	if _, err := os.Stat(MariaDBBin); err != nil {
		return nil, fmt.Errorf("no MariaDB server at %s: %w", MariaDBBin, err)
	}
	installDB, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		return nil, fmt.Errorf("no mariadb-install-db on PATH: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generating the MariaDB password: %w", err)
	}
	dir, err := os.MkdirTemp("", "sluice-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("creating the MariaDB dir: %w", err)
	}
	m := &MariaDB{Host: "127.0.0.1", Port: port, User: "sluice", Password: hex.EncodeToString(secret), dir: dir, done: make(chan error, 1)}
	fail := func(err error) (*MariaDB, error) {
		m.Stop()
		return nil, err
	}
	// mariadbd refuses to run as root unless told to; as another user it runs as that user.
	var userArgs []string
	if os.Geteuid() == 0 {
		userArgs = []string{"--user=root"}
	}
	data := filepath.Join(dir, "data")
	install := exec.CommandContext(ctx, installDB, append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db"}, userArgs...)...)
	if out, err := install.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("mariadb-install-db: %w\n%s", err, out))
	}
	logPath := filepath.Join(dir, "mariadb.log")
	sock := filepath.Join(dir, "mariadb.sock")
	// Not tied to ctx: the server must outlive the start-up context and is ended only by Stop.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), MariaDBBin, append([]string{"--no-defaults",
		"--datadir=" + data, "--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1", "--socket=" + sock,
		"--pid-file=" + filepath.Join(dir, "mariadb.pid"), "--log-error=" + logPath, "--skip-name-resolve", "--skip-log-bin",
		// Durability buys nothing for a server deleted after the test and costs seconds.
		"--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
		"--max-connections=200"}, userArgs...)...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting mariadbd: %w", err))
	}
	m.cmd = cmd
	go func() {
		m.done <- cmd.Wait()
		close(m.done)
	}()
	root := mysql.NewConfig()
	root.User, root.Net, root.Addr = "root", "unix", sock
	var db *sql.DB
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := mysql.NewConnector(root)
		if err == nil {
			db = sql.OpenDB(c)
			if err = db.PingContext(ctx); err == nil {
				break
			}
			_ = db.Close()
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			return fail(fmt.Errorf("mariadbd did not become ready: %w\n%s", err, log))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case err := <-m.done:
			log, _ := os.ReadFile(logPath)
			return fail(fmt.Errorf("mariadbd exited: %w\n%s", err, log))
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer func() { _ = db.Close() }()
	for _, stmt := range []string{
		fmt.Sprintf("CREATE USER 'sluice'@'127.0.0.1' IDENTIFIED BY '%s'", m.Password),
		"GRANT ALL PRIVILEGES ON *.* TO 'sluice'@'127.0.0.1'",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fail(fmt.Errorf("setting up MariaDB: %w", err))
		}
	}
	return m, nil
}

// URL returns a mysql:// URL of the database as the sluice user.
func (m *MariaDB) URL(database string) string {
	return fmt.Sprintf("mysql://%s:%s@%s:%d/%s", m.User, m.Password, m.Host, m.Port, database)
}

// Exec runs statements on the server as the sluice user, in database ("" for none).
func (m *MariaDB) Exec(ctx context.Context, database string, stmts ...string) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = m.User, m.Password, "tcp", fmt.Sprintf("%s:%d", m.Host, m.Port), database
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("configuring the MariaDB client: %w", err)
	}
	db := sql.OpenDB(c)
	defer func() { _ = db.Close() }()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// Stop stops the server and deletes its data.
func (m *MariaDB) Stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(os.Interrupt)
		select {
		case exitErr := <-m.done:
			_ = exitErr // the exit status of a server we signalled says nothing useful
		case <-time.After(20 * time.Second):
			_ = m.cmd.Process.Kill()
			exitErr := <-m.done
			_ = exitErr
		}
	}
	if m.dir != "" {
		_ = os.RemoveAll(m.dir)
	}
}
