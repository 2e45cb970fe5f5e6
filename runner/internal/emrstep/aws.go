package emrstep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/emr"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/usage"
)

// Tags the runner puts on every transient cluster, so that a cluster can be traced to its
// attempt, and found by the runner that retries the attempt when the runner that started it
// died (see terminateEarlier).
const (
	TagPipeline = "sluice:pipeline"
	TagRunID    = "sluice:run_id"
	TagActivity = "sluice:activity"
	TagAttempt  = "sluice:attempt"
)

// maxClusterName is EMR's limit on a cluster name.
const maxClusterName = 256

// clusterName is "sluice-<pipeline>-<activity>-<run id>", cut to EMR's limit.
func clusterName(t *activity.Task) string {
	n := fmt.Sprintf("sluice-%s-%s-%s", t.Pipeline, t.ActivityID, activity.RunIDString(t.RunID))
	if len(n) > maxClusterName {
		n = n[:maxClusterName]
	}
	return n
}

// withRunTags adds the run's tags to the template's, replacing template tags of the same keys.
func withRunTags(tags []types.Tag, t *activity.Task) []types.Tag {
	run := map[string]string{TagPipeline: t.Pipeline, TagRunID: activity.RunIDString(t.RunID), TagActivity: t.ActivityID, TagAttempt: strconv.Itoa(t.Attempt)}
	out := slices.DeleteFunc(slices.Clone(tags), func(tag types.Tag) bool { _, ok := run[aws.ToString(tag.Key)]; return ok })
	for _, k := range []string{TagPipeline, TagRunID, TagActivity, TagAttempt} {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(run[k])})
	}
	return out
}

func subnetLabel(subnet string) string {
	if subnet == "" {
		return "the default subnet"
	}
	return "subnet " + subnet
}

// runTransient starts a cluster from the template with the steps, falling back across the
// template's subnets on capacity errors, waits for the steps and terminates the cluster.
func (x *executor) runTransient(ctx context.Context, t *activity.Task, a *definition.EMRStepActivity) (*activity.Result, error) {
	reg := x.opts.Registry
	raw, err := reg.Get(ctx, registry.EMRTemplateKey(a.Template))
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil, activity.Permanent(fmt.Errorf("EMR template %q is not published in registry %s: apply the Terraform configuration that defines it", a.Template, reg.URL()))
	case err != nil:
		return nil, fmt.Errorf("reading EMR template %q from registry %s: %w", a.Template, reg.URL(), err)
	}
	tpl, err := definition.DecodeEMRTemplate(raw)
	if err != nil {
		return nil, activity.Permanent(fmt.Errorf("EMR template %q in registry %s: %w", a.Template, reg.URL(), err))
	}
	// A runner that died during an earlier attempt left its cluster running: end it before
	// starting this attempt's, so that the steps never run twice at once.
	if err := x.terminateEarlier(ctx, t); err != nil {
		return nil, err
	}
	subnets := tpl.SubnetIDs
	if len(subnets) == 0 {
		subnets = []string{""}
	}
	name := clusterName(t)
	log := x.logger(t)
	var tried []string
	for i, subnet := range subnets {
		in, err := emr.RunJobFlowInput(tpl, name, subnet)
		if err != nil {
			return nil, activity.Permanent(err)
		}
		in.Steps = stepConfigs(a.Steps, types.ActionOnFailureTerminateCluster)
		in.Tags = withRunTags(in.Tags, t)

		var reason string
		out, err := x.opts.EMR.RunJobFlow(ctx, in)
		if err != nil {
			r, capacity := capacityAPIError(err)
			if !capacity {
				return nil, fmt.Errorf("starting an EMR cluster from template %q in %s: %w", a.Template, subnetLabel(subnet), err)
			}
			reason = r
		} else {
			res, err := x.watchTransient(ctx, t, aws.ToString(out.JobFlowId), subnet, len(in.Steps))
			// Every cluster launched is billed, whatever became of its steps: record it once it
			// is terminated (watchTransient always terminates it).
			x.recordUsage(ctx, t, usage.Launch{Template: a.Template, ExpectedDuration: a.ExpectedDuration, ClusterID: aws.ToString(out.JobFlowId)})
			var ce *capacityError
			if !errors.As(err, &ce) {
				return res, err
			}
			reason = ce.reason
		}
		tried = append(tried, subnetLabel(subnet)+": "+reason)
		if i+1 < len(subnets) {
			log.Warn("EMR has no capacity in this subnet; trying the next one", "template", a.Template, "subnet", subnet, "next_subnet", subnets[i+1], "reason", reason)
			logf(t, "no capacity in %s (%s); trying subnet %s", subnetLabel(subnet), reason, subnets[i+1])
		}
	}
	return nil, fmt.Errorf("no subnet of EMR template %q could start the cluster: %s", a.Template, strings.Join(tried, "; "))
}

