package emrstep

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/procgroup"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
)

// Local mode's output names, as Hadoop writes them: one part file (local mode runs one reducer)
// and the success marker, written last, that downstream wait_for conditions look for.
const (
	partFile    = "part-00000"
	successFile = "_SUCCESS"
)

// stderrTail is how much of a failed process's standard error its error quotes.
const stderrTail = 2 << 10

// waitDelay bounds how long a finished or killed process's pipes may stay open (held by a
// grandchild) before Wait gives up on them.
const waitDelay = 5 * time.Second

// runLocal runs the steps in order as local processes. It refuses spark and jar steps before
// running anything, so a pipeline that cannot run locally fails at once and does not half-run.
func (x *executor) runLocal(ctx context.Context, t *activity.Task, a *definition.EMRStepActivity) (*activity.Result, error) {
	for _, s := range a.Steps {
		kind := ""
		switch {
		case len(s.Spark) > 0:
			kind = "spark"
		case s.Jar != nil:
			kind = "jar"
		}
		if kind != "" {
			return nil, activity.Permanent(fmt.Errorf("step %q is a %s step, which needs EMR: run it with the emr_step mode %q (local mode runs command and streaming steps only)", s.Name, kind, ModeAWS))
		}
		if st := s.Streaming; st != nil {
			for _, loc := range append(append([]string{st.Output}, st.Input...), st.Files...) {
				if !strings.HasPrefix(loc, "s3://") && !strings.HasPrefix(loc, "file://") {
					return nil, activity.Permanent(fmt.Errorf("step %q: %q: local mode reads and writes s3:// and file:// locations only", s.Name, loc))
				}
			}
		}
	}
	scratch, err := os.MkdirTemp(x.opts.WorkDir, "sluice-emr-")
	if err != nil {
		return nil, fmt.Errorf("creating a scratch directory in %s: %w", x.opts.WorkDir, err)
	}
	defer func() { _ = os.RemoveAll(scratch) }()

	// The steps stand in for the template's transient cluster: their time is what the cluster
	// would have run, recorded (whatever the outcome) for the run's cost.
	if a.Template != "" {
		started := x.now()
		defer func() {
			x.recordUsage(ctx, t, usage.Launch{Template: a.Template, ExpectedDuration: a.ExpectedDuration, Started: started, Ended: x.now()})
		}()
	}
	log := x.logger(t)
	var details []map[string]string
	for i, s := range a.Steps {
		dir := filepath.Join(scratch, fmt.Sprintf("step-%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("step %q: creating its working directory: %w", s.Name, err)
		}
		logf(t, "local step %q: starting", s.Name)
		log.Info("running EMR step locally", "step", s.Name)
		d := map[string]string{"name": s.Name}
		if s.Streaming != nil {
			n, err := x.runStreaming(ctx, t, dir, s.Streaming)
			if err != nil {
				return nil, fmt.Errorf("local step %q: %w", s.Name, err)
			}
			d["kind"], d["output"], d["input_objects"] = "streaming", outputDir(s.Streaming.Output)+partFile, fmt.Sprint(n)
		} else {
			if err := x.runCommand(ctx, t, dir, s.Command); err != nil {
				return nil, fmt.Errorf("local step %q: %w", s.Name, err)
			}
			d["kind"] = "command"
		}
		d["state"] = "COMPLETED"
		logf(t, "local step %q: COMPLETED", s.Name)
		details = append(details, d)
	}
	return &activity.Result{
		Summary: fmt.Sprintf("ran %d EMR step(s) locally", len(a.Steps)),
		Details: map[string]any{"mode": ModeLocal, "steps": details},
	}, nil
}

// newCmd prepares a process in its own process group, killed with its children when ctx ends.
func newCmd(ctx context.Context, dir string, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)
	return cmd
}

// start starts a process under a guard that kills its process group when the runner dies, and
// records the group (see package procgroup): a retry of the attempt never runs beside it. Call
// the group's Done after cmd.Wait, on the same goroutine.
func (x *executor) start(cmd *exec.Cmd, t *activity.Task) (*procgroup.Group, error) {
	return x.opts.Processes.Start(cmd, procgroup.Owner{Pipeline: t.Pipeline, RunID: t.RunID, Activity: t.ActivityID, Attempt: t.Attempt})
}

