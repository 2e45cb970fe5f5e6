package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/emrstep"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/export"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/load"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/notify"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/precond"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/s3copy"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/shell"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/sqlrun"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/streamput"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
)

// engineFlags are the flags of the commands that execute (serve, run, backfill).
type engineFlags struct {
	database       string
	emrMode        string
	listen         string
	workers        int
	fetchCooldown  time.Duration
	tick           time.Duration
	rescueAfter    time.Duration
	workDir        string
	unhealthyAfter int
	replicas       []string
	replicaLease   time.Duration
	processGrace   time.Duration
	insecure       bool
}

func (f *engineFlags) add(cmd *cobra.Command, withListen bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.database, "database", "", "state database: sqlite://FILE (one runner; default "+state.DefaultURL+") or postgres://… (several runners) (default: $"+config.EnvDatabase+")")
	fl.StringVar(&f.emrMode, "emr-mode", "", "emr_step activities: aws (transient clusters) or local (steps as local processes) (default: $"+config.EnvEMRMode+", else aws)")
	fl.IntVar(&f.workers, "workers", 0, fmt.Sprintf("activities run at once by this runner (default: $%s, else %d)", config.EnvWorkers, config.DefaultWorkers))
	fl.DurationVar(&f.fetchCooldown, "fetch-cooldown", 0, fmt.Sprintf("minimum time between job fetches: lower is lower latency and more database load (default %s)", config.DefaultFetchCooldown))
	fl.DurationVar(&f.tick, "tick", 0, fmt.Sprintf("how often the registry is read and runs are scheduled and started (default %s)", config.DefaultTick))
	fl.DurationVar(&f.rescueAfter, "rescue-after", 0, fmt.Sprintf("fallback for a runner whose death PostgreSQL has not noticed yet: how long a job must have run before River's rescuer runs it again (also its activity's timeout + 15s); the limit of an activity without a timeout (default %s)", config.DefaultRescueAfter))
	fl.DurationVar(&f.processGrace, "process-grace", 0, fmt.Sprintf("PostgreSQL: how long the running jobs of a dead runner wait before another runner retries them, so that the dead runner's processes are gone first (default: $%s, else %s)", config.EnvProcessGrace, config.DefaultProcessGrace))
	fl.StringVar(&f.workDir, "work-dir", "", "working directory of shell activities and scratch space of local EMR steps, created if missing (default: $"+config.EnvWorkDir+"; else shell runs in the runner's directory and EMR steps in the system temp dir)")
	if withListen {
		fl.IntVar(&f.unhealthyAfter, "unhealthy-after", 0, fmt.Sprintf("/healthz fails once this many scheduler ticks in a row failed (default: $%s, else %d)", config.EnvUnhealthyAfter, config.DefaultUnhealthyAfter))
		fl.StringSliceVar(&f.replicas, "replicas", nil, "replicas (of published stream replications) whose subscribers this runner serves, e.g. --replicas us_a,us_b: a runner per region serves the replicas there (default: $"+config.EnvReplicas+", else none)")
		fl.DurationVar(&f.replicaLease, "replica-lease", 0, fmt.Sprintf("how long a subscriber's shard lease lasts unrenewed: a dead runner's shards are taken over after it (default: $%s, else %s)", config.EnvReplicaLease, config.DefaultReplicaLease))
		fl.BoolVar(&f.insecure, "insecure", false, "serve plain HTTP on an address other machines can reach (--listen beyond 127.0.0.1 without web.tls_cert): tokens and sessions then cross the network in clear")
		fl.StringVar(&f.listen, "listen", "", "HTTP address of /metrics, /healthz and the status page; empty string disables it (default: $"+config.EnvListen+", else "+config.DefaultListen+")")
	}
}