// watchTransient waits for the steps of a transient cluster and always terminates it.
func (x *executor) watchTransient(ctx context.Context, t *activity.Task, id, subnet string, nSteps int) (res *activity.Result, err error) {
	log := x.logger(t).With("cluster_id", id)
	log.Info("started EMR cluster", "subnet", subnet)
	logf(t, "started EMR cluster %s in %s", id, subnetLabel(subnet))
	defer func() {
		terr := x.terminate(ctx, id)
		switch {
		case terr == nil:
			log.Info("terminated EMR cluster")
			logf(t, "terminated EMR cluster %s", id)
		case err == nil:
			// The steps succeeded; the cluster ends itself once it has no steps left, and the
			// idle timeout backs that up.
			log.Error("terminating EMR cluster", "error", terr)
			res.Warnings = append(res.Warnings, terr.Error())
		default:
			log.Error("terminating EMR cluster", "error", terr)
			err = fmt.Errorf("%w (and %w)", err, terr)
		}
	}()
	steps, err := x.wait(ctx, t, id, nil, nSteps, true)
	if err != nil {
		return nil, err
	}
	return &activity.Result{
		Summary: fmt.Sprintf("ran %d EMR step(s) on transient cluster %s in %s", len(steps), id, subnetLabel(subnet)),
		Details: map[string]any{"cluster_id": id, "subnet": subnet, "steps": stepDetails(steps)},
	}, nil
}

// liveStates are the states of a cluster that has not begun terminating.
var liveStates = []types.ClusterState{types.ClusterStateStarting, types.ClusterStateBootstrapping, types.ClusterStateRunning, types.ClusterStateWaiting}

