// Package web is the HTTP server of `sluice-runner serve`: the status page (every pipeline with
// its last and next run, freshness, run counts and recent failures), one page per pipeline with
// its recent runs, the same read model as JSON, /healthz and /metrics.
//
// Routes (GET and HEAD only; any other method gets 405 with an Allow header):
//
//	/?page=N                status page: the scheduler's ticks, then page N of the pipelines
//	/pipelines/{name}       one pipeline, its recent runs and their activities (404 if unknown)
//	/api/pipelines?page=N   JSON: []status.Pipeline, one page (X-Total-Count, Link rel="next")
//	/api/pipelines/{name}   JSON: status.Pipeline (404 with {"error": ...} if unknown)
//	/api/ticks              JSON: status.Ticks (404 when the runner does not schedule)
//	/api/replicas           JSON: []status.ReplicaShard, the stream replicas' shards (404 without)
//	/healthz                200 "ok", or 503 with the reason as text
//	/metrics                Options.Metrics, when set
//
// Every response is bounded however many pipelines and runs the runner knows: the lists are
// paginated (PageSize pipelines a page, ?per_page= up to MaxPageSize), a pipeline shows a fixed
// number of recent runs and failures (the Source's choice), and documents are bounded by the
// registry's maximum document size. An 80 MB document once made 80 MB status pages (issue 11).
//
// Pages are rendered on the server with html/template, so the untrusted text they show
// (pipeline names, owners, descriptions, error messages) is escaped; they need no JavaScript and
// load nothing from elsewhere, and the Content-Security-Policy says so.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Source is where the pages' data comes from: the runner's database.
type Source interface {
	// Pipelines returns at most limit pipelines from offset, in name order, with LastRun,
	// NextRun, Freshness, Counts, RecentFailures and their recent Runs (each with its
	// Activities), and how many pipelines there are in all.
	Pipelines(ctx context.Context, offset, limit int) ([]status.Pipeline, int, error)
	// Pipeline returns the pipeline named name as Pipelines does, or nil when the runner knows
	// none by that name.
	Pipeline(ctx context.Context, name string) (*status.Pipeline, error)
	// Healthy returns nil when the runner works: its database is reachable and the scheduler
	// ticks and its ticks do not keep failing. Otherwise the error says what is wrong; /healthz
	// shows it.
	Healthy(ctx context.Context) error
}

// TickSource is what a Source of a scheduling runner (serve) also gives: how its ticks fared,
// shown at the top of the status page and as /api/ticks.
type TickSource interface {
	Ticks() status.Ticks
}

// ReplicaSource is what a Source of a runner with stream subscribers also gives: every shard of
// every replica, shown on the status page and as /api/replicas.
type ReplicaSource interface {
	ReplicaShards(ctx context.Context) ([]status.ReplicaShard, error)
}

// Page sizes of the pipeline lists.
const (
	PageSize    = 50
	MaxPageSize = 500
)

// Options configure Handler.
type Options struct {
	// Source is required.
	Source Source
	// Metrics serves /metrics; nil leaves /metrics out (404).
	Metrics http.Handler
	// Now is the clock of relative ages and staleness; nil means time.Now.
	Now func() time.Time
	// Logger logs failed requests to the Source; nil means slog.Default().
	Logger *slog.Logger
	// Board serves the UI's views (home with filters, pipeline grid and graph, runs and
	// attempts, runners, action log); nil leaves the status pages of Source alone.
	Board Board
	// Actions performs what the page's forms and the API's POST routes ask; nil (the default)
	// turns every action off: the routes answer 403 and the page shows no buttons.
	Actions Actions
	// Auth checks the tokens actions need; required with Actions.
	Auth *Auth
}

// Handler returns the server's handler. It panics when opts.Source is nil: that is a wiring
// mistake, not a condition to serve.
func Handler(opts Options) http.Handler {
	if opts.Source == nil {
		panic("web.Handler: Options.Source is nil")
	}
	if opts.Actions != nil && opts.Auth == nil {
		panic("web.Handler: Options.Actions without Options.Auth: actions need authentication")
	}
	s := &server{src: opts.Source, now: opts.Now, log: opts.Logger, board: opts.Board, acts: opts.Actions, auth: opts.Auth}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	mux := http.NewServeMux()
	// A "GET" pattern also matches HEAD; for other methods ServeMux answers 405 with Allow.
	if s.board == nil {
		mux.HandleFunc("GET /{$}", s.index)
		mux.HandleFunc("GET /pipelines/{name}", s.pipeline)
	} else {
		s.boardRoutes(mux)
	}
	mux.HandleFunc("GET /api/pipelines", s.apiPipelines)
	mux.HandleFunc("GET /api/pipelines/{name}", s.apiPipeline)
	mux.HandleFunc("GET /api/ticks", s.apiTicks)
	mux.HandleFunc("GET /api/replicas", s.apiReplicas)
	mux.HandleFunc("GET /healthz", s.healthz)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	// Everything else is a 404 page; being a GET pattern, it leaves other methods to the 405.
	mux.HandleFunc("GET /", s.notFound)
	return securityHeaders(mux)
}

