package itest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/emr/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/emrstep"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/fakeemr"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

const (
	procsIntervals = 3
	procsKills     = 3
)

// execScript is one execution of an activity instance that checks it runs alone: it records
// its pid, and first whether the pid of the instance's previous execution still lives (then the
// two overlap: "overlap" in the trace); then it stamps its start, works `secs`.6-.9 s in a
// child process (as any real command does: the child must die with it) and stamps its end.
func execScript(trace, key string, secs int) string {
	return fmt.Sprintf(`d=%q; k=%q
if [ -f "$d/$k.pid" ]; then
  p=$(cat "$d/$k.pid"); s=$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)
  if [ -n "$s" ] && [ "$s" != Z ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$k"; then echo "overlap $k $p $$" >> "$d/trace"; fi
fi
echo $$ > "$d/$k.pid"
echo "start $k $$ $(date +%%s%%N)" >> "$d/trace"
sleep %d.$(( 6 + $(od -An -N1 -tu1 /dev/urandom) %% 4 ))
echo "end $k $$ $(date +%%s%%N)" >> "$d/trace"`, trace, key, secs)
}

// procsPipeline has a shell activity and an emr_step activity (local mode runs it as a local
// command; aws mode on a transient cluster of the fake EMR) per interval.
func procsPipeline(trace string, aws bool, secs int) *definition.Pipeline {
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "procs", Owner: "ops@example.com", Enabled: true,
		Schedule: definition.Schedule{Every: "1h", Start: "2026-11-01T00:00:00Z", End: "2026-11-01T03:00:00Z", MaxActiveRuns: procsIntervals},
		// Every kill may cost an attempt: enough retries that no kill pattern exhausts them.
		Defaults:   definition.Defaults{Retries: 2 * procsKills, RetryDelay: "50ms", Timeout: "30s"},
		Activities: map[string]*definition.Activity{},
	}
	emr := &definition.EMRStepActivity{Template: "small", Steps: []definition.EMRStep{
		{Name: "work", Command: []string{"sh", "-c", execScript(trace, "{{ .RunID }}-emr", secs)}},
	}}
	if !aws {
		p.Activities["sh"] = &definition.Activity{Shell: &definition.ShellActivity{Command: []string{"sh", "-c", execScript(trace, "{{ .RunID }}-sh", secs)}}}
		emr = &definition.EMRStepActivity{ClusterID: "j-LOCAL", Steps: emr.Steps}
	}
	p.Activities["emr"] = &definition.Activity{EMRStep: emr}
	return p
}

// TestKill_NoOverlappingExecutionNoProcessOrClusterLeft SIGKILLs `serve` at random moments of
// shell activities and local EMR steps (local), and of emr_step activities on transient
// clusters of the fake EMR (aws), on both state databases. Old code failed it: the killed
// runner's commands kept running and the restarted runner ran the attempt again beside them
// (overlap), and a killed runner's cluster was never terminated.
func TestKill_NoOverlappingExecutionNoProcessOrClusterLeft(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{emrstep.ModeLocal, emrstep.ModeAWS} {
			t.Run(driver+"/"+mode, func(t *testing.T) { killTest(t, driver, mode) })
		}
	}
}

