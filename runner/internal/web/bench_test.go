package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/board"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/web"
)

func TestMain(m *testing.M) { acctest.RunnerMain(m) }

// Render benchmark sizes: the 500 pipelines and 100,000 runs (200 hourly runs each,
// four activities per run: 400,000 activity instances).
const (
	benchPipelines = 500
	benchRuns      = 200
)

// fillBench writes the benchmark's history into db: every pipeline a published version, 200
// finished runs (every seventh failed in one activity), freshness, and a pause for one in ten.
func fillBench(b *testing.B, db *state.DB) {
	b.Helper()
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(benchRuns * time.Hour)
	acts := map[string]string{"extract": "shell", "transform": "shell", "load": "shell", "report": "shell"}
	for i := range benchPipelines {
		p := &definition.Pipeline{
			Format: definition.FormatPipeline, Name: fmt.Sprintf("pipeline_%03d", i), Owner: fmt.Sprintf("team-%d@example.com", i%12), Enabled: true,
			Schedule: definition.Schedule{Every: "1h", Start: start.Format(time.RFC3339), MaxActiveRuns: 4},
			Activities: map[string]*definition.Activity{
				"extract":   {Shell: &definition.ShellActivity{Command: []string{"true"}}},
				"transform": {DependsOn: []string{"extract"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
				"load":      {DependsOn: []string{"transform"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
				"report":    {DependsOn: []string{"extract"}, Shell: &definition.ShellActivity{Command: []string{"true"}}},
			},
		}
		doc, err := definition.Encode(p)
		if err != nil {
			b.Fatal(err)
		}
		runs := make([]state.NewRun, benchRuns)
		for j := range runs {
			s := start.Add(time.Duration(j) * time.Hour)
			runs[j] = state.NewRun{Pipeline: p.Name, IntervalStart: s, IntervalEnd: s.Add(time.Hour), Version: p.Version,
				Trigger: state.TriggerSchedule, MaxActive: 4, Activities: acts}
		}
		err = db.InTx(ctx, func(q state.Q) error {
			if err := state.PutDefinition(ctx, q, p.Name, p.Version, doc, now); err != nil {
				return err
			}
			if err := state.PutPipeline(ctx, q, state.PipelineRow{Name: p.Name, Version: p.Version, Enabled: true, Owner: p.Owner}, now); err != nil {
				return err
			}
			if _, err := state.InsertRuns(ctx, q, db.Dialect, runs, now); err != nil {
				return err
			}
			if i%10 == 0 {
				if _, err := state.SetPaused(ctx, q, p.Name, true, "bench", now); err != nil {
					return err
				}
			}
			return state.PutFreshness(ctx, q, p.Name, state.FreshnessPipeline, now, now)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	err := db.InTx(ctx, func(q state.Q) error {
		for _, stmt := range []string{
			`UPDATE sluice_runs SET state = CASE WHEN id % 7 = 0 THEN 'failed' ELSE 'success' END, started_at = created_at, finished_at = created_at`,
			`UPDATE sluice_activities SET state = 'success', attempts = 1`,
			`UPDATE sluice_activities SET state = 'failed', error = 'boom' WHERE activity = 'transform' AND run_id % 7 = 0`,
			`UPDATE sluice_activities SET state = 'upstream_failed' WHERE activity = 'load' AND run_id % 7 = 0`,
		} {
			if _, err := q.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRenderPages renders the home page and a pipeline page through the web handler over
// a state database holding 500 pipelines and 100,000 runs, and reports the statements each
// page costs (constant: the home page reads every pipeline's newest runs in one statement).
// The goal is under 200 ms a page.
func BenchmarkRenderPages(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			url := "sqlite://" + filepath.Join(b.TempDir(), "state.db")
			if driver == "postgres" {
				url = acctest.NewPostgresDatabase(b)
			}
			db, err := state.Open(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			fillBench(b, db)
			if db.Dialect == state.Postgres {
				if _, err := db.Reader().Exec(context.Background(), `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			rd := board.New(db, nil, nil)
			h := web.Handler(web.Options{Source: &fixedSource{}, Board: rd, Logger: slog.New(slog.DiscardHandler)})
			for _, page := range []struct{ name, path, want string }{
				{"home", "/", `data-name="pipeline_049"`},
				{"home-all-500", "/?per_page=500", `data-name="pipeline_499"`},
				{"home-filtered", "/?state=failing&sort=failure_streak", `data-name="pipeline_`},
				{"pipeline", "/pipelines/pipeline_250", `id="grid"`},
			} {
				b.Run(page.name, func(b *testing.B) {
					get := func() *httptest.ResponseRecorder {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, page.path, nil))
						if rec.Code != 200 {
							b.Fatalf("GET %s: %d %s", page.path, rec.Code, rec.Body.String())
						}
						return rec
					}
					body := get().Body.String() // warm: definitions decoded and cached
					if !strings.Contains(body, page.want) {
						b.Fatalf("GET %s does not show %q", page.path, page.want)
					}
					q0 := rd.Queries()
					b.ResetTimer()
					for b.Loop() {
						get()
					}
					b.StopTimer()
					b.ReportMetric(float64(rd.Queries()-q0)/float64(b.N), "queries/op")
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
					b.ReportMetric(float64(len(body)), "bytes/page")
				})
			}
		})
	}
}