type server struct {
	src   Source
	now   func() time.Time
	log   *slog.Logger
	board Board
	acts  Actions
	auth  *Auth
}

// boardRoutes are the UI's views and actions (issue 16). The action routes exist whether
// actions are on or not, so that a form or a script aimed at a runner with actions off gets a
// 403 that says how to turn them on rather than a 405.
func (s *server) boardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /pipelines/{name}", s.pipelineDetail)
	mux.HandleFunc("GET /runs/{id}", s.runPage)
	mux.HandleFunc("GET /runs/{id}/activities/{activity}", s.runPage)
	mux.HandleFunc("GET /runs/{id}/activities/{activity}/attempts/{attempt}/log", s.attemptLog)
	mux.HandleFunc("GET /runners", s.runners)
	mux.HandleFunc("GET /actions", s.actionLog)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("GET /login/basic", s.loginBasic)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("POST /pipelines/{name}/trigger", s.formTrigger)
	mux.HandleFunc("POST /pipelines/{name}/backfill", s.formBackfill)
	mux.HandleFunc("POST /pipelines/{name}/pause", s.formPause(true))
	mux.HandleFunc("POST /pipelines/{name}/unpause", s.formPause(false))
	mux.HandleFunc("POST /runs/{id}/activities/{activity}/clear", s.formClear)
	mux.HandleFunc("POST /runs/{id}/fail", s.formFail)

	mux.HandleFunc("GET /api/home", s.apiHome)
	mux.HandleFunc("GET /api/runs/{id}", s.apiRun)
	mux.HandleFunc("GET /api/actions", s.apiActionLog)
	mux.HandleFunc("POST /api/pipelines/{name}/runs", s.apiTrigger)
	mux.HandleFunc("POST /api/pipelines/{name}/backfill/count", s.apiBackfillCount)
	mux.HandleFunc("POST /api/pipelines/{name}/backfill", s.apiBackfill)
	mux.HandleFunc("POST /api/pipelines/{name}/pause", s.apiPause(true))
	mux.HandleFunc("POST /api/pipelines/{name}/unpause", s.apiPause(false))
	mux.HandleFunc("POST /api/runs/{id}/activities/{activity}/clear", s.apiClear)
	mux.HandleFunc("POST /api/runs/{id}/fail", s.apiFail)
}

// newPage starts a page for a request: who is signed in, whether actions are on, and the CSRF
// token its forms carry.
func (s *server) newPage(w http.ResponseWriter, r *http.Request, title string) *page {
	now := s.now()
	p := &page{Title: title, Now: newTimeView(now, now), Board: s.board != nil}
	if s.acts != nil && s.auth != nil {
		p.ActionsOn = true
		p.CSRF = s.auth.csrfToken(w, r)
		p.User, _ = s.auth.pageUser(r)
		p.Here = r.URL.RequestURI()
	}
	return p
}

// message answers with a page that says one thing (errors, 404s).
func (s *server) message(w http.ResponseWriter, r *http.Request, code int, title, msg string) {
	p := s.newPage(w, r, title)
	p.Message = msg
	s.render(w, r, code, messagePage, p)
}

// securityHeaders forbids what the pages never need: scripts, external loads, framing, sniffing,
// and forms posting anywhere but here.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// pageParams reads ?page= (from 1) and ?per_page= (1 to MaxPageSize); a value that is not
// one is an error naming it.
func pageParams(r *http.Request) (page, perPage int, err error) {
	page, perPage = 1, PageSize
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return 0, 0, fmt.Errorf("page %q is not a page number: use 1 or more", v)
		}
	}
	if v := r.URL.Query().Get("per_page"); v != "" {
		if perPage, err = strconv.Atoi(v); err != nil || perPage < 1 || perPage > MaxPageSize {
			return 0, 0, fmt.Errorf("per_page %q: use 1 to %d", v, MaxPageSize)
		}
	}
	return page, perPage, nil
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	pg, perPage, err := pageParams(r)
	if err != nil {
		s.render(w, r, http.StatusBadRequest, messagePage, &page{Title: "bad request", Now: newTimeView(now, now), Message: err.Error()})
		return
	}
	ps, total, err := s.src.Pipelines(r.Context(), (pg-1)*perPage, perPage)
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	views := make([]pipelineView, 0, len(ps))
	for i := range ps {
		views = append(views, newPipelineView(&ps[i], now))
	}
	p := &page{Title: "sluice-runner", Now: newTimeView(now, now), Pipelines: views, Pages: newPagesView(pg, perPage, total)}
	if !s.addHealth(w, r, p, now) {
		return
	}
	s.render(w, r, http.StatusOK, indexPage, p)
}