// run starts a process as start does and waits for it; whatever it left in its group is killed.
func (x *executor) run(cmd *exec.Cmd, t *activity.Task) error {
	g, err := x.start(cmd, t)
	if err != nil {
		return err
	}
	err = cmd.Wait()
	g.Done()
	return err //nolint:wrapcheck // the caller describes it with procError, which needs the *exec.ExitError
}

// runCommand runs a command step: argv as given, in the step's scratch directory.
func (x *executor) runCommand(ctx context.Context, t *activity.Task, dir string, argv []string) error {
	tail := newTail()
	cmd := newCmd(ctx, dir, os.Environ(), argv...)
	cmd.Stdout = logWriter(t)
	cmd.Stderr = io.MultiWriter(logWriter(t), tail)
	if err := x.run(cmd, t); err != nil {
		return procError(ctx, fmt.Sprintf("command %q", strings.Join(argv, " ")), err, tail)
	}
	return nil
}

// runStreaming runs a Hadoop streaming step locally: every object of every input streams through
// `sh -c mapper`, one process per object, into one `sort` (C locale), into `sh -c reducer`,
// whose output is stored as <output>/part-00000, followed by <output>/_SUCCESS. Without a
// reducer the sorted mapper output is stored, as Hadoop's identity reducer would.
//
// Sorting whole lines bytewise orders records by key exactly as Hadoop's byte-wise key
// comparison does, because the tab that ends a key sorts before every printable byte; records
// with equal keys come out sorted by value, an order Hadoop does not promise either. `sort`
// spills to the scratch directory, and everything streams through pipes, so memory stays
// bounded whatever the input size. Inputs ending in .gz are decompressed, as Hadoop does.
//
// The shipped files are fetched into the scratch directory, made executable, and the directory is
// the processes' working directory and first on their PATH, so a mapper "parse_log.py" finds the
// shipped parse_log.py, as on a Hadoop node. Input paths follow Hadoop's rules: an object, a
// directory (prefix) whose objects are read, or a glob (*, ?, [...]); names beginning with "_" or
// "." are skipped. The output is a directory, with or without the trailing "/"; an existing
// part-00000 is replaced, so a retried attempt succeeds where Hadoop would refuse an existing
// output directory. It returns the number of input objects.
func (x *executor) runStreaming(ctx context.Context, t *activity.Task, dir string, st *definition.StreamingStep) (int, error) {
	for _, f := range st.Files {
		if err := x.fetch(ctx, f, dir); err != nil {
			return 0, err
		}
	}
	var objs []storage.Object
	for _, in := range st.Input {
		o, err := x.inputObjects(ctx, in)
		if err != nil {
			return 0, err
		}
		objs = append(objs, o...)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	p := &pipeline{ctx: ctx, cancel: cancel}
	defer p.cleanup()
	sortTail, redTail := newTail(), newTail()
	sorter := newCmd(ctx, dir, append(env, "LC_ALL=C", "TMPDIR="+dir), "sort")
	sorter.Stderr = io.MultiWriter(logWriter(t), sortTail)
	mapOut, err := p.pipe(&sorter.Stdin)
	if err != nil {
		return 0, err
	}
	last := sorter
	var reducer *exec.Cmd
	if st.Reducer != "" {
		reducer = newCmd(ctx, dir, env, "sh", "-c", st.Reducer)
		reducer.Stderr = io.MultiWriter(logWriter(t), redTail)
		w, err := p.pipe(&reducer.Stdin)
		if err != nil {
			return 0, err
		}
		sorter.Stdout = w
		p.childEnds = append(p.childEnds, w) // sort's end, not the parent's
		last = reducer
	}
	pr, pw := io.Pipe()
	last.Stdout = pw
	out := outputDir(st.Output)
	putDone := make(chan error, 1)
	go func() {
		err := x.opts.Store.Put(ctx, out+partFile, pr)
		_ = pr.CloseWithError(err) // unblocks the writer when Put stopped reading
		putDone <- err
	}()
	finish := func(err error) (int, error) {
		cancel() // kills whatever still runs
		_ = pw.CloseWithError(err)
		if perr := <-putDone; perr != nil { // it fails with err: the partial output is dropped
			x.logger(t).Debug("dropped the partial output of a failed streaming step", "output", out, "error", perr)
		}
		return 0, err
	}

	g, err := x.start(sorter, t)
	if err != nil {
		return finish(fmt.Errorf("starting sort: %w", err))
	}
	p.started = append(p.started, started{sorter, g})
	if reducer != nil {
		g, err := x.start(reducer, t)
		if err != nil {
			return finish(fmt.Errorf("starting the reducer: %w", err))
		}
		p.started = append(p.started, started{reducer, g})
	}
	p.closeChildEnds()

	for _, o := range objs {
		if err := x.runMapper(ctx, t, dir, env, st.Mapper, o.URL, mapOut); err != nil {
			return finish(err)
		}
	}
	_ = mapOut.Close() // sort sees the end of its input
	if err := p.wait(0); err != nil {
		return finish(procError(ctx, "sort", err, sortTail))
	}
	if reducer != nil {
		if err := p.wait(0); err != nil {
			return finish(procError(ctx, fmt.Sprintf("reducer %q", st.Reducer), err, redTail))
		}
	}
	_ = pw.Close()
	if err := <-putDone; err != nil {
		return 0, fmt.Errorf("writing %s: %w", out+partFile, err)
	}
	if err := x.opts.Store.Put(ctx, out+successFile, strings.NewReader("")); err != nil {
		return 0, fmt.Errorf("writing %s: %w", out+successFile, err)
	}
	logf(t, "wrote %s from %d input object(s)", out+partFile, len(objs))
	return len(objs), nil
}

// runMapper streams one input object through the mapper into w.
func (x *executor) runMapper(ctx context.Context, t *activity.Task, dir string, env []string, mapper, url string, w *os.File) error {
	rc, err := x.opts.Store.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("reading input %s: %w", url, err)
	}
	defer func() { _ = rc.Close() }()
	var in io.Reader = rc
	if strings.HasSuffix(url, ".gz") {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return fmt.Errorf("reading input %s: %w", url, err)
		}
		in = zr
	}
	tail := newTail()
	cmd := newCmd(ctx, dir, append(env, "mapreduce_map_input_file="+url), "sh", "-c", mapper)
	cmd.Stdin, cmd.Stdout = in, w
	cmd.Stderr = io.MultiWriter(logWriter(t), tail)
	if err := x.run(cmd, t); err != nil {
		return procError(ctx, fmt.Sprintf("mapper %q on %s", mapper, url), err, tail)
	}
	return nil
}