// terminateEarlier terminates the transient clusters that earlier attempts of the task's
// activity instance started and left running — their runner died before it could terminate
// them — and waits until they are terminated. EMR cannot list clusters by tag: it lists the
// clusters not yet terminating (a short list) and reads the tags of those with the task's
// cluster name; the tags, not the name, decide (names are cut at 256 characters).
//
// Adopting such a cluster instead would save its startup time, but its steps may be half done
// with unknown effects; a fresh cluster runs them from the start, as any retry does.
func (x *executor) terminateEarlier(ctx context.Context, t *activity.Task) error {
	if t.Attempt <= 1 {
		return nil // the first attempt: no earlier one can have left a cluster
	}
	name := clusterName(t)
	var stale []string
	attempts := map[string]int{} // the attempt that started each stale cluster
	in := &awsemr.ListClustersInput{ClusterStates: liveStates}
	for {
		out, err := x.opts.EMR.ListClusters(ctx, in)
		if err != nil {
			return fmt.Errorf("listing EMR clusters to find those an earlier attempt left running: %w", err)
		}
		for _, c := range out.Clusters {
			if aws.ToString(c.Name) != name {
				continue
			}
			id := aws.ToString(c.Id)
			dc, err := x.opts.EMR.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: aws.String(id)})
			if err != nil {
				return fmt.Errorf("reading the tags of EMR cluster %s: %w", id, err)
			}
			if dc.Cluster != nil && earlierAttempt(dc.Cluster.Tags, t) {
				stale = append(stale, id)
				attempts[id] = attemptOf(dc.Cluster.Tags, t)
			}
		}
		if aws.ToString(out.Marker) == "" {
			break
		}
		in.Marker = out.Marker
	}
	if len(stale) == 0 {
		return nil
	}
	log := x.logger(t)
	log.Warn("terminating EMR clusters an earlier attempt left running", "cluster_ids", stale)
	logf(t, "terminating EMR cluster(s) %s left running by an earlier attempt", strings.Join(stale, ", "))
	if _, err := x.opts.EMR.TerminateJobFlows(ctx, &awsemr.TerminateJobFlowsInput{JobFlowIds: stale}); err != nil {
		return fmt.Errorf("terminating EMR cluster(s) %s left running by an earlier attempt: %w", strings.Join(stale, ", "), err)
	}
	for _, id := range stale {
		for {
			dc, err := x.opts.EMR.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: aws.String(id)})
			if err != nil {
				return x.pollError(ctx, id, err)
			}
			if dc.Cluster != nil && dc.Cluster.Status != nil && (dc.Cluster.Status.State == types.ClusterStateTerminated || dc.Cluster.Status.State == types.ClusterStateTerminatedWithErrors) {
				break
			}
			timer := time.NewTimer(x.opts.PollInterval)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("waiting for EMR cluster %s, left running by an earlier attempt, to terminate: %w", id, context.Cause(ctx))
			case <-timer.C:
			}
		}
		logf(t, "EMR cluster %s terminated", id)
		// Its runner died before recording it; it was billed all the same.
		if a := t.Activity; a != nil && a.EMRStep != nil {
			x.recordUsage(ctx, t, usage.Launch{Attempt: attempts[id], Template: a.EMRStep.Template, ExpectedDuration: a.EMRStep.ExpectedDuration, ClusterID: id})
		}
	}
	return nil
}

// attemptOf is the attempt a cluster's tags name; a cluster without the tag (an older runner's)
// counts as the attempt before t's.
func attemptOf(tags []types.Tag, t *activity.Task) int {
	for _, tag := range tags {
		if aws.ToString(tag.Key) == TagAttempt {
			if n, err := strconv.Atoi(aws.ToString(tag.Value)); err == nil {
				return n
			}
		}
	}
	return max(t.Attempt-1, 1)
}

// Abandon terminates the transient clusters that attempts of the task before t.Attempt left
// running; the engine calls it when those attempts used up the retries and none will follow.
// Local mode and existing clusters have nothing to end here: local processes died with their
// runner (see package procgroup).
func (x *executor) Abandon(ctx context.Context, t *activity.Task) error {
	if x.opts.Mode != ModeAWS || t.Activity == nil || t.Activity.EMRStep == nil || t.Activity.EMRStep.Template == "" {
		return nil
	}
	return x.terminateEarlier(ctx, t)
}

