package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/actions"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/board"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/metrics"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/web"
)

func newServeCommand(g *globals) *cobra.Command {
	f := &engineFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run continuously: read the registry, schedule due intervals, execute activities",
		Long: `serve runs until interrupted (SIGINT/SIGTERM). Every --tick it reads the pipelines published to
the registry, creates the runs their schedules make due (catchup: every ended interval since
start; otherwise the latest one), starts them oldest first within max_active_runs, and works
the activities on River. It serves /metrics, /healthz and the web UI on --listen: pipelines, their grid and graph, runs
with their attempts and logs, runners and the action log. Actions (trigger, backfill, clear,
mark failed, pause) are off unless the config file sets web.actions and web.tokens. Listening
beyond 127.0.0.1 needs web.tls_cert and web.tls_key, or --insecure.

Pipelines with a trigger also get runs from events: serve long-polls the SQS queues of their
trigger.sqs (S3 event notifications, directly, through SNS or from EventBridge, and other
pipelines' sluice/notification.v1 messages) and makes a run per event or batch, exactly once,
deleting a message only after its run is committed; and it makes a run of every trigger.after
pipeline when an upstream run succeeds.

With --replicas it also runs the stream subscribers of those replicas: for every published
replication (replications/*.json) that has them, one consumer per shard applies the stream
to the replica, holding a lease in the state database so that each shard of each replica is
consumed by one runner at a time.

Several runners may serve the same PostgreSQL --database: each interval gets exactly one run,
and each activity instance runs in one runner at a time. A SQLite database belongs to one
runner (the file is locked).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd, f)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rt, err := g.newRuntime(ctx, cfg, true)
			if err != nil {
				return err
			}
			defer rt.close()
			subs, err := rt.newSubscribers(g.log, g.secrets)
			if err != nil {
				return err
			}
			m := metrics.New(metricsSource{rt.db}, time.Now, metrics.WithLogger(g.log))
			m.WatchReplicas(replicaSource{rt.db}, 0)
			m.Registry().MustRegister(rt.usage.Collectors()...)
			rt.eng.SetMetrics(m)
			var srv *http.Server
			if cfg.Listen != "" {
				tls := cfg.Web.TLSCert != ""
				if err := web.CheckListen(cfg.Listen, tls, cfg.Web.Insecure); err != nil {
					return usageErrorf("%v", err)
				}
				opts, err := webOptions(cfg, rt, g, m.Handler())
				if err != nil {
					return err
				}
				l, err := net.Listen("tcp", cfg.Listen)
				if err != nil {
					return ioError(fmt.Errorf("listen %s: %w", cfg.Listen, err))
				}
				srv = &http.Server{Handler: web.Handler(opts), ReadHeaderTimeout: 10 * time.Second}
				go func() {
					var err error
					if tls {
						err = srv.ServeTLS(l, cfg.Web.TLSCert, cfg.Web.TLSKey)
					} else {
						err = srv.Serve(l)
					}
					if err != nil && !errors.Is(err, http.ErrServerClosed) {
						g.log.Error("HTTP server stopped", "error", err)
					}
				}()
				scheme := "http"
				if tls {
					scheme = "https"
				}
				g.log.Info("serving HTTP", "address", l.Addr().String(), "tls", tls, "actions", cfg.Web.Actions)
				fmt.Fprintf(cmd.ErrOrStderr(), "sluice-runner: status page %s://%s/\n", scheme, l.Addr().String())
			}
			g.log.Info("runner started", "database", rt.db.Where, "registry", cfg.Registry, "workers", cfg.Workers, "config", cfg.Redacted())
			triggers := rt.newTriggers(g.log)
			err = runEngine(ctx, g.log, rt.eng, func(ctx context.Context) error {
				// Triggers run beside the subscribers and stop with them.
				tctx, stopTriggers := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- triggers.Run(tctx) }()
				var err error
				if subs != nil {
					err = subs.Run(ctx)
				} else {
					<-ctx.Done()
				}
				stopTriggers()
				return errors.Join(err, <-done)
			})
			if srv != nil {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}
			g.log.Info("runner stopped")
			return err
		},
	}
	f.add(cmd, true)
	return cmd
}

// webOptions builds the web UI of a serving runner: its views, and its actions when the
// config turns them on (with the tokens they need).
func webOptions(cfg config.Config, rt *runtime, g *globals, metricsHandler http.Handler) (web.Options, error) {
	opts := web.Options{
		Source:  webSource{db: rt.db, eng: rt.eng, tick: time.Duration(cfg.Tick), secrets: g.secrets},
		Metrics: metricsHandler, Logger: g.log,
		Board: board.New(rt.db, g.secrets, nil),
	}
	if !cfg.Web.Actions {
		return opts, nil
	}
	var tokens []web.Token
	for _, t := range cfg.Web.Tokens {
		tok, err := web.ParseToken(t.Name, t.SHA256)
		if err != nil {
			return opts, usageErrorf("web.tokens: %v", err)
		}
		tokens = append(tokens, tok)
	}
	auth, err := web.NewAuth(tokens)
	if err != nil {
		return opts, usageErrorf("web.tokens: %v", err)
	}
	auth.Secure = cfg.Web.TLSCert != ""
	opts.Auth = auth
	opts.Actions = &actions.Service{DB: rt.db, Engine: rt.eng}
	return opts, nil
}

// metricsSource reads the scrape-time metrics from the state database.
type metricsSource struct{ db *state.DB }

func (s metricsSource) QueueDepth(ctx context.Context) (map[string]int, error) {
	n, err := state.QueueDepth(ctx, s.db.Reader())
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

func (s metricsSource) Freshness(ctx context.Context) ([]metrics.PipelineFreshness, error) {
	all, err := state.Freshness(ctx, s.db.Reader(), "")
	if err != nil {
		return nil, fmt.Errorf("freshness: %w", err)
	}
	var out []metrics.PipelineFreshness
	for p, fs := range all {
		for _, f := range fs {
			if f.Subject == state.FreshnessPipeline {
				out = append(out, metrics.PipelineFreshness{Pipeline: p, Newest: f.Value})
			}
		}
	}
	return out, nil
}

// webSource serves the status page from the state database.
type webSource struct {
	db      *state.DB
	eng     *engine.Engine
	tick    time.Duration
	secrets redact.Scrubber
}

var (
	_ web.TickSource     = webSource{}
	_ web.ReplicaSource  = webSource{}
	_ engine.TickMetrics = (*metrics.Metrics)(nil)
)

// A pipeline on the status page shows its 20 newest runs and 10 newest failures: bounded
// however long its history is.
const webRuns, webFailures = 20, 10

func (s webSource) Pipelines(ctx context.Context, offset, limit int) ([]status.Pipeline, int, error) {
	now := time.Now()
	ps, total, err := engine.StatusPage(ctx, s.db, now, engine.StatusOptions{Runs: webRuns, Failures: webFailures, Offset: offset, Limit: limit})
	if err != nil {
		return nil, 0, fmt.Errorf("status: %w", err)
	}
	if err := usage.Annotate(ctx, s.db, ps, now); err != nil {
		return nil, 0, fmt.Errorf("status: %w", err)
	}
	scrubStatus(s.secrets, ps)
	return ps, total, nil
}

func (s webSource) Pipeline(ctx context.Context, name string) (*status.Pipeline, error) {
	now := time.Now()
	ps, err := engine.Status(ctx, s.db, now, engine.StatusOptions{Pipeline: name, Runs: webRuns, Failures: webFailures})
	switch {
	case errors.Is(err, state.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("status: %w", err)
	}
	if err := usage.Annotate(ctx, s.db, ps, now); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	scrubStatus(s.secrets, ps)
	return &ps[0], nil
}

func (s webSource) Ticks() status.Ticks {
	t := s.eng.Ticks()
	t.LastError = s.secrets.Scrub(t.LastError) // a tick's error may quote the state database's
	return t
}

// ReplicaShards is the stream replicas' shards, their errors scrubbed like everything else the
// runner shows.
func (s webSource) ReplicaShards(ctx context.Context) ([]status.ReplicaShard, error) {
	shards, err := replicaShards(ctx, s.db, time.Now())
	scrubShards(s.secrets, shards)
	return shards, s.secrets.Error(err)
}

// Healthy's error is the body of /healthz: scrubbed like everything else the runner shows.
func (s webSource) Healthy(ctx context.Context) error { return s.secrets.Error(s.healthy(ctx)) }

func (s webSource) healthy(ctx context.Context) error {
	if _, err := state.Pipelines(ctx, s.db.Reader()); err != nil {
		return fmt.Errorf("state database: %w", err)
	}
	last := s.eng.LastTick()
	if last.IsZero() {
		return errors.New("the scheduler has not ticked yet")
	}
	if age := time.Since(last); age > 3*s.tick+time.Minute {
		return fmt.Errorf("the scheduler last ticked %s ago (tick %s)", age.Round(time.Second), s.tick)
	}
	// A loop that ticks but fails every time schedules nothing: that is not healthy either.
	return s.eng.Unhealthy()
}