// pipeline owns the OS pipes between the processes of a streaming step.
type pipeline struct {
	ctx        context.Context
	cancel     context.CancelFunc
	childEnds  []*os.File // ends handed to children; the parent closes its copies once they started
	parentEnds []*os.File
	started    []started // not yet waited for, in start order
}

// started is a process of the pipeline and its guarded group.
type started struct {
	cmd   *exec.Cmd
	group *procgroup.Group
}

// wait waits for the i-th process not yet waited for and ends its group.
func (p *pipeline) wait(i int) error {
	s := p.started[i]
	p.started = append(p.started[:i], p.started[i+1:]...)
	err := s.cmd.Wait()
	s.group.Done()
	return err //nolint:wrapcheck // the caller describes it with procError, which needs the *exec.ExitError
}

// pipe makes an OS pipe whose read end becomes *stdin and returns the write end, which the
// parent closes in cleanup unless it is registered as a child's end.
func (p *pipeline) pipe(stdin *io.Reader) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating a pipe: %w", err)
	}
	*stdin = r
	p.childEnds = append(p.childEnds, r)
	p.parentEnds = append(p.parentEnds, w)
	return w, nil
}

func (p *pipeline) closeChildEnds() {
	for _, f := range p.childEnds {
		_ = f.Close()
	}
	p.childEnds = nil
}

