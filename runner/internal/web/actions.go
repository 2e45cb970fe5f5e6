package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/actions"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
)

// Actions is what the page and the API ask of the runner: *actions.Service, the same
// implementation the CLI uses.
type Actions interface {
	Pipeline(ctx context.Context, name string) (*definition.Pipeline, error)
	Trigger(ctx context.Context, p *definition.Pipeline, req actions.TriggerRequest) (actions.TriggerResult, error)
	CountBackfill(ctx context.Context, p *definition.Pipeline, req actions.BackfillRequest) (engine.BackfillCount, error)
	Backfill(ctx context.Context, p *definition.Pipeline, req actions.BackfillRequest) (actions.BackfillResult, error)
	ClearActivity(ctx context.Context, actor string, runID int64, activity string) ([]string, error)
	MarkRunFailed(ctx context.Context, actor string, runID int64) ([]string, error)
	SetPaused(ctx context.Context, actor, pipeline string, paused bool) (bool, error)
}

var _ Actions = (*actions.Service)(nil)

// errActionsOff is the answer to an action when the runner's config does not turn them on.
const errActionsOff = "actions are off on this runner: set web.actions: true and at least one web.tokens entry in the config file"

// statusOf maps an action's error to an HTTP status.
func statusOf(err error) int {
	var tooMany *actions.TooManyRunsError
	switch {
	case errors.As(err, &tooMany), errors.Is(err, actions.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, actions.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, actions.ErrNotFound):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// The page's actions: HTML forms posted by a signed-in browser (session cookie, or HTTP basic
// with a token as the password), each with the CSRF token of the page that showed it.

// pageActor checks a form post and returns who acts ("web:NAME"); when it returns false it has
// answered the request.
func (s *server) pageActor(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.acts == nil || s.auth == nil {
		s.message(w, r, http.StatusForbidden, "actions are off", errActionsOff+".")
		return "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := s.auth.checkCSRF(r); err != nil {
		s.message(w, r, http.StatusForbidden, "form refused", err.Error())
		return "", false
	}
	name, ok := s.auth.pageUser(r)
	if !ok {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(backTo(r)), http.StatusSeeOther)
		return "", false
	}
	return "web:" + name, true
}

// backTo is the page a form came from (its Referer, when on this site), else the home page.
func backTo(r *http.Request) string {
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && strings.HasPrefix(ref.Path, "/") {
		if ref.RawQuery != "" {
			return ref.Path + "?" + ref.RawQuery
		}
		return ref.Path
	}
	return "/"
}

// safeNext accepts only a local path as where to go after signing in: never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *server) actionFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "web: action failed", "path", r.URL.Path, "error", err)
	}
	s.message(w, r, code, what+" failed", err.Error())
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return t, fmt.Errorf("%w: %s %q is not an RFC 3339 time such as 2026-11-18T00:00:00Z", actions.ErrInvalid, field, v)
	}
	return t, nil
}

func (s *server) formPipeline(w http.ResponseWriter, r *http.Request, what string) (*definition.Pipeline, bool) {
	p, err := s.acts.Pipeline(r.Context(), r.PathValue("name"))
	if err != nil {
		s.actionFailed(w, r, what, err)
		return nil, false
	}
	return p, true
}

func (s *server) formTrigger(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.pageActor(w, r)
	if !ok {
		return
	}
	p, ok := s.formPipeline(w, r, "trigger")
	if !ok {
		return
	}
	start, err := parseTime("interval start", r.PostFormValue("interval_start"))
	if err != nil {
		s.actionFailed(w, r, "trigger", err)
		return
	}
	res, err := s.acts.Trigger(r.Context(), p, actions.TriggerRequest{
		Actor: actor, Start: start, Reprocess: r.PostFormValue("reprocess") == "on", AllowFuture: r.PostFormValue("allow_future") == "on",
	})
	if err != nil {
		s.actionFailed(w, r, "trigger", err)
		return
	}
	http.Redirect(w, r, runURL(res.RunID), http.StatusSeeOther)
}