// earlierAttempt reports whether tags are those of an earlier attempt of the task's instance.
func earlierAttempt(tags []types.Tag, t *activity.Task) bool {
	m := map[string]string{}
	for _, tag := range tags {
		m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if m[TagPipeline] != t.Pipeline || m[TagRunID] != activity.RunIDString(t.RunID) || m[TagActivity] != t.ActivityID {
		return false
	}
	n, err := strconv.Atoi(m[TagAttempt])
	// A cluster without an attempt tag was started by a runner older than the tag: it is an
	// earlier attempt's too.
	return err != nil || n < t.Attempt
}

// terminate terminates a cluster even when ctx is done: the attempt's cancellation or timeout
// must not leave a cluster running.
func (x *executor) terminate(ctx context.Context, id string) error {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if _, err := x.opts.EMR.TerminateJobFlows(tctx, &awsemr.TerminateJobFlowsInput{JobFlowIds: []string{id}}); err != nil {
		return fmt.Errorf("terminating EMR cluster %s: %w (terminate it by hand; its idle timeout ends it otherwise)", id, err)
	}
	return nil
}

// runExisting adds the steps to an existing cluster and waits for them. It never terminates the
// cluster; when the attempt fails or is cancelled it cancels its own unfinished steps, so that a
// retry does not run beside them.
func (x *executor) runExisting(ctx context.Context, t *activity.Task, a *definition.EMRStepActivity) (*activity.Result, error) {
	log := x.logger(t).With("cluster_id", a.ClusterID)
	out, err := x.opts.EMR.AddJobFlowSteps(ctx, &awsemr.AddJobFlowStepsInput{
		JobFlowId: aws.String(a.ClusterID),
		Steps:     stepConfigs(a.Steps, types.ActionOnFailureContinue),
	})
	if err != nil {
		return nil, fmt.Errorf("adding steps to EMR cluster %s: %w", a.ClusterID, err)
	}
	ids := out.StepIds
	log.Info("added EMR steps", "step_ids", ids)
	logf(t, "added steps %s to EMR cluster %s", strings.Join(ids, ", "), a.ClusterID)
	steps, err := x.wait(ctx, t, a.ClusterID, ids, len(ids), false)
	if err != nil {
		if cerr := x.cancelSteps(ctx, t, a.ClusterID, ids, steps); cerr != nil {
			log.Error("cancelling EMR steps", "error", cerr)
			err = fmt.Errorf("%w (and %w)", err, cerr)
		}
		return nil, err
	}
	return &activity.Result{
		Summary: fmt.Sprintf("ran %d EMR step(s) on cluster %s", len(steps), a.ClusterID),
		Details: map[string]any{"cluster_id": a.ClusterID, "steps": stepDetails(steps)},
	}, nil
}

// cancelSteps cancels the steps of ids that were not known to be finished.
func (x *executor) cancelSteps(ctx context.Context, t *activity.Task, clusterID string, ids []string, last []stepView) error {
	done := map[string]bool{}
	for _, s := range last {
		done[s.id] = finished(s.state)
	}
	var open []string
	for _, id := range ids {
		if !done[id] {
			open = append(open, id)
		}
	}
	if len(open) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if _, err := x.opts.EMR.CancelSteps(cctx, &awsemr.CancelStepsInput{
		ClusterId: aws.String(clusterID), StepIds: open, StepCancellationOption: types.StepCancellationOptionSendInterrupt,
	}); err != nil {
		return fmt.Errorf("cancelling steps %s on EMR cluster %s: %w", strings.Join(open, ", "), clusterID, err)
	}
	logf(t, "cancelled steps %s on EMR cluster %s", strings.Join(open, ", "), clusterID)
	return nil
}

// stepView is what the executor knows of one step.
type stepView struct {
	id, name string
	state    types.StepState
}

func stepDetails(steps []stepView) []map[string]string {
	out := make([]map[string]string, len(steps))
	for i, s := range steps {
		out[i] = map[string]string{"id": s.id, "name": s.name, "state": string(s.state)}
	}
	return out
}

func finished(s types.StepState) bool {
	switch s {
	case types.StepStateCompleted, types.StepStateFailed, types.StepStateCancelled, types.StepStateInterrupted:
		return true
	}
	return false
}

func ended(s types.ClusterState) bool {
	switch s {
	case types.ClusterStateTerminating, types.ClusterStateTerminated, types.ClusterStateTerminatedWithErrors:
		return true
	}
	return false
}

// capacityError says a cluster could not start for lack of capacity in its subnet's AZ.
type capacityError struct{ reason string }

func (e *capacityError) Error() string { return "no capacity: " + e.reason }

// wait polls the cluster and its steps until every step completed (nil error), a step failed or
// was cancelled, the cluster ended, or ctx is done. ids are the steps to watch; nil means every
// step of the cluster (a transient cluster holds only this task's steps), of which nSteps are
// expected. On a transient cluster that ends before it ever ran, wait returns a *capacityError
// when the reason is a lack of capacity, so that the caller tries the next subnet.
func (x *executor) wait(ctx context.Context, t *activity.Task, clusterID string, ids []string, nSteps int, transient bool) ([]stepView, error) {
	log := x.logger(t).With("cluster_id", clusterID)
	started := false
	var lastCluster types.ClusterState
	lastStep := map[string]types.StepState{}
	var steps []stepView
	for {
		dc, err := x.opts.EMR.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: aws.String(clusterID)})
		if err != nil {
			return steps, x.pollError(ctx, clusterID, err)
		}
		status := types.ClusterStatus{}
		if dc.Cluster != nil && dc.Cluster.Status != nil {
			status = *dc.Cluster.Status
		}
		if status.State != lastCluster {
			lastCluster = status.State
			log.Info("EMR cluster state", "state", string(status.State))
			logf(t, "cluster %s: %s", clusterID, status.State)
		}
		switch {
		case status.State == types.ClusterStateRunning || status.State == types.ClusterStateWaiting:
			started = true
		case transient && !started && ended(status.State):
			if reason, ok := capacityStatus(&status); ok {
				return steps, &capacityError{reason: reason}
			}
			return steps, fmt.Errorf("EMR cluster %s ended before it ran the steps: %s", clusterID, clusterReason(&status))
		}

		steps, err = x.listSteps(ctx, clusterID, ids)
		if err != nil {
			return steps, x.pollError(ctx, clusterID, err)
		}
		for _, s := range steps {
			if lastStep[s.id] != s.state {
				lastStep[s.id] = s.state
				log.Info("EMR step state", "step_id", s.id, "step", s.name, "state", string(s.state))
				logf(t, "step %s (%s): %s", s.id, s.name, s.state)
			}
		}
		completed := 0
		for _, s := range steps {
			switch s.state {
			case types.StepStateCompleted:
				completed++
			case types.StepStateFailed, types.StepStateCancelled, types.StepStateInterrupted:
				return steps, x.stepFailure(ctx, clusterID, s, &status)
			}
		}
		if completed == len(steps) && len(steps) >= nSteps {
			return steps, nil
		}
		if status.State == types.ClusterStateTerminated || status.State == types.ClusterStateTerminatedWithErrors {
			return steps, fmt.Errorf("EMR cluster %s ended before its steps finished: %s", clusterID, clusterReason(&status))
		}

		timer := time.NewTimer(x.opts.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return steps, fmt.Errorf("stopped waiting for the steps on EMR cluster %s: %w", clusterID, context.Cause(ctx))
		case <-timer.C:
		}
	}
}