// cleanup kills and reaps processes still running (after an error) and closes every pipe.
func (p *pipeline) cleanup() {
	p.cancel()
	p.closeChildEnds()
	for _, f := range p.parentEnds {
		_ = f.Close()
	}
	for len(p.started) > 0 {
		_ = p.wait(0)
	}
}

// fetch copies a shipped file into dir, executable, named as the last element of its URL.
func (x *executor) fetch(ctx context.Context, url, dir string) error {
	name := path.Base(url[strings.Index(url, "://")+3:])
	if name == "" || name == "." || name == "/" || strings.HasSuffix(url, "/") {
		return activity.Permanent(fmt.Errorf("file %s: name a file, not a directory", url))
	}
	rc, err := x.opts.Store.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("fetching file %s: %w", url, err)
	}
	defer func() { _ = rc.Close() }()
	dst := filepath.Join(dir, name)
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755) //nolint:gosec // shipped files are scripts the step runs
	if err != nil {
		return fmt.Errorf("fetching file %s: %w", url, err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		_ = f.Close()
		return fmt.Errorf("fetching file %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fetching file %s: %w", url, err)
	}
	return nil
}

// outputDir is the output location as a directory, ending in "/".
func outputDir(out string) string { return strings.TrimSuffix(out, "/") + "/" }

// inputObjects resolves one input path as Hadoop does: a glob, an object, or a directory.
func (x *executor) inputObjects(ctx context.Context, in string) ([]storage.Object, error) {
	var objs []storage.Object
	if i := strings.IndexAny(in, "*?["); i >= 0 {
		base := in[:strings.LastIndex(in[:i], "/")+1]
		if _, err := path.Match(in, in); err != nil {
			return nil, activity.Permanent(fmt.Errorf("input %s: %w", in, err))
		}
		all, err := x.opts.Store.List(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("listing input %s: %w", in, err)
		}
		for _, o := range all {
			if m := globMatch(in, base, o.URL); m != "" && !hidden(strings.TrimPrefix(o.URL, m)) && !hidden(strings.TrimPrefix(m, base)) {
				objs = append(objs, o)
			}
		}
	} else {
		all, err := x.opts.Store.List(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing input %s: %w", in, err)
		}
		for _, o := range all {
			if o.URL == in {
				return []storage.Object{o}, nil
			}
		}
		dir := outputDir(in)
		if all, err = x.opts.Store.List(ctx, dir); err != nil {
			return nil, fmt.Errorf("listing input %s: %w", dir, err)
		}
		for _, o := range all {
			if !hidden(strings.TrimPrefix(o.URL, dir)) {
				objs = append(objs, o)
			}
		}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("input %s matches no objects", in)
	}
	return objs, nil
}

// globMatch returns the part of url (the object itself, or one of its directories) that matches
// the glob pattern, or "" when none does.
func globMatch(pattern, base, url string) string {
	for i := len(base); i < len(url); i++ {
		if url[i] == '/' {
			if ok, _ := path.Match(pattern, url[:i]); ok {
				return url[:i] + "/"
			}
		}
	}
	if ok, _ := path.Match(pattern, url); ok {
		return url
	}
	return ""
}

// hidden reports whether a relative path has a segment beginning with "_" or ".", which Hadoop's
// input formats skip (_SUCCESS, _logs, .crc files).
func hidden(rel string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// procError describes a failed process with the tail of its standard error. When ctx ended, the
// process was killed for that reason, and the context's error says so.
func procError(ctx context.Context, what string, err error, tail *tailBuffer) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s stopped: %w", what, context.Cause(ctx))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && tail.Len() > 0 {
		return fmt.Errorf("%s failed (%w); its standard error ends with:\n%s", what, err, tail.String())
	}
	return fmt.Errorf("%s failed: %w", what, err)
}

func logWriter(t *activity.Task) io.Writer {
	if t.Log == nil {
		return io.Discard
	}
	return t.Log
}