func killTest(t *testing.T, driver, mode string) {
	started := time.Now()
	dir := t.TempDir()
	database := "sqlite://" + filepath.Join(dir, "state.db")
	if driver == "postgres" {
		database = acctest.NewPostgresDatabase(t)
	}
	trace := filepath.Join(dir, "trace")
	if err := os.MkdirAll(trace, 0o755); err != nil {
		t.Fatal(err)
	}
	// On PostgreSQL a dead runner's jobs are released 2 s after its liveness lock is gone (see
	// Engine.orphanGrace), plus the process grace: the work lasts longer, so that a command the
	// runner's death did not end would still run when the retry starts.
	secs := 0
	if driver == "postgres" {
		secs = 4
	}
	reg := publish(t, procsPipeline(trace, mode == emrstep.ModeAWS, secs))
	env := []string{"SLUICE_REGISTRY=" + reg, "SLUICE_DATABASE=" + database, "SLUICE_EMR_MODE=" + mode,
		"SLUICE_WORK_DIR=" + filepath.Join(dir, "work"), "SLUICE_TICK=50ms", "SLUICE_FETCH_COOLDOWN=5ms",
		"SLUICE_RESCUE_AFTER=60s", "SLUICE_PROCESS_GRACE=1s", "SLUICE_LISTEN="}
	var fake *fakeemr.Server
	if mode == emrstep.ModeAWS {
		var err error
		// Steps run ~15 polls of 50 ms: long enough to be killed in.
		fake, err = fakeemr.Start(fakeemr.Config{DefaultStepTicks: 15, StartupTicks: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		publishTemplate(t, reg)
		env = append(env, "AWS_ENDPOINT_URL_EMR="+fake.URL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test",
			"AWS_SECRET_ACCESS_KEY=test", "SLUICE_EMR_POLL_INTERVAL=50ms")
	}
	logPath := filepath.Join(dir, "runner.log")
	plan := runner(t, logPath, env, "backfill", "procs", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T03:00:00Z", "--no-wait")
	if err := plan.Wait(); err != nil {
		t.Fatalf("planning the backfill: %v\n%s", err, readFile(logPath))
	}
	rng := rand.New(rand.NewPCG(3, uint64(len(driver)+len(mode))))
	deadline := time.Now().Add(90 * time.Second)
	kills, guards := 0, 0
	for !procsDone(t, database) {
		if time.Now().After(deadline) {
			t.Fatalf("not done after %d kills\n%s", kills, tail(readFile(logPath), 4000))
		}
		before := countAttempts(t, database)
		cmd := runner(t, logPath, env, "serve")
		if kills < procsKills {
			// Kill once this runner has started an attempt of its own, at a random moment of
			// the next 0.1-0.9 s: inside the command or the cluster's steps, or while starting it.
			for countAttempts(t, database) == before && !procsDone(t, database) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Duration(100+rng.IntN(800)) * time.Millisecond)
			if kills == 1 && mode == emrstep.ModeLocal {
				// Once, the guards die with the runner before they can kill their groups, as if
				// the machine's OOM killer took them all: the commands are left running, and the
				// restarted runner must reap them from their records before it retries.
				guards = killWithGuards(t, cmd, filepath.Join(dir, "work", ".sluice-processes"))
			} else {
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
			_ = cmd.Wait()
			kills++
			continue
		}
		for !procsDone(t, database) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	for _, r := range procsRuns(t, database) {
		if r.State != status.RunSuccess {
			t.Errorf("run %d (%s): %s; activities: %s", r.ID, r.IntervalStart, r.State, activityErrors(t, database, r.ID))
		}
	}

	execs, overlaps := 0, 0
	if mode == emrstep.ModeLocal {
		execs, overlaps = checkTrace(t, readFile(filepath.Join(trace, "trace")))
	}
	left := processesMentioning(trace)
	if len(left) > 0 {
		t.Errorf("processes of killed attempts still running: %v", left)
	}
	clusters, running := 0, 0
	if fake != nil {
		clusters, running = checkClusters(t, fake)
	}
	if mode == emrstep.ModeLocal && guards == 0 {
		t.Errorf("no guard was killed with the runner: the reaping was not exercised")
	}
	t.Logf("kill test (%s, %s): %d SIGKILLs (%d guards killed with the runner), %d executions traced, overlaps %d, processes left %d, clusters %d, clusters left running %d, %.1fs",
		driver, mode, kills, guards, execs, overlaps, len(left), clusters, running, time.Since(started).Seconds())
}

// killWithGuards SIGKILLs the runner and the guards of its recorded process groups so that no
// guard gets to kill its group: the guards are stopped first (a stopped process handles no
// signal but SIGKILL), then the runner dies, then they do. It returns how many guards it killed.
func killWithGuards(t *testing.T, runner *exec.Cmd, records string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(records, "*.json"))
	var guards []int
	for _, f := range files {
		var rec struct {
			PGID int `json:"pgid"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.PGID <= 1 {
			continue
		}
		if syscall.Kill(rec.PGID, syscall.SIGSTOP) == nil {
			guards = append(guards, rec.PGID)
		}
	}
	_ = runner.Process.Signal(syscall.SIGKILL)
	_ = runner.Wait()
	for _, g := range guards {
		_ = syscall.Kill(g, syscall.SIGKILL)
	}
	return len(guards)
}

// checkTrace checks that no execution saw the previous one of its instance alive, and that
// the executions that stamped their end do not overlap another of the same instance. It
// returns how many executions it saw and how many overlaps.
func checkTrace(t *testing.T, trace string) (int, int) {
	t.Helper()
	type span struct{ start, end int64 }
	spans := map[string]map[string]*span{} // key -> pid -> span
	overlaps := 0
	sc := bufio.NewScanner(strings.NewReader(trace))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 1 && f[0] == "overlap":
			overlaps++
			t.Errorf("overlapping executions: %s", sc.Text())
		case len(f) == 4:
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			if spans[f[1]] == nil {
				spans[f[1]] = map[string]*span{}
			}
			s := spans[f[1]][f[2]]
			if s == nil {
				s = &span{}
				spans[f[1]][f[2]] = s
			}
			if f[0] == "start" {
				s.start = ns
			} else {
				s.end = ns
			}
		}
	}
	n := 0
	for key, byPid := range spans {
		var ss []*span
		for _, s := range byPid {
			ss = append(ss, s)
		}
		n += len(ss)
		sort.Slice(ss, func(i, j int) bool { return ss[i].start < ss[j].start })
		for i := 1; i < len(ss); i++ {
			if prev := ss[i-1]; prev.end != 0 && ss[i].start < prev.end {
				overlaps++
				t.Errorf("instance %s: an execution started at %d, before the previous one ended at %d", key, ss[i].start, prev.end)
			}
		}
		if last := ss[len(ss)-1]; last.end == 0 {
			t.Errorf("instance %s: its last execution never finished", key)
		}
	}
	if len(spans) != 2*procsIntervals {
		t.Errorf("%d activity instances executed, want %d", len(spans), 2*procsIntervals)
	}
	return n, overlaps
}

// processesMentioning lists the live processes whose command line names s.
func processesMentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
				continue // a zombie: dead, waiting for a reaper
			}
		}
		out = append(out, e.Name())
	}
	return out
}

// checkClusters checks that the clusters of one activity instance never ran at the same time
// and that none is left running; it returns how many clusters there were and how many run.
func checkClusters(t *testing.T, fake *fakeemr.Server) (int, int) {
	t.Helper()
	all := fake.Clusters()
	byInst := map[string][]fakeemr.ClusterInfo{}
	running := 0
	for _, c := range all {
		k := c.Tags[emrstep.TagRunID] + "/" + c.Tags[emrstep.TagActivity]
		byInst[k] = append(byInst[k], c)
		switch c.State {
		case types.ClusterStateStarting, types.ClusterStateBootstrapping, types.ClusterStateRunning, types.ClusterStateWaiting:
			running++
			t.Errorf("cluster %s (attempt %s of %s) is left %s", c.ID, c.Tags[emrstep.TagAttempt], k, c.State)
		}
	}
	for k, cs := range byInst {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Created.Before(cs[j].Created) })
		for i := 1; i < len(cs); i++ {
			if prev := cs[i-1]; prev.Ended.IsZero() || prev.Ended.After(cs[i].Created) {
				t.Errorf("instance %s: cluster %s started at %s while cluster %s still ran (ended %s)", k, cs[i].ID, cs[i].Created, prev.ID, prev.Ended)
			}
		}
	}
	if len(byInst) != procsIntervals {
		t.Errorf("clusters for %d activity instances, want %d", len(byInst), procsIntervals)
	}
	return len(all), running
}

func publishTemplate(t *testing.T, reg string) {
	t.Helper()
	r, err := registry.Open(context.Background(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := definition.Encode(&definition.EMRTemplate{
		Format: definition.FormatEMRTemplate, Name: "small", ReleaseLabel: "emr-7.2.0", Applications: []string{"Hadoop"},
		InstanceGroups: definition.InstanceGroups{Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand}},
		ServiceRole:    "EMR_DefaultRole_V2", JobFlowRole: "EMR_EC2_DefaultRole", IdleTimeout: "1h", StepConcurrency: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Put(context.Background(), registry.EMRTemplateKey("small"), raw); err != nil {
		t.Fatal(err)
	}
}

func procsRuns(t *testing.T, database string) []state.RunRow {
	t.Helper()
	db, err := state.OpenReadOnly(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := state.RecentRuns(context.Background(), db.Reader(), "procs", 100)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func procsDone(t *testing.T, database string) bool {
	t.Helper()
	runs := procsRuns(t, database)
	if len(runs) < procsIntervals {
		return false
	}
	for _, r := range runs {
		if r.State != status.RunSuccess && r.State != status.RunFailed {
			return false
		}
	}
	return true
}

// countAttempts counts the attempts ever started.
func countAttempts(t *testing.T, database string) int {
	t.Helper()
	return attemptsStarted(t, database)
}
