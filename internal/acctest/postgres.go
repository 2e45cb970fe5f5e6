package acctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresUser is the role the harness's server is created with; tests connect as it.
const postgresUser = "sluice"

// PostgresBinDir returns the directory holding the PostgreSQL 15 server binaries: SLUICE_PG_BIN,
// else where Debian's postgresql-15 package, which `make tools` installs, puts them.
func PostgresBinDir() (string, error) {
	dir := os.Getenv("SLUICE_PG_BIN")
	if dir == "" {
		dir = "/usr/lib/postgresql/15/bin"
	}
	for _, name := range []string{"initdb", "postgres"} {
		if p := filepath.Join(dir, name); !isExecutable(p) {
			return "", fmt.Errorf("PostgreSQL %s not found at %s: %w", name, p, errMissingTool)
		}
	}
	return dir, nil
}

// Postgres is a running throwaway PostgreSQL server with a superuser named sluice.
type Postgres struct {
	Host     string
	Port     int
	User     string
	Password string
	dir      string
	cmd      *exec.Cmd
	// done receives the server's exit status once and is then closed, so both the readiness
	// wait and Stop can watch it without one starving the other.
	done chan error
}

// pgOwner is the account initdb and postgres run as when the tests run as root, which
// PostgreSQL refuses to run as. nil means "as ourselves".
//
// The switch is made by the kernel credentials of the child rather than through runuser: runuser
// stays as the parent, and on SIGTERM it sleeps 2s and SIGKILLs its child even when PostgreSQL
// had shut down in a few milliseconds, which cost every Stop two seconds.
type pgOwner struct {
	uid, gid uint32
}

func postgresOwner() (*pgOwner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL will not run as root and there is no postgres user to run it as (%w): %w", err, errMissingTool)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user gid %q: %w", u.Gid, err)
	}
	return &pgOwner{uid: uint32(uid), gid: uint32(gid)}, nil
}

// command builds a command that runs as the owner in its own process group, so Stop can signal
// everything it started at once.
func (o *pgOwner) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// initdb works through child processes; killing only initdb would leave them running.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if o != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: o.uid, Gid: o.gid}
	}
	return cmd
}

// give hands paths we created to the account the server runs as.
func (o *pgOwner) give(paths ...string) error {
	if o == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(o.uid), int(o.gid)); err != nil {
			return fmt.Errorf("handing %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

// StartPostgres creates a fresh cluster in a temporary directory, starts PostgreSQL on a free
// 127.0.0.1 port and waits until it answers a query. Call Stop when done.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	owner, err := postgresOwner()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generating postgres password: %w", err)
	}
	dir, err := os.MkdirTemp("", "sluice-postgres-")
	if err != nil {
		return nil, fmt.Errorf("creating postgres dir: %w", err)
	}
	p := &Postgres{
		Host: "127.0.0.1", Port: port, User: postgresUser, Password: hex.EncodeToString(secret),
		dir: dir, done: make(chan error, 1),
	}
	fail := func(err error) (*Postgres, error) {
		p.Stop()
		return nil, err
	}

	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600); err != nil {
		return fail(fmt.Errorf("writing postgres password file: %w", err))
	}
	if err := owner.give(dir, pwfile); err != nil {
		return fail(err)
	}
	if err := p.initdb(ctx, bin, owner, pwfile); err != nil {
		return fail(err)
	}

	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fail(fmt.Errorf("creating postgres log: %w", err))
	}
	if err := owner.give(logPath); err != nil {
		_ = logFile.Close()
		return fail(err)
	}
	// Not tied to ctx: the server must outlive the start-up context and is ended only by Stop.
	cmd := owner.command(context.WithoutCancel(ctx), filepath.Join(bin, "postgres"),
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port),
		"-h", "127.0.0.1",
		// The socket goes in our own directory so it never collides with a system cluster's.
		"-k", dir,
		// Durability buys nothing for a cluster deleted after the test and costs seconds.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		// Terraform runs resources in parallel and each provider instance may hold a pool.
		"-c", "max_connections=200",
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fail(fmt.Errorf("starting postgres: %w", err))
	}
	p.cmd = cmd
	go func() {
		p.done <- cmd.Wait()
		close(p.done)
		_ = logFile.Close()
	}()

	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		return fail(fmt.Errorf("postgres did not become ready: %w\n%s", err, log))
	}
	return p, nil
}

// initdb creates the cluster, preferring C.UTF-8 so text behaves as on a typical server while
// sorting stays locale-independent; systems without that locale get plain C.
func (p *Postgres) initdb(ctx context.Context, bin string, owner *pgOwner, pwfile string) error {
	data := filepath.Join(p.dir, "data")
	var errs []error
	for _, locale := range []string{"C.UTF-8", "C"} {
		cmd := owner.command(ctx, filepath.Join(bin, "initdb"),
			"-D", data,
			"-U", postgresUser,
			"--auth=scram-sha-256",
			"--pwfile="+pwfile,
			"-E", "UTF8",
			"--locale="+locale,
			// Skips the final flush to disk: half of initdb's time, for a cluster that never
			// outlives the test.
			"--no-sync",
		)
		// The postgres user may not be allowed into the test's working directory.
		cmd.Dir = p.dir
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("initdb --locale=%s: %w\n%s", locale, err, out))
		_ = os.RemoveAll(data)
		if ctx.Err() != nil {
			break // killed by the caller, not a locale problem
		}
	}
	return errors.Join(errs...)
}

func (p *Postgres) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := p.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case exitErr := <-p.done:
			return fmt.Errorf("postgres exited: %w", exitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *Postgres) ping(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(p.URL("postgres"))
	if err != nil {
		return fmt.Errorf("parsing postgres URL: %w", err)
	}
	// A server that is still starting can accept and then stall a connection; don't let one
	// attempt eat the whole wait.
	cfg.ConnectTimeout = 2 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("querying postgres: %w", err)
	}
	return nil
}

// URL returns a connection URL for database as the sluice superuser.
func (p *Postgres) URL(database string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", p.User, p.Password, p.Host, p.Port, database)
}

var databaseName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// CreateDatabase creates database name, which must be a plain lower-case identifier so it needs
// no quoting in the tests' SQL and Terraform configurations either.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) error {
	if !databaseName.MatchString(name) {
		return fmt.Errorf("database name %q must match %s", name, databaseName)
	}
	return p.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// Exec runs one statement in database, for tests that change things behind Terraform's back.
func (p *Postgres) Exec(ctx context.Context, database, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, p.URL(database))
	if err != nil {
		return fmt.Errorf("connecting to postgres database %s: %w", database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("postgres database %s: %w", database, err)
	}
	return nil
}

// Stop shuts the server down and removes its directory. SIGINT is PostgreSQL's "fast" shutdown:
// it disconnects clients instead of waiting for them, because the provider under test keeps its
// connection pools open for the life of the test process.
func (p *Postgres) Stop() {
	if p == nil {
		return
	}
	if p.cmd != nil && p.cmd.Process != nil {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGINT)
		select {
		case exitErr := <-p.done:
			_ = exitErr // the exit status of a server we signalled says nothing useful
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case exitErr := <-p.done:
				_ = exitErr
			case <-time.After(5 * time.Second):
			}
		}
		p.cmd = nil
	}
	_ = os.RemoveAll(p.dir)
}