// loadConfig merges defaults, the config file, the environment and the flags.
func (g *globals) loadConfig(cmd *cobra.Command, f *engineFlags) (config.Config, error) {
	c := config.Default()
	if g.file != nil {
		c = *g.file
	}
	if err := c.LoadEnv(g.io.Environ()); err != nil {
		return c, usageErrorf("%v", err)
	}
	fl := cmd.Flags()
	if g.registry != "" { // --registry, else $SLUICE_REGISTRY (see setup): both override the file
		c.Registry = g.registry
	}
	if g.region != "" {
		c.Region = g.region
	}
	if g.s3Endpoint != "" {
		c.Endpoints[string(awsclient.S3)] = g.s3Endpoint
	}
	set := func(name string, apply func()) {
		if fl.Lookup(name) != nil && fl.Changed(name) {
			apply()
		}
	}
	set("database", func() { c.Database = f.database })
	set("emr-mode", func() { c.EMRMode = f.emrMode })
	set("listen", func() { c.Listen = f.listen })
	set("workers", func() { c.Workers = f.workers })
	set("fetch-cooldown", func() { c.FetchCooldown = config.Duration(f.fetchCooldown) })
	set("tick", func() { c.Tick = config.Duration(f.tick) })
	set("rescue-after", func() { c.RescueAfter = config.Duration(f.rescueAfter) })
	set("process-grace", func() { c.ProcessGrace = config.Duration(f.processGrace) })
	set("work-dir", func() { c.WorkDir = f.workDir })
	set("unhealthy-after", func() { c.UnhealthyAfter = f.unhealthyAfter })
	set("replicas", func() { c.Replicas = f.replicas })
	set("replica-lease", func() { c.ReplicaLease = config.Duration(f.replicaLease) })
	set("insecure", func() { c.Web.Insecure = f.insecure })
	if fl.Changed("max-document-size") { // a global flag, parsed by setup
		c.MaxDocumentSize = config.Size(g.maxDocumentSize)
	}
	g.addConfigSecrets(c)
	if err := c.Validate(); err != nil {
		return c, usageErrorf("%v", err)
	}
	g.warnShortSecrets(c)
	g.log.Debug("configuration", "config", c.Redacted())
	return c, nil
}

// runtime is everything an executing command needs, built from the configuration.
type runtime struct {
	cfg config.Config
	db  *state.DB
	// usage records the EMR clusters' usage and cost; its metrics join serve's registry.
	usage  *usage.Service
	reg    registry.Registry
	conns  *conn.Resolver
	eng    *engine.Engine
	aws    *awsclient.Client
	awsErr error
}

