// Package emrstep executes emr_step activities: steps on a transient EMR cluster started from a
// published EMR template (always terminated, whatever happens) or on an existing cluster (never
// terminated), or — in local mode — the same steps as local processes, so that a pipeline can be
// developed and demonstrated without AWS.
//
// Local mode runs
//   - command steps as local processes, argv as given: command-runner.jar style programs such as
//     "spark-submit" or "hive" must be on the runner's PATH;
//   - streaming steps as mapper | sort | reducer over every input object (see runStreaming);
//   - spark and jar steps not at all: they fail permanently, saying they need aws mode.
//
// Local mode ignores the activity's template and cluster_id: the steps run on the runner's
// machine, whichever cluster they name.
package emrstep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
)

// Modes of the executor.
const (
	// ModeAWS runs steps on EMR.
	ModeAWS = "aws"
	// ModeLocal runs steps as local processes.
	ModeLocal = "local"
)

// Modes lists the modes.
func Modes() []string { return []string{ModeAWS, ModeLocal} }

// DefaultPollInterval is how often aws mode asks EMR for the cluster's and the steps' states.
const DefaultPollInterval = 30 * time.Second

// terminateTimeout bounds the TerminateJobFlows call made after the attempt's context ended.
const terminateTimeout = 2 * time.Minute

// EMRAPI is the part of *emr.Client that aws mode uses.
type EMRAPI interface {
	RunJobFlow(ctx context.Context, in *awsemr.RunJobFlowInput, optFns ...func(*awsemr.Options)) (*awsemr.RunJobFlowOutput, error)
	DescribeCluster(ctx context.Context, in *awsemr.DescribeClusterInput, optFns ...func(*awsemr.Options)) (*awsemr.DescribeClusterOutput, error)
	ListClusters(ctx context.Context, in *awsemr.ListClustersInput, optFns ...func(*awsemr.Options)) (*awsemr.ListClustersOutput, error)
	AddJobFlowSteps(ctx context.Context, in *awsemr.AddJobFlowStepsInput, optFns ...func(*awsemr.Options)) (*awsemr.AddJobFlowStepsOutput, error)
	ListSteps(ctx context.Context, in *awsemr.ListStepsInput, optFns ...func(*awsemr.Options)) (*awsemr.ListStepsOutput, error)
	DescribeStep(ctx context.Context, in *awsemr.DescribeStepInput, optFns ...func(*awsemr.Options)) (*awsemr.DescribeStepOutput, error)
	CancelSteps(ctx context.Context, in *awsemr.CancelStepsInput, optFns ...func(*awsemr.Options)) (*awsemr.CancelStepsOutput, error)
	TerminateJobFlows(ctx context.Context, in *awsemr.TerminateJobFlowsInput, optFns ...func(*awsemr.Options)) (*awsemr.TerminateJobFlowsOutput, error)
}

var _ EMRAPI = (*awsemr.Client)(nil)

// Storage is the part of *storage.Store that local mode uses to read inputs and shipped files
// and to write outputs, on s3:// or file:// locations.
type Storage interface {
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	Open(ctx context.Context, url string) (io.ReadCloser, error)
	Put(ctx context.Context, url string, r io.Reader) error
}

var _ Storage = (*storage.Store)(nil)

// Options configure the executor.
type Options struct {
	// Mode is ModeAWS or ModeLocal.
	Mode string
	// Registry holds the published EMR templates (emr-templates/<name>.json); aws mode needs it.
	Registry registry.Registry
	// EMR is the EMR client; aws mode needs it.
	EMR EMRAPI
	// Store reads inputs and files and writes outputs; local mode needs it.
	Store Storage
	// PollInterval is how often aws mode polls EMR; zero means DefaultPollInterval.
	PollInterval time.Duration
	// WorkDir holds local mode's scratch directories; "" means os.TempDir().
	WorkDir string
	// Processes records local mode's process groups, so that a runner restarted after a
	// SIGKILL reaps what its predecessor left (see package procgroup); nil records nothing.
	// Every local process dies with the runner through its guard either way.
	Processes *procgroup.Registry
	// Logger receives the executor's own log lines when a task carries no Logger; nil discards
	// them.
	Logger *slog.Logger
	// Usage records what each transient cluster used (in local mode, the steps' time) for the
	// runs' cost; nil records nothing.
	Usage usage.Recorder
	// Now is the clock of local mode's recorded step time; nil means time.Now.
	Now func() time.Time
}

type executor struct {
	opts Options
}

