package subscribe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// runnerBinary builds sluice-runner from this tree once per test run.
func runnerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := acctest.RepoRoot()
		if err != nil {
			buildOnce.err = err
			return
		}
		dir, err := os.MkdirTemp("", "sluice-subscribe-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "sluice-runner")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./runner")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("building sluice-runner: %w\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// runnerProc is a `sluice-runner serve` process.
type runnerProc struct {
	t    testing.TB
	bin  string
	env  []string
	args []string
	log  string
	cmd  *exec.Cmd
}

func (r *runnerProc) start() {
	r.t.Helper()
	f, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bin, r.args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, r.env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); _ = f.Close() }()
	r.cmd = cmd
}

func (r *runnerProc) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		for r.cmd.ProcessState == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestSubscriber_SIGKILLedRunnersWhileReshardingLoseAndRepeatNothing(t *testing.T) {
	bin := runnerBinary(t)
	stream, arn := newStream(t, 3)
	a, b := newReplica(t), newReplica(t)
	stateURL := newStateDatabase(t)
	r := replication("killed", arn, "a", "b")
	r.Batch.MaxRecords = 40
	dir := publish(t, "", r)
	logDir := t.TempDir()
	port, err := acctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"SLUICE_REGISTRY=file://" + dir, "SLUICE_DATABASE=" + stateURL,
		"SLUICE_CONN_A=" + a, "SLUICE_CONN_B=" + b,
		"SLUICE_REPLICAS=a,b", "SLUICE_REPLICA_LEASE=2s", "SLUICE_TICK=1s",
		"AWS_REGION=" + acctest.Region, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_KINESIS=" + kin.Endpoint,
	}
	// Two runners compete for the same shards of both replicas; the first serves HTTP.
	procs := []*runnerProc{
		{t: t, bin: bin, env: env, args: []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, log: filepath.Join(logDir, "runner1.log")},
		{t: t, bin: bin, env: env, args: []string{"serve", "--listen", ""}, log: filepath.Join(logDir, "runner2.log")},
	}
	for _, p := range procs {
		p.start()
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
		if t.Failed() {
			for _, p := range procs {
				data, _ := os.ReadFile(p.log)
				t.Logf("%s:\n%s", p.log, tail(string(data), 60))
			}
		}
	})

	prod := newProducer(t, stream)
	f := startFlow(prod, 30, 15*time.Millisecond, insertSQL)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12)) //nolint:gosec // test randomness
	const kills = 6
	interrupted := 0
	for i := range kills {
		// At a random moment — mid-batch, mid-commit, between reads — SIGKILL one runner, and
		// start it again a moment later. Its leases lapse; the other runner takes them over.
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		// The victim is a runner holding leases (the one with most), so every kill interrupts
		// consumers, wherever they are.
		var held map[int]int
		waitFor(t, "a running runner holding leases", 30*time.Second, func() bool {
			held = leasesByPID(t, stateURL) // a killed runner's leases stay live until they lapse
			return held[procs[0].cmd.Process.Pid]+held[procs[1].cmd.Process.Pid] > 0
		})
		p := procs[rng.IntN(len(procs))]
		for _, q := range procs {
			if held[q.cmd.Process.Pid] > held[p.cmd.Process.Pid] {
				p = q
			}
		}
		n := held[p.cmd.Process.Pid]
		if n > 0 {
			interrupted++
		}
		p.kill()
		t.Logf("kill %d: %s SIGKILLed holding %d shard leases, after %d records produced", i+1, filepath.Base(p.log), n, prod.total())
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		p.start()
		if i == 2 {
			// Halfway, the stream is resharded 3 → 6 while records flow and runners die.
			if _, err := kinesisClient(t).UpdateShardCount(context.Background(), &kinesis.UpdateShardCountInput{
				StreamName: aws.String(stream), TargetShardCount: aws.Int32(6), ScalingType: types.ScalingTypeUniformScaling,
			}); err != nil {
				t.Fatal(err)
			}
			t.Logf("resharded 3 → 6 after %d records produced", prod.total())
		}
	}
	if interrupted != kills {
		t.Fatalf("only %d of %d kills hit a runner holding leases", interrupted, kills)
	}
	f.waitRounds(t, 10)
	f.end()
	produced := prod.produced()
	waitApplied(t, a, count(produced), 90*time.Second)
	waitApplied(t, b, count(produced), 90*time.Second)
	assertEqual(t, fmt.Sprintf("replica a after %d SIGKILLs", kills), produced, applied(t, a))
	assertEqual(t, fmt.Sprintf("replica b after %d SIGKILLs", kills), produced, applied(t, b))

	// What happened is visible: status and metrics report every shard of both replicas.
	waitFor(t, "status to report every record", 30*time.Second, func() bool {
		out, err := exec.Command(bin, "status", "--replicas", "--output", "json", "--database", stateURL).Output()
		if err != nil {
			t.Fatalf("status --replicas: %v", err)
		}
		var shards []status.ReplicaShard
		if err := json.Unmarshal(out, &shards); err != nil {
			t.Fatalf("status --replicas --output json: %v\n%s", err, out)
		}
		applied := map[string]int64{}
		for _, s := range shards {
			applied[s.Replica] += s.Applied
		}
		return applied["a"] == int64(count(produced)) && applied["b"] == int64(count(produced))
	})
	text, err := exec.Command(bin, "status", "--database", stateURL).Output()
	if err != nil || !strings.Contains(string(text), "replication killed, replica a") {
		t.Fatalf("status text lacks the replicas section (%v):\n%s", err, text)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	page, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	_ = page.Body.Close()
	if !strings.Contains(string(html), `id="replicas"`) || !strings.Contains(string(html), "shardId-000000000002") {
		t.Fatal("the status page lacks the stream replicas")
	}
	for _, want := range []string{`sluice_replica_applied_records{replica="a",replication="killed",shard="shardId-000000000000"}`, `sluice_replica_millis_behind_latest{`, `sluice_replica_shard_state{`} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}

// leasesByPID counts the live shard leases per runner process (an owner is host-PID-random).
func leasesByPID(t testing.TB, stateURL string) map[int]int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), stateURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(context.Background(), `SELECT owner FROM sluice_subscriber_shards WHERE lease_until > $1`, time.Now().UnixMicro())
	if err != nil {
		return nil // not migrated yet
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var owner string
		if err := rows.Scan(&owner); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(owner, "-")
		if len(parts) >= 3 {
			pid, _ := strconv.Atoi(parts[len(parts)-2])
			out[pid]++
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