// newRuntime opens the state database and builds the engine with every executor.
func (g *globals) newRuntime(ctx context.Context, cfg config.Config, schedule bool) (*runtime, error) {
	rt := &runtime{cfg: cfg}
	endpoints := map[awsclient.Service]string{}
	for k, v := range cfg.Endpoints {
		endpoints[awsclient.Service(k)] = v
	}
	// AWS is optional: a runner with a file:// registry, PostgreSQL connections and local EMR
	// needs none. Without it, the activities that need AWS fail naming the reason.
	rt.aws, rt.awsErr = awsclient.New(ctx, awsclient.Settings{Region: cfg.Region, Endpoints: endpoints, Getenv: g.io.Getenv})
	if rt.awsErr != nil {
		g.log.Debug("no AWS client; S3, EMR, SNS, IAM logins and secret connections are unavailable", "error", rt.awsErr.Error())
	}
	if cfg.Registry != "" {
		reg, err := g.openRegistryWith(ctx, cfg.Registry, rt)
		if err != nil {
			return nil, err
		}
		rt.reg = reg
		if schedule {
			// serve does not start without its registry: a missing directory or bucket is an
			// error now, not a runner that ticks "successfully" over nothing. Unreadable entries
			// are not: they fail alone at every tick.
			var le *registry.ListError
			if _, err := reg.List(ctx, registry.PipelinesPrefix); err != nil && !errors.As(err, &le) {
				return nil, ioError(fmt.Errorf("reading the registry at startup: %w", err))
			}
		}
	} else if schedule {
		return nil, usageErrorf("no registry: set --registry, $%s or registry in the config file", config.EnvRegistry)
	}
	var err error
	rt.conns, err = conn.NewResolver(cfg.Connections, conn.Options{
		AWS: func(context.Context) (*awsclient.Client, error) {
			if rt.awsErr != nil {
				return nil, fmt.Errorf("AWS is not configured: %w", rt.awsErr)
			}
			return rt.aws, nil
		},
		Logger:  g.log,
		Secrets: g.secrets,
	})
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	if cfg.WorkDir != "" {
		// Created here so a fresh machine needs no setup step; a path that cannot be a
		// directory fails now, naming the setting, rather than at every activity's first attempt.
		if err := os.MkdirAll(cfg.WorkDir, 0o750); err != nil {
			rt.conns.Close()
			return nil, usageErrorf("work directory (--work-dir / $%s): %v", config.EnvWorkDir, err)
		}
	}
	// Where this runner records the process groups of its activities, and reaps those a dead
	// predecessor with the same work directory left (see package procgroup).
	procs, err := procgroup.Open(procgroup.Dir(cfg.WorkDir), g.log)
	if err != nil {
		rt.conns.Close()
		return nil, ioError(err)
	}
	rt.db, err = state.Open(ctx, cfg.Database)
	if err != nil {
		rt.conns.Close()
		return nil, ioError(err)
	}
	var s3api storage.S3API
	if rt.aws != nil {
		s3api = rt.aws.S3()
	}
	store := storage.New(s3api)
	execs := map[string]activity.Executor{
		definition.KindShell:        shell.New(shell.Options{WorkDir: cfg.WorkDir, Processes: procs}),
		definition.KindS3Copy:       s3copy.New(store),
		definition.KindSQL:          sqlrun.NewSQL(rt.conns),
		definition.KindCheck:        sqlrun.NewCheck(rt.conns, time.Now),
		definition.KindRedshiftCopy: load.New(store, rt.conns),
		definition.KindExport:       export.New(store, rt.conns),
		definition.KindStreamPut: streamput.New(streamput.Options{
			Registry: rt.reg, Store: store,
			Kinesis: func(ctx context.Context, region string) (streamput.Kinesis, error) {
				c, err := awsclient.New(ctx, awsclient.Settings{Region: region, Endpoints: endpoints, Getenv: g.io.Getenv})
				if err != nil {
					return nil, fmt.Errorf("AWS is not configured: %w", err)
				}
				return c.Kinesis(), nil
			},
		}),
	}
	usageOpts := usage.Options{DB: rt.db, Registry: rt.reg, Region: cfg.Region, Logger: g.log, Prices: cost.Embedded()}
	if cfg.Prices != "" {
		over, err := cost.Load(cfg.Prices)
		if err != nil {
			rt.close()
			return nil, usageErrorf("prices ($%s / prices in the config file): %v", config.EnvPrices, err)
		}
		usageOpts.Prices = usageOpts.Prices.Merge(over)
	}
	emrOpts := emrstep.Options{Mode: cfg.EMRMode, Registry: rt.reg, Store: store, WorkDir: cfg.WorkDir, Logger: g.log,
		Processes: procs, PollInterval: time.Duration(cfg.EMRPollInterval)}
	if rt.aws != nil {
		emrOpts.EMR = rt.aws.EMR()
		usageOpts.EMR = rt.aws.EMR()
		if usageOpts.Region == "" {
			usageOpts.Region = rt.aws.Region()
		}
	}
	rt.usage = usage.New(usageOpts)
	emrOpts.Usage = rt.usage
	if ex, err := emrstep.New(emrOpts); err == nil {
		execs[definition.KindEMRStep] = ex
	} else {
		why := err
		if rt.awsErr != nil {
			why = fmt.Errorf("%w (AWS: %w)", err, rt.awsErr)
		}
		execs[definition.KindEMRStep] = activity.ExecutorFunc(func(context.Context, *activity.Task) (*activity.Result, error) {
			return nil, activity.Permanent(why)
		})
	}
	notifyOpts := notify.Options{Logger: g.log, Secrets: g.secrets}
	if rt.aws != nil {
		notifyOpts.SNS = rt.aws.SNS()
	}
	sender := notify.New(notifyOpts)
	rt.eng, err = engine.New(engine.Options{
		DB: rt.db, Registry: rt.reg, Executors: execs,
		Poker:    precond.New(store, rt.conns, precond.WithRuns(coverage{rt.db})),
		Notifier: notifier{s: sender, secrets: g.secrets}, NotifyPermanent: func(err error) bool { return !notify.Retryable(err) },
		Workers: cfg.Workers, FetchCooldown: time.Duration(cfg.FetchCooldown), Tick: time.Duration(cfg.Tick),
		RescueAfter: time.Duration(cfg.RescueAfter), Schedule: schedule, UnhealthyAfter: cfg.UnhealthyAfter,
		Processes: procs, ProcessGrace: time.Duration(cfg.ProcessGrace),
		Logger: g.log, Secrets: g.secrets,
	})
	if err != nil {
		rt.close()
		return nil, ioError(err)
	}
	return rt, nil
}

