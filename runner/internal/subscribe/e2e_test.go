package subscribe_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// The whole loop through the binary: `sluice-runner put` writes changes into the stream,
// `sluice-runner serve --replicas a,b` applies them to both replicas, and `sluice-runner
// replicas verify` finds the replicas identical.
func TestSubscriber_PutServeVerifyThroughTheBinary(t *testing.T) {
	bin := runnerBinary(t)
	_, arn := newStream(t, 2)
	a, b := newReplica(t), newReplica(t)
	dir := publish(t, "", replication("loop", arn, "a", "b"))
	env := []string{
		"SLUICE_REGISTRY=file://" + dir, "SLUICE_DATABASE=sqlite://" + filepath.Join(t.TempDir(), "state.db"),
		"SLUICE_CONN_A=" + a, "SLUICE_CONN_B=" + b, "SLUICE_REPLICAS=a,b", "SLUICE_LISTEN=",
		"AWS_REGION=" + acctest.Region, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_KINESIS=" + kin.Endpoint,
	}
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return cmd
	}
	args := []string{"put", "loop", "--sql", "CREATE TABLE app.events (id INTEGER PRIMARY KEY, what TEXT)"}
	for i := 1; i <= 20; i++ {
		args = append(args, "--sql", fmt.Sprintf("INSERT INTO app.events VALUES (%d, 'e%d')", i, i))
	}
	args = append(args, "--sql", "UPDATE app.events SET what = upper(what) WHERE id % 2 = 0")
	if out, err := command(args...).CombinedOutput(); err != nil {
		t.Fatalf("put: %v\n%s", err, out)
	}
	serve := &runnerProc{t: t, bin: bin, env: env, args: []string{"serve"}, log: filepath.Join(t.TempDir(), "serve.log")}
	serve.start()
	t.Cleanup(serve.kill)
	for _, url := range []string{a, b} {
		waitFor(t, "the changes on both replicas", 60*time.Second, func() bool {
			var n, upper int
			c := `SELECT COUNT(*), COUNT(*) FILTER (WHERE what = upper(what)) FROM app.events`
			if !tableExists(t, url, "app.events") {
				return false
			}
			queryRow(t, url, c, &n, &upper)
			return n == 20 && upper == 10
		})
	}
	out, err := command("replicas", "verify", "loop").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 tables: identical") || !strings.Contains(string(out), "app.events  20/20  equal") {
		t.Fatalf("replicas verify: %v\n%s", err, out)
	}
	t.Logf("replicas verify:\n%s", out)
}

func tableExists(t testing.TB, url, table string) bool {
	t.Helper()
	var ok bool
	queryRow(t, url, fmt.Sprintf("SELECT to_regclass('%s') IS NOT NULL", table), &ok)
	return ok
}