// pollError prefers the context's error to the call's when the attempt was cancelled.
func (x *executor) pollError(ctx context.Context, clusterID string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("stopped waiting for the steps on EMR cluster %s: %w", clusterID, context.Cause(ctx))
	}
	return fmt.Errorf("polling EMR cluster %s: %w", clusterID, err)
}

// listSteps lists the steps of ids (every step of the cluster when ids is nil), in the order
// they were added.
func (x *executor) listSteps(ctx context.Context, clusterID string, ids []string) ([]stepView, error) {
	in := &awsemr.ListStepsInput{ClusterId: aws.String(clusterID), StepIds: ids}
	var all []stepView
	for {
		out, err := x.opts.EMR.ListSteps(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the steps: %w", err)
		}
		for _, s := range out.Steps {
			v := stepView{id: aws.ToString(s.Id), name: aws.ToString(s.Name)}
			if s.Status != nil {
				v.state = s.Status.State
			}
			all = append(all, v)
		}
		if aws.ToString(out.Marker) == "" {
			break
		}
		in.Marker = out.Marker
	}
	if ids != nil {
		pos := map[string]int{}
		for i, id := range ids {
			pos[id] = i
		}
		slices.SortStableFunc(all, func(a, b stepView) int { return pos[a.id] - pos[b.id] })
		return all, nil
	}
	slices.Reverse(all) // EMR lists the newest step first
	return all, nil
}