func backfillForm(r *http.Request, actor string) (actions.BackfillRequest, error) {
	req := actions.BackfillRequest{Actor: actor, Reprocess: r.PostFormValue("reprocess")}
	var err error
	if req.From, err = parseTime("from", r.PostFormValue("from")); err != nil {
		return req, err
	}
	if req.To, err = parseTime("to", r.PostFormValue("to")); err != nil {
		return req, err
	}
	return req, nil
}

// confirmView is the backfill's confirmation: how many runs it plans, before it does.
type confirmView struct {
	Pipeline, PipelineURL     string
	From, To, Reprocess       string
	Runs, Future              int
	Limit                     int
	OverLimit                 bool
	ConfirmRuns, PostURL, Act string
}

// formBackfill counts first: without a confirm field matching the count it shows the count
// and a confirm button; with it, it plans. The count a person confirmed is the limit the
// backfill must stay within, so nothing more is planned than what was shown.
func (s *server) formBackfill(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.pageActor(w, r)
	if !ok {
		return
	}
	p, ok := s.formPipeline(w, r, "backfill")
	if !ok {
		return
	}
	req, err := backfillForm(r, actor)
	if err != nil {
		s.actionFailed(w, r, "backfill", err)
		return
	}
	if c := r.PostFormValue("confirm_runs"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			s.actionFailed(w, r, "backfill", fmt.Errorf("%w: confirm_runs %q is not a count", actions.ErrInvalid, c))
			return
		}
		req.MaxRuns, req.Yes = max(n, 1), true
		res, err := s.acts.Backfill(r.Context(), p, req)
		if err != nil {
			s.actionFailed(w, r, "backfill", err)
			return
		}
		s.log.InfoContext(r.Context(), "web: backfill planned", "pipeline", p.Name, "actor", actor, "runs", len(res.Created))
		http.Redirect(w, r, pipelineURL(p.Name), http.StatusSeeOther)
		return
	}
	c, err := s.acts.CountBackfill(r.Context(), p, req)
	if err != nil {
		s.actionFailed(w, r, "backfill", err)
		return
	}
	v := &confirmView{
		Pipeline: p.Name, PipelineURL: pipelineURL(p.Name), From: req.From.UTC().Format(time.RFC3339), To: req.To.UTC().Format(time.RFC3339),
		Reprocess: req.Reprocess, Runs: c.Runs, Future: c.Future, Limit: engine.DefaultBackfillMaxRuns,
		ConfirmRuns: strconv.Itoa(c.Runs), PostURL: pipelineURL(p.Name) + "/backfill",
	}
	v.OverLimit = c.Runs > v.Limit
	pg := s.newPage(w, r, "confirm backfill of "+p.Name+" — sluice-runner")
	pg.Confirm = v
	s.render(w, r, http.StatusOK, confirmPage, pg)
}

func (s *server) formPause(paused bool) http.HandlerFunc {
	what := "unpause"
	if paused {
		what = "pause"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.pageActor(w, r)
		if !ok {
			return
		}
		name := r.PathValue("name")
		if _, err := s.acts.SetPaused(r.Context(), actor, name, paused); err != nil {
			s.actionFailed(w, r, what, err)
			return
		}
		http.Redirect(w, r, pipelineURL(name), http.StatusSeeOther)
	}
}

func pathRun(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("run %q: %w", r.PathValue("id"), actions.ErrNotFound)
	}
	return id, nil
}

func (s *server) formClear(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.pageActor(w, r)
	if !ok {
		return
	}
	id, err := pathRun(r)
	if err == nil {
		_, err = s.acts.ClearActivity(r.Context(), actor, id, r.PathValue("activity"))
	}
	if err != nil {
		s.actionFailed(w, r, "clear", err)
		return
	}
	http.Redirect(w, r, runURL(id), http.StatusSeeOther)
}

