package itest

import (
	"bufio"
	"context"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// TestTwoRunnersOnePostgres runs two serving runners on one PostgreSQL database. Both schedule
// the same catch-up intervals and both work jobs: each interval gets exactly one run, and no
// activity instance runs twice, let alone at the same time.
func TestTwoRunnersOnePostgres(t *testing.T) {
	dir := t.TempDir()
	database := acctest.NewPostgresDatabase(t)
	trace := filepath.Join(dir, "trace.log")
	const intervals = 10
	p := &definition.Pipeline{
		Format: definition.FormatPipeline, Name: "shared", Owner: "ops@example.com", Enabled: true,
		Schedule:   definition.Schedule{Every: "1h", Start: "2026-11-01T00:00:00Z", End: "2026-11-01T10:00:00Z", Catchup: true, MaxActiveRuns: 4},
		Activities: map[string]*definition.Activity{},
	}
	// Four independent activities and one after them, each logging when it starts and ends.
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		a := &definition.Activity{Shell: &definition.ShellActivity{Command: []string{"sh", "-c",
			`echo "start {{ .RunID }}/` + id + ` $(date +%s%N)" >> "$T"; sleep 0.1; echo "end {{ .RunID }}/` + id + ` $(date +%s%N)" >> "$T"`},
			Env: map[string]string{"T": trace}}}
		if id == "e" {
			a.DependsOn = []string{"a", "b", "c", "d"}
		}
		p.Activities[id] = a
	}
	reg := publish(t, p)
	env := []string{"SLUICE_REGISTRY=" + reg, "SLUICE_DATABASE=" + database, "SLUICE_TICK=50ms", "SLUICE_FETCH_COOLDOWN=5ms", "SLUICE_LISTEN=", "SLUICE_WORKERS=4"}
	r1 := runner(t, filepath.Join(dir, "r1.log"), env, "serve")
	r2 := runner(t, filepath.Join(dir, "r2.log"), env, "serve")
	deadline := time.Now().Add(2 * time.Minute)
	var runs []state.RunRow
	for {
		db, err := state.OpenReadOnly(context.Background(), database)
		if err != nil {
			t.Fatal(err)
		}
		runs, err = state.RecentRuns(context.Background(), db.Reader(), "shared", 1000)
		db.Close()
		if err != nil && time.Now().After(deadline) {
			t.Fatal(err) // before that: the runners may not have created the tables yet
		}
		done := 0
		for _, r := range runs {
			if r.State == status.RunSuccess {
				done++
			}
		}
		if done >= intervals {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs done\n%s", done, intervals, tail(readFile(filepath.Join(dir, "r1.log")), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = r1.Process.Signal(syscall.SIGTERM)
	_ = r2.Process.Signal(syscall.SIGTERM)
	_ = r1.Wait()
	_ = r2.Wait()
	if len(runs) != intervals {
		t.Errorf("%d runs for %d intervals: both schedulers planned, exactly one run each must exist", len(runs), intervals)
	}

	// Every instance started once and ended before any other start of it; count per runner.
	type span struct{ start, end int64 }
	spans := map[string][]span{}
	sc := bufio.NewScanner(strings.NewReader(readFile(trace)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		s := spans[f[1]]
		if f[0] == "start" {
			spans[f[1]] = append(s, span{start: ns})
		} else if len(s) > 0 {
			s[len(s)-1].end = ns
		}
	}
	if len(spans) != intervals*5 {
		t.Errorf("%d activity instances ran, want %d", len(spans), intervals*5)
	}
	twice := 0
	for inst, ss := range spans {
		if len(ss) != 1 {
			twice++
			sort.Slice(ss, func(i, j int) bool { return ss[i].start < ss[j].start })
			for i := 1; i < len(ss); i++ {
				if ss[i].start < ss[i-1].end {
					t.Errorf("instance %s ran twice at the same time", inst)
				}
			}
		}
	}
	if twice != 0 {
		t.Errorf("%d instances ran more than once without any runner dying", twice)
	}
	db, err := state.OpenReadOnly(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().Query(context.Background(), `SELECT runner, COUNT(*) FROM sluice_attempts GROUP BY runner ORDER BY runner`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var per []string
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			t.Fatal(err)
		}
		per = append(per, r+"="+strconv.Itoa(n))
	}
	if len(per) != 2 {
		t.Errorf("attempts by runner: %v; want both runners to have worked", per)
	}
	t.Logf("two runners: %d runs for %d intervals, %d instances, none twice; attempts by runner %v", len(runs), intervals, len(spans), per)
}