func (rt *runtime) close() {
	if rt.conns != nil {
		rt.conns.Close()
	}
	if rt.db != nil {
		rt.db.Close()
	}
}

// readPipeline reads and checks a published pipeline.
func readPipeline(ctx context.Context, reg registry.Registry, name string) (*definition.Pipeline, error) {
	key := registry.PipelineKey(name)
	data, err := reg.Get(ctx, key)
	switch {
	case errors.Is(err, registry.ErrNoRegistry):
		// Not "no such pipeline": the whole registry is missing, which the name cannot fix.
		return nil, ioError(err)
	case errors.Is(err, registry.ErrNotFound):
		return nil, fmt.Errorf("pipeline %q is not in registry %s (no document at key %s): check the name and --registry", name, reg.URL(), key)
	case err != nil:
		return nil, ioError(err)
	}
	p, err := definition.DecodePipeline(data)
	if err != nil {
		return nil, fmt.Errorf("registry %s, key %s: %w", reg.URL(), key, err)
	}
	if probs := definition.ValidatePipeline(p); len(probs) > 0 {
		return nil, fmt.Errorf("registry %s, pipeline %s is invalid: %w", reg.URL(), name, definition.Problems(probs))
	}
	return p, nil
}

// runEngine starts the engine, runs fn, and stops the engine (letting running attempts end
// within a grace period).
func runEngine(ctx context.Context, log *slog.Logger, eng *engine.Engine, fn func(ctx context.Context) error) error {
	if err := eng.Start(ctx); err != nil {
		return ioError(err)
	}
	// A fatal engine error (its liveness connection lost) ends the command: other runners may
	// already be taking its jobs over.
	wctx, cancelWork := context.WithCancelCause(ctx)
	defer cancelWork(nil)
	go func() {
		select {
		case err := <-eng.Fatal():
			cancelWork(err)
		case <-wctx.Done():
		}
	}()
	ferr := fn(wctx)
	if cause := context.Cause(wctx); cause != nil && ctx.Err() == nil && !errors.Is(cause, context.Canceled) {
		ferr = fmt.Errorf("the runner stopped: %w", cause)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := eng.Stop(stopCtx); err != nil {
		log.Error("stopping the engine", "error", err)
	}
	return ferr
}

// openRegistryWith opens the registry with the runtime's AWS client.
func (g *globals) openRegistryWith(ctx context.Context, rawURL string, rt *runtime) (registry.Registry, error) {
	loc, err := registry.ParseURL(rawURL)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	var s3 registry.S3API
	if loc.Scheme == registry.SchemeS3 {
		if rt.awsErr != nil {
			return nil, ioError(fmt.Errorf("registry %s: %w", rawURL, rt.awsErr))
		}
		s3 = rt.aws.S3()
	}
	reg, err := registry.Open(ctx, rawURL, s3, registry.WithMaxDocumentSize(int64(rt.cfg.MaxDocumentSize)))
	if err != nil {
		return nil, ioError(err)
	}
	return reg, nil
}

// coverage answers wait_for.pipeline from the state database.
type coverage struct{ db *state.DB }

func (c coverage) Covered(ctx context.Context, pipeline string, from, to time.Time) (bool, time.Time, error) {
	return state.Covered(ctx, c.db.Reader(), pipeline, from, to)
}