// addHealth adds the runner's ticks and the replicas' shards to a home page, when the source
// has them. It answers the request itself (and returns false) when the shards cannot be read.
func (s *server) addHealth(w http.ResponseWriter, r *http.Request, p *page, now time.Time) bool {
	if ts, ok := s.src.(TickSource); ok {
		t := newTicksView(ts.Ticks(), now)
		p.Ticks = &t
	}
	if rs, ok := s.src.(ReplicaSource); ok {
		shards, err := rs.ReplicaShards(r.Context())
		if err != nil {
			s.sourceFailed(w, r, err)
			return false
		}
		p.Replicas = newReplicaViews(shards, now)
	}
	return true
}

func (s *server) apiReplicas(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.src.(ReplicaSource)
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{Error: "this runner has no stream replicas"})
		return
	}
	shards, err := rs.ReplicaShards(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "web: reading replicas failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading replicas: " + err.Error()})
		return
	}
	if shards == nil {
		shards = []status.ReplicaShard{}
	}
	writeJSON(w, http.StatusOK, shards)
}

func (s *server) apiTicks(w http.ResponseWriter, _ *http.Request) {
	ts, ok := s.src.(TickSource)
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{Error: "this runner does not schedule: it has no ticks"})
		return
	}
	writeJSON(w, http.StatusOK, ts.Ticks())
}

func (s *server) pipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p, err := s.src.Pipeline(r.Context(), name)
	if err != nil {
		s.sourceFailed(w, r, err)
		return
	}
	now := s.now()
	if p == nil {
		s.render(w, r, http.StatusNotFound, messagePage, &page{
			Title: "pipeline not found", Now: newTimeView(now, now),
			Message: fmt.Sprintf("The runner knows no pipeline named %q.", name),
		})
		return
	}
	v := newPipelineView(p, now)
	s.render(w, r, http.StatusOK, pipelinePage, &page{Title: p.Name + " — sluice-runner", Now: newTimeView(now, now), Pipeline: &v})
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.message(w, r, http.StatusNotFound, "not found", fmt.Sprintf("There is no page at %q.", r.URL.Path))
}

func (s *server) apiPipelines(w http.ResponseWriter, r *http.Request) {
	pg, perPage, err := pageParams(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	ps, total, err := s.src.Pipelines(r.Context(), (pg-1)*perPage, perPage)
	if err != nil {
		s.log.ErrorContext(r.Context(), "web: reading pipelines failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading pipelines: " + err.Error()})
		return
	}
	if ps == nil {
		ps = []status.Pipeline{} // "[]", not "null", when there are none
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if pg*perPage < total {
		w.Header().Set("Link", fmt.Sprintf(`</api/pipelines?page=%d&per_page=%d>; rel="next"`, pg+1, perPage))
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *server) apiPipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p, err := s.src.Pipeline(r.Context(), name)
	if err != nil {
		s.log.ErrorContext(r.Context(), "web: reading pipelines failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "reading pipelines: " + err.Error()})
		return
	}
	if p == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no pipeline named %q", name)})
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.src.Healthy(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "web: unhealthy", slog.Any("error", err))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "unhealthy: %v\n", err)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// sourceFailed answers a page request whose data could not be read.
func (s *server) sourceFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "web: reading pipelines failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	s.message(w, r, http.StatusInternalServerError, "error", "Reading the pipelines failed: "+err.Error())
}

// render executes a page into a buffer first, so a template error becomes a clean 500 instead
// of half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, code int, t *template.Template, p *page) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "page", p); err != nil {
		s.log.ErrorContext(r.Context(), "web: rendering page failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a Details value that JSON cannot hold gets here.
		code = http.StatusInternalServerError
		body, _ = json.Marshal(apiError{Error: "encoding the response: " + err.Error()})
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
