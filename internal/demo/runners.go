package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// The runners of the replicas demo: their environment, the serve processes, and what the
// demo reads of the replicas while they work.

// runnerEnv is the runners' environment: base for all, and one connection per replica.
type runnerEnv struct {
	base  []string
	conns map[string]string
}

func connEnv(replica, url string) string {
	return "SLUICE_CONN_" + strings.ToUpper(replica) + "=" + url
}

// forReplica is the environment of the runner serving replica, in the replica's region.
func (e runnerEnv) forReplica(replica string) []string {
	return append(append([]string{}, e.base...), connEnv(replica, e.conns[replica]), "AWS_REGION="+regionOf(replica))
}

// all is the environment with every replica's connection, for verify.
func (e runnerEnv) all() []string {
	env := append([]string{}, e.base...)
	for r, url := range e.conns {
		env = append(env, connEnv(r, url))
	}
	return env
}

// serveProc is one `sluice-runner serve --replicas NAME` process.
type serveProc struct {
	cmd  *exec.Cmd
	addr string // of /metrics, /healthz and the status page
	done chan struct{}
}

func startServe(bin string, env []string, replica, logPath string) (*serveProc, error) {
	port, err := acctest.FreePort()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve", "--replicas", replica, "--listen", addr, "--log-level", "info")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting sluice-runner serve --replicas %s: %w", replica, err)
	}
	s := &serveProc{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(s.done) }()
	return s, nil
}

// kill SIGKILLs the runner and waits for it to be gone.
func (s *serveProc) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop asks the runner to stop (SIGTERM: it gives its leases back) and kills it if it takes
// more than ten seconds.
func (s *serveProc) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
	}
}

// tails returns the last lines of every serve log, for an error.
func tails(dir string) string {
	var b strings.Builder
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", p, strings.Join(lines, "\n"))
	}
	return b.String()
}

// waitOpenTransaction waits until a session of the replica at url (its subscriber's) is in the
// middle of a batch: a transaction that has written to the replicated tables and not yet
// committed; and says what it runs.
func waitOpenTransaction(ctx context.Context, url string, limit time.Duration) (string, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connecting to the replica: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(limit)
	for {
		var age time.Duration
		var tables, query string
		err := c.QueryRow(ctx, `SELECT now() - a.xact_start, string_agg(DISTINCT n.nspname || '.' || c.relname, ', '),
				left(regexp_replace(a.query, '\s+', ' ', 'g'), 60)
			FROM pg_stat_activity a
			JOIN pg_locks l ON l.pid = a.pid AND l.mode = 'RowExclusiveLock'
			JOIN pg_class c ON c.oid = l.relation AND c.relkind = 'r'
			JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'analytics'
			WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
			GROUP BY a.pid, a.xact_start, a.query
			ORDER BY a.xact_start LIMIT 1`).Scan(&age, &tables, &query)
		switch {
		case err == nil:
			return fmt.Sprintf("its batch transaction open for %s, writing %s, at %q", age.Round(time.Millisecond), tables, query), nil
		case !errors.Is(err, pgx.ErrNoRows):
			return "", fmt.Errorf("reading pg_stat_activity: %w", err)
		case time.Now().After(deadline):
			return "", fmt.Errorf("no batch transaction seen in the replica within %s", limit)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("interrupted: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