// stepFailure describes a failed or cancelled step with EMR's FailureDetails.
func (x *executor) stepFailure(ctx context.Context, clusterID string, s stepView, cluster *types.ClusterStatus) error {
	msg := fmt.Sprintf("EMR step %q (%s) on cluster %s %s", s.name, s.id, clusterID, s.state)
	out, err := x.opts.EMR.DescribeStep(ctx, &awsemr.DescribeStepInput{ClusterId: aws.String(clusterID), StepId: aws.String(s.id)})
	switch {
	case err != nil:
		msg += fmt.Sprintf(" (describing the step failed: %v)", err)
	case out.Step != nil && out.Step.Status != nil:
		st := out.Step.Status
		if fd := st.FailureDetails; fd != nil {
			var parts []string
			if r := aws.ToString(fd.Reason); r != "" {
				parts = append(parts, "reason: "+r)
			}
			if m := aws.ToString(fd.Message); m != "" {
				parts = append(parts, "message: "+m)
			}
			if l := aws.ToString(fd.LogFile); l != "" {
				parts = append(parts, "log file: "+l)
			}
			if len(parts) > 0 {
				msg += ": " + strings.Join(parts, "; ")
			}
		}
		if r := st.StateChangeReason; r != nil && aws.ToString(r.Message) != "" {
			msg += " (" + aws.ToString(r.Message) + ")"
		}
	}
	if ended(cluster.State) {
		msg += fmt.Sprintf("; cluster %s: %s", cluster.State, clusterReason(cluster))
	}
	return errors.New(msg)
}

// clusterReason is a cluster's state change reason and error details, for messages.
func clusterReason(s *types.ClusterStatus) string {
	var parts []string
	if r := s.StateChangeReason; r != nil && (r.Code != "" || aws.ToString(r.Message) != "") {
		parts = append(parts, strings.TrimPrefix(string(r.Code)+": "+aws.ToString(r.Message), ": "))
	}
	for _, d := range s.ErrorDetails {
		parts = append(parts, strings.TrimPrefix(aws.ToString(d.ErrorCode)+": "+aws.ToString(d.ErrorMessage), ": "))
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, "; ")
}

// azProblem reports whether an EMR message says the subnet's Availability Zone cannot host the
// instances: out of capacity (EC2's InsufficientInstanceCapacity, EMR's "insufficient capacity")
// or an instance type the AZ does not offer. Another subnet may well succeed.
func azProblem(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "capacity") || strings.Contains(m, "availability zone")
}

// capacityAPIError reports whether RunJobFlow refused the request for lack of capacity in the
// subnet's AZ, and why.
func capacityAPIError(err error) (string, bool) {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return "", false
	}
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	switch {
	case strings.Contains(code, "InsufficientInstanceCapacity"), strings.Contains(code, "InsufficientCapacity"):
	case (code == "ValidationException" || code == "InvalidRequestException") && azProblem(msg):
	default:
		return "", false
	}
	return code + ": " + msg, true
}

// capacityStatus reports whether a cluster that ended during startup did so for lack of
// capacity in its subnet's AZ. EMR says so with an ErrorDetail code such as
// INTERNAL_ERROR_EC2_INSUFFICIENT_CAPACITY_AZ or INTERNAL_ERROR_SPOT_NO_CAPACITY_PRIMARY, or with
// a state change reason VALIDATION_ERROR, INSTANCE_FAILURE or INSTANCE_FLEET_TIMEOUT whose
// message names capacity or the AZ. An INTERNAL_ERROR during startup counts too: it is EMR
// failing to provision in that AZ, and another subnet is the cheapest remedy.
func capacityStatus(s *types.ClusterStatus) (string, bool) {
	for _, d := range s.ErrorDetails {
		if c := aws.ToString(d.ErrorCode); strings.Contains(c, "CAPACITY") {
			return clusterReason(s), true
		}
	}
	r := s.StateChangeReason
	if r == nil {
		return "", false
	}
	switch r.Code {
	case types.ClusterStateChangeReasonCodeInternalError:
		return clusterReason(s), true
	case types.ClusterStateChangeReasonCodeValidationError, types.ClusterStateChangeReasonCodeInstanceFailure,
		types.ClusterStateChangeReasonCodeInstanceFleetTimeout:
		if azProblem(aws.ToString(r.Message)) {
			return clusterReason(s), true
		}
	}
	return "", false
}