func (s *server) formFail(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.pageActor(w, r)
	if !ok {
		return
	}
	id, err := pathRun(r)
	if err == nil {
		_, err = s.acts.MarkRunFailed(r.Context(), actor, id)
	}
	if err != nil {
		s.actionFailed(w, r, "mark failed", err)
		return
	}
	http.Redirect(w, r, runURL(id), http.StatusSeeOther)
}

// The sign-in: a form taking a token, or HTTP basic (any user name, a token as password).

type loginView struct {
	Next  string
	Error string
	Basic string
}

func (s *server) loginForm(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		s.message(w, r, http.StatusNotFound, "no sign-in", errActionsOff+".")
		return
	}
	p := s.newPage(w, r, "sign in — sluice-runner")
	next := safeNext(r.URL.Query().Get("next"))
	p.Login = &loginView{Next: next, Basic: "/login/basic?next=" + url.QueryEscape(next)}
	s.render(w, r, http.StatusOK, loginPage, p)
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		s.message(w, r, http.StatusNotFound, "no sign-in", errActionsOff+".")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := s.auth.checkCSRF(r); err != nil {
		s.message(w, r, http.StatusForbidden, "form refused", err.Error())
		return
	}
	next := safeNext(r.PostFormValue("next"))
	name, ok := s.auth.check(r.PostFormValue("token"))
	if !ok {
		s.log.WarnContext(r.Context(), "web: sign-in refused", "remote", r.RemoteAddr)
		p := s.newPage(w, r, "sign in — sluice-runner")
		p.Login = &loginView{Next: next, Error: "That token is not one of this runner's.", Basic: "/login/basic?next=" + url.QueryEscape(next)}
		s.render(w, r, http.StatusUnauthorized, loginPage, p)
		return
	}
	s.auth.setSession(w, name)
	s.log.InfoContext(r.Context(), "web: signed in", "who", name, "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginBasic asks the browser for HTTP basic credentials and turns valid ones into a session.
func (s *server) loginBasic(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		s.message(w, r, http.StatusNotFound, "no sign-in", errActionsOff+".")
		return
	}
	name, ok := s.auth.pageUser(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="sluice-runner", charset="UTF-8"`)
		s.message(w, r, http.StatusUnauthorized, "sign in", "Give any user name and one of the runner's tokens as the password.")
		return
	}
	s.auth.setSession(w, name)
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := s.auth.checkCSRF(r); err != nil {
		s.message(w, r, http.StatusForbidden, "form refused", err.Error())
		return
	}
	s.auth.clearSession(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// The JSON API's actions: POST with a bearer token, a JSON body, a JSON answer.

// apiActor checks an API call and returns who acts ("api:NAME"); when it returns false it has
// answered the request.
func (s *server) apiActor(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.acts == nil || s.auth == nil {
		writeJSON(w, http.StatusForbidden, apiError{Error: errActionsOff})
		return "", false
	}
	name, ok := s.auth.apiUser(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice-runner"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "an action needs a bearer token: Authorization: Bearer <token from the runner's config>"})
		return "", false
	}
	return "api:" + name, true
}

// decodeBody reads a JSON body into v, refusing unknown fields (a typo must not be ignored)
// and bodies over 64 KiB. An empty body is an empty object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %w", actions.ErrInvalid, err)
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body is not the JSON this call takes: %w", actions.ErrInvalid, err)
	}
	return nil
}

func (s *server) apiFailed(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "web: API action failed", "path", r.URL.Path, "error", err)
	}
	writeJSON(w, code, apiError{Error: err.Error()})
}

type apiTriggerBody struct {
	IntervalStart string `json:"interval_start"`
	Reprocess     bool   `json:"reprocess"`
	AllowFuture   bool   `json:"allow_future"`
}

func (s *server) apiTrigger(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.apiActor(w, r)
	if !ok {
		return
	}
	var b apiTriggerBody
	if err := decodeBody(w, r, &b); err != nil {
		s.apiFailed(w, r, err)
		return
	}
	start, err := parseTime("interval_start", b.IntervalStart)
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	p, err := s.acts.Pipeline(r.Context(), r.PathValue("name"))
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	res, err := s.acts.Trigger(r.Context(), p, actions.TriggerRequest{Actor: actor, Start: start, Reprocess: b.Reprocess, AllowFuture: b.AllowFuture})
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

type apiBackfillBody struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Reprocess string `json:"reprocess"`
	MaxActive int    `json:"max_active"`
	MaxRuns   int    `json:"max_runs"`
	Yes       bool   `json:"yes"`
}

func (s *server) apiBackfillRequest(w http.ResponseWriter, r *http.Request) (*definition.Pipeline, actions.BackfillRequest, bool) {
	actor, ok := s.apiActor(w, r)
	if !ok {
		return nil, actions.BackfillRequest{}, false
	}
	var b apiBackfillBody
	if err := decodeBody(w, r, &b); err != nil {
		s.apiFailed(w, r, err)
		return nil, actions.BackfillRequest{}, false
	}
	req := actions.BackfillRequest{Actor: actor, Reprocess: b.Reprocess, MaxActive: b.MaxActive, MaxRuns: b.MaxRuns, Yes: b.Yes}
	var err error
	if req.From, err = parseTime("from", b.From); err == nil {
		req.To, err = parseTime("to", b.To)
	}
	if err != nil {
		s.apiFailed(w, r, err)
		return nil, req, false
	}
	p, err := s.acts.Pipeline(r.Context(), r.PathValue("name"))
	if err != nil {
		s.apiFailed(w, r, err)
		return nil, req, false
	}
	return p, req, true
}

func (s *server) apiBackfillCount(w http.ResponseWriter, r *http.Request) {
	p, req, ok := s.apiBackfillRequest(w, r)
	if !ok {
		return
	}
	c, err := s.acts.CountBackfill(r.Context(), p, req)
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"runs": c.Runs, "future": c.Future, "limit": engine.DefaultBackfillMaxRuns})
}

func (s *server) apiBackfill(w http.ResponseWriter, r *http.Request) {
	p, req, ok := s.apiBackfillRequest(w, r)
	if !ok {
		return
	}
	res, err := s.acts.Backfill(r.Context(), p, req)
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (s *server) apiPause(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.apiActor(w, r)
		if !ok {
			return
		}
		if err := decodeBody(w, r, &struct{}{}); err != nil {
			s.apiFailed(w, r, err)
			return
		}
		changed, err := s.acts.SetPaused(r.Context(), actor, r.PathValue("name"), paused)
		if err != nil {
			s.apiFailed(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"pipeline": r.PathValue("name"), "paused": paused, "changed": changed})
	}
}

func (s *server) apiClear(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.apiActor(w, r)
	if !ok {
		return
	}
	if err := decodeBody(w, r, &struct{}{}); err != nil {
		s.apiFailed(w, r, err)
		return
	}
	id, err := pathRun(r)
	var cleared []string
	if err == nil {
		cleared, err = s.acts.ClearActivity(r.Context(), actor, id, r.PathValue("activity"))
	}
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run_id": id, "cleared": cleared})
}

func (s *server) apiFail(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.apiActor(w, r)
	if !ok {
		return
	}
	if err := decodeBody(w, r, &struct{}{}); err != nil {
		s.apiFailed(w, r, err)
		return
	}
	id, err := pathRun(r)
	var failed []string
	if err == nil {
		failed, err = s.acts.MarkRunFailed(r.Context(), actor, id)
	}
	if err != nil {
		s.apiFailed(w, r, err)
		return
	}
	if failed == nil {
		failed = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"run_id": id, "failed": failed})
}