// New returns the executor of emr_step activities in opts.Mode.
func New(opts Options) (activity.Executor, error) {
	switch opts.Mode {
	case ModeAWS:
		if opts.EMR == nil {
			return nil, errors.New("emr_step: aws mode needs an EMR client: give the runner AWS settings (region, credentials or an emr endpoint)")
		}
		if opts.Registry == nil {
			return nil, errors.New("emr_step: aws mode needs the registry, to read the published EMR templates")
		}
	case ModeLocal:
		if opts.Store == nil {
			return nil, errors.New("emr_step: local mode needs a storage client, to read inputs and write outputs")
		}
	default:
		return nil, fmt.Errorf("emr_step: mode %q is not one of %s", opts.Mode, strings.Join(Modes(), ", "))
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &executor{opts: opts}, nil
}

// Execute runs the task's steps, in order.
func (x *executor) Execute(ctx context.Context, t *activity.Task) (*activity.Result, error) {
	res, err := x.execute(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q activity %q (emr_step): %w", t.Pipeline, t.ActivityID, err)
	}
	return res, nil
}

func (x *executor) execute(ctx context.Context, t *activity.Task) (*activity.Result, error) {
	if t.Activity == nil || t.Activity.EMRStep == nil {
		return nil, activity.Permanent(errors.New("the activity has no emr_step settings"))
	}
	a := t.Activity.EMRStep
	if err := checkSteps(a); err != nil {
		return nil, activity.Permanent(err)
	}
	if x.opts.Mode == ModeLocal {
		return x.runLocal(ctx, t, a)
	}
	if a.Template != "" {
		return x.runTransient(ctx, t, a)
	}
	return x.runExisting(ctx, t, a)
}

// checkSteps repeats the checks the provider made at plan time that the executor relies on: a
// document published by something else gets a clear error rather than a malformed request.
func checkSteps(a *definition.EMRStepActivity) error {
	switch {
	case (a.Template == "") == (a.ClusterID == ""):
		return errors.New("set exactly one of template and cluster_id")
	case len(a.Steps) == 0:
		return errors.New("steps: at least one step is required")
	}
	for i, s := range a.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		n := 0
		for _, set := range []bool{len(s.Command) > 0, s.Streaming != nil, len(s.Spark) > 0, s.Jar != nil} {
			if set {
				n++
			}
		}
		switch {
		case strings.TrimSpace(s.Name) == "":
			return fmt.Errorf("%s.name is required", p)
		case n != 1:
			return fmt.Errorf("step %q: set exactly one of command, streaming, spark and jar (%d are set)", s.Name, n)
		case s.ActionOnFailure != "" && !slices.Contains(definition.ActionsOnFailure(), s.ActionOnFailure):
			return fmt.Errorf("step %q: action_on_failure %q is not one of %s", s.Name, s.ActionOnFailure, strings.Join(definition.ActionsOnFailure(), ", "))
		case s.Streaming != nil && (strings.TrimSpace(s.Streaming.Mapper) == "" || len(s.Streaming.Input) == 0 || s.Streaming.Output == ""):
			return fmt.Errorf("step %q: streaming needs a mapper, at least one input and an output", s.Name)
		case s.Jar != nil && s.Jar.Jar == "":
			return fmt.Errorf("step %q: jar.jar is required", s.Name)
		}
	}
	return nil
}

func (x *executor) now() time.Time {
	if x.opts.Now != nil {
		return x.opts.Now()
	}
	return time.Now()
}

// recordUsage records a launch of the task's activity; a failure is logged and written to the
// attempt log, never returned: the run's work is done either way.
func (x *executor) recordUsage(ctx context.Context, t *activity.Task, l usage.Launch) {
	if x.opts.Usage == nil {
		return
	}
	l.Pipeline, l.RunID, l.Activity = t.Pipeline, t.RunID, t.ActivityID
	if l.Attempt == 0 {
		l.Attempt = t.Attempt
	}
	if err := x.opts.Usage.Record(context.WithoutCancel(ctx), l); err != nil {
		x.logger(t).Warn("recording the EMR usage failed; the run's cost is missing from status", "cluster_id", l.ClusterID, "error", err)
		logf(t, "recording the EMR usage failed: %v", err)
	}
}

// logger is the task's logger, else the executor's.
func (x *executor) logger(t *activity.Task) *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return x.opts.Logger
}

// logf writes one line to the attempt log.
func logf(t *activity.Task, format string, args ...any) {
	if t.Log == nil {
		return
	}
	_, _ = fmt.Fprintf(t.Log, format+"\n", args...)
}
