// Package fakeemr is a TEST-ONLY stand-in for Amazon EMR: an HTTP server on 127.0.0.1 that
// speaks EMR's JSON 1.1 protocol (POST /, X-Amz-Target: ElasticMapReduce.<Operation>,
// Content-Type: application/x-amz-json-1.1) for the calls sluice-runner makes: RunJobFlow,
// DescribeCluster, ListClusters, ListInstances, AddJobFlowSteps, ListSteps, DescribeStep,
// CancelSteps and TerminateJobFlows.
//
// No EMR emulator exists, so the tests of the emr_step executor talk to this one through a real
// aws-sdk-go-v2 client (awsclient with an EMR endpoint override): requests are signed and
// serialised by the SDK, and responses are serialised with the SDK's own schemas, so a wire
// mismatch fails a test. The fake validates requests (required members, step shapes, enums),
// records every call, and moves clusters and steps through EMR's states one tick per
// DescribeCluster call, so that tests never wait for wall-clock time.
//
// It is not an emulator of EMR's behaviour beyond what the runner relies on, and it must never be
// used outside tests.
package fakeemr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	"github.com/aws/aws-sdk-go-v2/service/emr/schemas"
	"github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// Operations the fake serves, as named in X-Amz-Target. TEST-ONLY.
const (
	OpRunJobFlow        = "RunJobFlow"
	OpDescribeCluster   = "DescribeCluster"
	OpListClusters      = "ListClusters"
	OpAddJobFlowSteps   = "AddJobFlowSteps"
	OpListSteps         = "ListSteps"
	OpDescribeStep      = "DescribeStep"
	OpCancelSteps       = "CancelSteps"
	OpTerminateJobFlows = "TerminateJobFlows"
	OpListInstances     = "ListInstances"
)

// Error codes the fake returns, as EMR names them. TEST-ONLY.
const (
	CodeValidation     = "ValidationException"
	CodeInvalidRequest = "InvalidRequestException"
)

// CapacityFailure says how a subnet listed in Config.CapacityFailures runs out of capacity.
// TEST-ONLY.
type CapacityFailure int

const (
	// FailAtStartup starts the cluster, then terminates it during startup with EMR's
	// insufficient-capacity status (StateChangeReason INTERNAL_ERROR and the ErrorDetail code
	// INTERNAL_ERROR_EC2_INSUFFICIENT_CAPACITY_AZ), as real EMR reports an exhausted AZ.
	// TEST-ONLY.
	FailAtStartup CapacityFailure = iota
	// FailAtRunJobFlow refuses RunJobFlow itself with a ValidationException whose message names
	// EC2's InsufficientInstanceCapacity. TEST-ONLY.
	FailAtRunJobFlow
)

// Config sets the fake's behaviour. The zero value runs every cluster and step to success.
// TEST-ONLY.
type Config struct {
	// CapacityFailures lists subnets (Instances.Ec2SubnetId) without capacity, and how they fail.
	CapacityFailures map[string]CapacityFailure
	// FailingSteps maps a step name to the FailureDetails the step fails with.
	FailingSteps map[string]types.FailureDetails
	// StartupTicks is how many DescribeCluster calls a new cluster spends in STARTING and then
	// in BOOTSTRAPPING; zero means 1.
	StartupTicks int
	// StepTicks maps a step name to how many DescribeCluster calls it spends RUNNING; a negative
	// value runs it until it is cancelled or its cluster terminates. Unlisted steps take
	// DefaultStepTicks.
	StepTicks map[string]int
	// DefaultStepTicks is the RUNNING time of an unlisted step; zero means 1.
	DefaultStepTicks int
	// Now is the fake's clock: cluster and instance timelines and NormalizedInstanceHours come
	// from it. Nil means time.Now; a test advances its own clock to get exact usage figures.
	Now func() time.Time
}

// Call is one request the fake received. TEST-ONLY.
type Call struct {
	Op string
	// Body is the JSON request body exactly as the client sent it.
	Body json.RawMessage
	// Err is the error code the fake answered with, "" on success.
	Err string
}

// Server is the fake EMR endpoint. TEST-ONLY.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:41234, for awsclient.Settings.Endpoints.
	URL string

	cfg      Config
	srv      *http.Server
	done     chan struct{}
	mu       sync.Mutex
	calls    []Call
	clusters map[string]*cluster
	order    []string // cluster ids in creation order
	seq      int
}

type cluster struct {
	id, name, subnet string
	keepAlive        bool
	state            types.ClusterState
	reason           *types.ClusterStateChangeReason
	errorDetails     []types.ErrorDetail
	ticks            int // ticks spent in the current state
	failCapacity     bool
	steps            []*step
	tags             []types.Tag
	groups           []types.InstanceGroupConfig
	created          time.Time
	ended            time.Time // when it began terminating, or ended; zero while it runs
}

type step struct {
	id, name     string
	action       types.ActionOnFailure
	jar          types.HadoopJarStepConfig
	state        types.StepState
	ticks        int
	failure      *types.FailureDetails
	created      time.Time
	cancelReason string
}

// Start serves a fake EMR endpoint with cfg on a free 127.0.0.1 port. Stop it with Close.
// TEST-ONLY.
func Start(cfg Config) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeemr: listening on 127.0.0.1: %w", err)
	}
	s := &Server{URL: "http://" + l.Addr().String(), cfg: cfg, done: make(chan struct{}), clusters: map[string]*cluster{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l) // http.ErrServerClosed after Close
	}()
	return s, nil
}

// Close stops the server. TEST-ONLY.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}

// Calls returns the calls received so far, in order; with ops, only calls of those operations.
// TEST-ONLY.
func (s *Server) Calls(ops ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(ops) == 0 || slices.Contains(ops, c.Op) {
			out = append(out, c)
		}
	}
	return out
}

// RunJobFlowRequests decodes the successful and refused RunJobFlow requests received so far.
// TEST-ONLY.
func (s *Server) RunJobFlowRequests() ([]*awsemr.RunJobFlowInput, error) {
	var out []*awsemr.RunJobFlowInput
	for _, c := range s.Calls(OpRunJobFlow) {
		in := &awsemr.RunJobFlowInput{}
		if err := decodeStrict(c.Body, in); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// ClusterState is a cluster's current state, without advancing it. TEST-ONLY.
func (s *Server) ClusterState(id string) (types.ClusterState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[id]
	if !ok {
		return "", false
	}
	return c.state, true
}

// ClusterIDs lists the clusters started with RunJobFlow or AddCluster, oldest first. TEST-ONLY.
func (s *Server) ClusterIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// StepStates maps step names of a cluster to their current states, without advancing them.
// TEST-ONLY.
func (s *Server) StepStates(clusterID string) map[string]types.StepState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]types.StepState{}
	if c, ok := s.clusters[clusterID]; ok {
		for _, st := range c.steps {
			out[st.name] = st.state
		}
	}
	return out
}

// ClusterInfo is what a test may check of a cluster. TEST-ONLY.
type ClusterInfo struct {
	ID, Name string
	State    types.ClusterState
	Tags     map[string]string
	Created  time.Time
	// Ended is when the cluster began terminating (or ended at once); zero while it runs.
	Ended time.Time
}

// Clusters describes every cluster, oldest first, without advancing them. TEST-ONLY.
func (s *Server) Clusters() []ClusterInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ClusterInfo, 0, len(s.order))
	for _, id := range s.order {
		c := s.clusters[id]
		tags := map[string]string{}
		for _, t := range c.tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		out = append(out, ClusterInfo{ID: c.id, Name: c.name, State: c.state, Tags: tags, Created: c.created, Ended: c.ended})
	}
	return out
}

// AddCluster creates a long-running cluster, WAITING for steps and kept alive when it has
// none, as an existing cluster a pipeline names by cluster_id. TEST-ONLY.
func (s *Server) AddCluster(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newCluster(name, "", true)
	c.state = types.ClusterStateWaiting
	return c.id
}

func (s *Server) newCluster(name, subnet string, keepAlive bool) *cluster {
	s.seq++
	c := &cluster{
		id: fmt.Sprintf("j-FAKE%08d", s.seq), name: name, subnet: subnet, keepAlive: keepAlive,
		state: types.ClusterStateStarting, created: s.now(),
	}
	s.clusters[c.id] = c
	s.order = append(s.order, c.id)
	return c
}

// apiError is an error answer: HTTP 400 with the awsJson error shape.
type apiError struct{ code, msg string }

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) error {
	return &apiError{code: CodeValidation, msg: fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) error {
	return &apiError{code: CodeInvalidRequest, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "ElasticMapReduce."
	target := r.Header.Get("X-Amz-Target")
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, &apiError{code: "SerializationException", msg: err.Error()})
		return
	}
	op := strings.TrimPrefix(target, prefix)
	var handlerErr error
	var out smithy.Serializable
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		handlerErr = &apiError{code: "UnknownOperationException", msg: fmt.Sprintf("%s %s: EMR takes POST /", r.Method, r.URL.Path)}
	case !strings.HasPrefix(target, prefix):
		handlerErr = &apiError{code: "UnknownOperationException", msg: fmt.Sprintf("X-Amz-Target %q is not an EMR operation", target)}
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		handlerErr = &apiError{code: "SerializationException", msg: fmt.Sprintf("Content-Type %q, want application/x-amz-json-1.1", r.Header.Get("Content-Type"))}
	case !signed(r):
		handlerErr = &apiError{code: "MissingAuthenticationTokenException", msg: "request is not signed with AWS Signature Version 4 for elasticmapreduce"}
	default:
		out, handlerErr = s.dispatch(op, body)
	}
	var ae *apiError
	code := ""
	if errors.As(handlerErr, &ae) {
		code = ae.code
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Op: op, Body: json.RawMessage(slices.Clone(body)), Err: code})
	s.mu.Unlock()
	if handlerErr != nil {
		if ae == nil {
			ae = &apiError{code: "InternalServerError", msg: handlerErr.Error()}
			writeError(w, http.StatusInternalServerError, ae)
			return
		}
		writeError(w, http.StatusBadRequest, ae)
		return
	}
	raw, err := encode(out)
	if err != nil {
		writeError(w, http.StatusInternalServerError, &apiError{code: "InternalServerError", msg: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(raw)
}

// signed checks that the request carries a SigV4 Authorization header for the EMR service
// (elasticmapreduce). The signature itself is not verified: the fake has no secret to check it
// with, and the point is that the request went through the SDK's signer.
func signed(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return strings.HasPrefix(a, "AWS4-HMAC-SHA256 ") && strings.Contains(a, "/elasticmapreduce/aws4_request") &&
		r.Header.Get("X-Amz-Date") != ""
}

func writeError(w http.ResponseWriter, status int, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(status)
	raw, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.msg})
	_, _ = w.Write(raw)
}

// encode serialises an SDK output shape with the SDK's awsJson 1.1 codec, so the client reads
// exactly what it would read from EMR.
func encode(v smithy.Serializable) ([]byte, error) {
	req, ok := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	if !ok {
		return nil, errors.New("smithy-go: unexpected request type")
	}
	// The operation schema only supplies the target header here; any operation with an input
	// will do.
	op := smithy.NewOperationSchema(schemas.DescribeCluster, schemas.DescribeClusterInput, schemas.DescribeClusterOutput)
	if err := awsjson.New11(schemas.ElasticMapReduce).SerializeRequest(context.Background(), op, v, req); err != nil {
		return nil, fmt.Errorf("encoding the response: %w", err)
	}
	raw, err := io.ReadAll(req.GetStream())
	if err != nil {
		return nil, fmt.Errorf("encoding the response: %w", err)
	}
	return raw, nil
}

// decodeStrict decodes a request body into an SDK input shape. Go field names equal EMR's member
// names, and unknown members are refused, so a member the SDK names differently on the wire
// than the fake expects shows up as an error.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return &apiError{code: "SerializationException", msg: fmt.Sprintf("decoding the request: %v", err)}
	}
	return nil
}

func (s *Server) dispatch(op string, body []byte) (smithy.Serializable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case OpRunJobFlow:
		var in awsemr.RunJobFlowInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.runJobFlow(&in)
	case OpDescribeCluster:
		var in awsemr.DescribeClusterInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.describeCluster(&in)
	case OpListClusters:
		var in awsemr.ListClustersInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.listClusters(&in)
	case OpAddJobFlowSteps:
		var in awsemr.AddJobFlowStepsInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.addJobFlowSteps(&in)
	case OpListSteps:
		var in awsemr.ListStepsInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.listSteps(&in)
	case OpDescribeStep:
		var in awsemr.DescribeStepInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.describeStep(&in)
	case OpCancelSteps:
		var in awsemr.CancelStepsInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.cancelSteps(&in)
	case OpListInstances:
		var in awsemr.ListInstancesInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.listInstances(&in)
	case OpTerminateJobFlows:
		var in awsemr.TerminateJobFlowsInput
		if err := decodeStrict(body, &in); err != nil {
			return nil, err
		}
		return s.terminateJobFlows(&in)
	default:
		return nil, &apiError{code: "UnknownOperationException", msg: fmt.Sprintf("operation %q is not served by fakeemr", op)}
	}
}

var (
	subnetRE  = regexp.MustCompile(`^subnet-[0-9A-Za-z]+$`)
	clusterRE = regexp.MustCompile(`^j-[0-9A-Z]+$`)
)

func (s *Server) runJobFlow(in *awsemr.RunJobFlowInput) (smithy.Serializable, error) {
	switch {
	case aws.ToString(in.Name) == "":
		return nil, validation("Name is required")
	case len(aws.ToString(in.Name)) > 256:
		return nil, validation("Name is longer than 256 characters")
	case aws.ToString(in.ReleaseLabel) == "" && aws.ToString(in.AmiVersion) == "":
		return nil, validation("ReleaseLabel is required")
	case aws.ToString(in.ServiceRole) == "":
		return nil, validation("ServiceRole is required")
	case aws.ToString(in.JobFlowRole) == "":
		return nil, validation("JobFlowRole is required")
	case in.Instances == nil:
		return nil, validation("Instances is required")
	}
	if err := validateInstances(in.Instances); err != nil {
		return nil, err
	}
	if p := in.AutoTerminationPolicy; p != nil && p.IdleTimeout != nil {
		if t := *p.IdleTimeout; t < 60 || t > 604800 {
			return nil, validation("AutoTerminationPolicy.IdleTimeout %d is outside 60..604800 seconds", t)
		}
	}
	for i, tag := range in.Tags {
		if aws.ToString(tag.Key) == "" {
			return nil, validation("Tags[%d].Key is required", i)
		}
	}
	for i := range in.Steps {
		if err := validateStep(fmt.Sprintf("Steps[%d]", i), &in.Steps[i]); err != nil {
			return nil, err
		}
	}
	subnet := aws.ToString(in.Instances.Ec2SubnetId)
	failure, noCapacity := s.cfg.CapacityFailures[subnet]
	if noCapacity && failure == FailAtRunJobFlow {
		return nil, validation("The requested instance type %s is not available in the Availability Zone of subnet %s: "+
			"EC2 returned InsufficientInstanceCapacity", masterType(in.Instances), subnet)
	}
	c := s.newCluster(aws.ToString(in.Name), subnet, aws.ToBool(in.Instances.KeepJobFlowAliveWhenNoSteps))
	c.failCapacity = noCapacity
	c.tags = in.Tags
	c.groups = in.Instances.InstanceGroups
	for i := range in.Steps {
		c.steps = append(c.steps, s.newStep(&in.Steps[i]))
	}
	return &awsemr.RunJobFlowOutput{
		JobFlowId:  aws.String(c.id),
		ClusterArn: aws.String("arn:aws:elasticmapreduce:us-east-1:000000000000:cluster/" + c.id),
	}, nil
}

func masterType(inst *types.JobFlowInstancesConfig) string {
	for _, g := range inst.InstanceGroups {
		if g.InstanceRole == types.InstanceRoleTypeMaster {
			return aws.ToString(g.InstanceType)
		}
	}
	return aws.ToString(inst.MasterInstanceType)
}

func validateInstances(inst *types.JobFlowInstancesConfig) error {
	if sub := aws.ToString(inst.Ec2SubnetId); sub != "" && !subnetRE.MatchString(sub) {
		return validation("Instances.Ec2SubnetId %q is not a subnet id", sub)
	}
	if len(inst.InstanceGroups) == 0 {
		return validation("Instances.InstanceGroups is required (fakeemr serves instance groups only)")
	}
	roles := map[types.InstanceRoleType]int{}
	for i, g := range inst.InstanceGroups {
		p := fmt.Sprintf("Instances.InstanceGroups[%d]", i)
		switch {
		case !slices.Contains(types.InstanceRoleType("").Values(), g.InstanceRole):
			return validation("%s.InstanceRole %q is not one of %v", p, g.InstanceRole, types.InstanceRoleType("").Values())
		case aws.ToString(g.InstanceType) == "":
			return validation("%s.InstanceType is required", p)
		case aws.ToInt32(g.InstanceCount) < 1:
			return validation("%s.InstanceCount must be at least 1", p)
		case g.Market != "" && !slices.Contains(types.MarketType("").Values(), g.Market):
			return validation("%s.Market %q is not one of %v", p, g.Market, types.MarketType("").Values())
		case g.BidPrice != nil && g.Market != types.MarketTypeSpot:
			return validation("%s.BidPrice is only allowed with Market SPOT", p)
		}
		roles[g.InstanceRole]++
	}
	if roles[types.InstanceRoleTypeMaster] != 1 {
		return validation("Instances.InstanceGroups needs exactly one MASTER group, found %d", roles[types.InstanceRoleTypeMaster])
	}
	if roles[types.InstanceRoleTypeCore] > 1 || roles[types.InstanceRoleTypeTask] > 1 {
		return validation("Instances.InstanceGroups has more than one CORE or TASK group")
	}
	return nil
}

func validateStep(p string, st *types.StepConfig) error {
	switch {
	case aws.ToString(st.Name) == "":
		return validation("%s.Name is required", p)
	case st.HadoopJarStep == nil:
		return validation("%s.HadoopJarStep is required", p)
	case aws.ToString(st.HadoopJarStep.Jar) == "":
		return validation("%s.HadoopJarStep.Jar is required", p)
	case st.ActionOnFailure != "" && !slices.Contains(types.ActionOnFailure("").Values(), st.ActionOnFailure):
		return validation("%s.ActionOnFailure %q is not one of %v", p, st.ActionOnFailure, types.ActionOnFailure("").Values())
	case aws.ToString(st.HadoopJarStep.Jar) == "command-runner.jar" && len(st.HadoopJarStep.Args) == 0:
		return validation("%s.HadoopJarStep.Args is required with command-runner.jar: the command to run", p)
	}
	for i, a := range st.HadoopJarStep.Args {
		if a == "" {
			return validation("%s.HadoopJarStep.Args[%d] is empty", p, i)
		}
	}
	return nil
}

func (s *Server) newStep(cfg *types.StepConfig) *step {
	s.seq++
	st := &step{
		id: fmt.Sprintf("s-FAKE%08d", s.seq), name: aws.ToString(cfg.Name), action: cfg.ActionOnFailure,
		jar: *cfg.HadoopJarStep, state: types.StepStatePending, created: s.now(),
	}
	if st.action == "" {
		st.action = types.ActionOnFailureTerminateCluster // EMR's default for RunJobFlow and AddJobFlowSteps
	}
	return st
}

func (s *Server) cluster(id string) (*cluster, error) {
	if id == "" {
		return nil, validation("ClusterId is required")
	}
	c, ok := s.clusters[id]
	if !ok {
		return nil, invalidRequest("Cluster id '%s' is not valid.", id)
	}
	return c, nil
}

func terminal(state types.ClusterState) bool {
	return state == types.ClusterStateTerminated || state == types.ClusterStateTerminatedWithErrors
}

func stepDone(state types.StepState) bool {
	switch state {
	case types.StepStateCompleted, types.StepStateFailed, types.StepStateCancelled, types.StepStateInterrupted:
		return true
	}
	return false
}

// tick advances a cluster and its steps by one DescribeCluster call.
func (s *Server) tick(c *cluster) {
	c.ticks++
	startup := max(s.cfg.StartupTicks, 1)
	switch c.state {
	case types.ClusterStateStarting:
		if c.ticks < startup {
			return
		}
		if c.failCapacity {
			s.endCluster(c, types.ClusterStateTerminatedWithErrors, types.ClusterStateChangeReasonCodeInternalError,
				"Failed to provision instances due to insufficient capacity in the Availability Zone of subnet "+c.subnet+
					" (EC2 InsufficientInstanceCapacity).")
			c.errorDetails = []types.ErrorDetail{{
				ErrorCode:    aws.String("INTERNAL_ERROR_EC2_INSUFFICIENT_CAPACITY_AZ"),
				ErrorMessage: aws.String("The requested instance type is out of capacity in the Availability Zone of subnet " + c.subnet),
				ErrorData:    []map[string]string{{"subnet": c.subnet}},
			}}
			return
		}
		c.state, c.ticks = types.ClusterStateBootstrapping, 0
	case types.ClusterStateBootstrapping:
		if c.ticks >= startup {
			c.state, c.ticks = types.ClusterStateRunning, 0
		}
	case types.ClusterStateTerminating:
		c.state, c.ticks = c.finalState(), 0
	case types.ClusterStateRunning, types.ClusterStateWaiting:
		s.runSteps(c)
	}
}

// finalState is TERMINATED_WITH_ERRORS when the reason is an error.
func (c *cluster) finalState() types.ClusterState {
	if c.reason != nil {
		switch c.reason.Code {
		case types.ClusterStateChangeReasonCodeUserRequest, types.ClusterStateChangeReasonCodeAllStepsCompleted:
			return types.ClusterStateTerminated
		}
	}
	return types.ClusterStateTerminatedWithErrors
}

// firstOpen is the first unfinished step, or nil.
func (c *cluster) firstOpen() *step {
	for _, st := range c.steps {
		if !stepDone(st.state) {
			return st
		}
	}
	return nil
}

// runSteps advances the first unfinished step (steps run one at a time, in order). A cluster
// without unfinished steps waits when kept alive and terminates otherwise, as EMR does.
func (s *Server) runSteps(c *cluster) {
	if cur := c.firstOpen(); cur != nil {
		c.state = types.ClusterStateRunning
		s.advanceStep(c, cur)
	}
	if c.state != types.ClusterStateRunning && c.state != types.ClusterStateWaiting {
		return // the step's failure began the termination
	}
	if c.firstOpen() == nil {
		if c.keepAlive {
			c.state = types.ClusterStateWaiting
			return
		}
		s.beginTermination(c, types.ClusterStateChangeReasonCodeAllStepsCompleted, "Steps completed")
	}
}

func (s *Server) advanceStep(c *cluster, cur *step) {
	switch cur.state {
	case types.StepStatePending:
		cur.state, cur.ticks = types.StepStateRunning, 0
	case types.StepStateCancelPending:
		cur.state = types.StepStateCancelled
	case types.StepStateRunning:
		cur.ticks++
		want, ok := s.cfg.StepTicks[cur.name]
		if !ok {
			want = max(s.cfg.DefaultStepTicks, 1)
		}
		if want < 0 || cur.ticks < want {
			return
		}
		fd, fails := s.cfg.FailingSteps[cur.name]
		if !fails {
			cur.state = types.StepStateCompleted
			return
		}
		cur.state, cur.failure = types.StepStateFailed, &fd
		switch cur.action {
		case types.ActionOnFailureTerminateCluster, types.ActionOnFailureTerminateJobFlow:
			s.cancelRest(c, "Cancelled: an earlier step failed and its action on failure terminates the cluster")
			s.beginTermination(c, types.ClusterStateChangeReasonCodeStepFailure, "Shut down as step failed")
		case types.ActionOnFailureCancelAndWait:
			s.cancelRest(c, "Cancelled: an earlier step failed with action on failure CANCEL_AND_WAIT")
		}
	}
}

func (s *Server) cancelRest(c *cluster, why string) {
	for _, st := range c.steps {
		if !stepDone(st.state) {
			st.state, st.cancelReason = types.StepStateCancelled, why
		}
	}
}

func (s *Server) beginTermination(c *cluster, code types.ClusterStateChangeReasonCode, msg string) {
	c.state, c.ticks, c.ended = types.ClusterStateTerminating, 0, s.now()
	c.reason = &types.ClusterStateChangeReason{Code: code, Message: aws.String(msg)}
	s.cancelRest(c, "Cancelled: the cluster terminated")
}

func (s *Server) endCluster(c *cluster, state types.ClusterState, code types.ClusterStateChangeReasonCode, msg string) {
	c.state, c.ticks = state, 0
	if c.ended.IsZero() {
		c.ended = s.now()
	}
	c.reason = &types.ClusterStateChangeReason{Code: code, Message: aws.String(msg)}
	s.cancelRest(c, "Cancelled: the cluster terminated")
}

// listClustersPage is how many clusters one ListClusters answer holds, as in EMR.
const listClustersPage = 50

// listClusters lists clusters newest first, as EMR does, filtered by state and creation time,
// 50 to a page with a Marker; it does not advance them.
func (s *Server) listClusters(in *awsemr.ListClustersInput) (smithy.Serializable, error) {
	start := 0
	if m := aws.ToString(in.Marker); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return nil, invalidRequest("Marker %q is not one this service returned", m)
		}
		start = n
	}
	var match []*cluster
	for i := len(s.order) - 1; i >= 0; i-- {
		c := s.clusters[s.order[i]]
		if len(in.ClusterStates) > 0 && !slices.Contains(in.ClusterStates, c.state) {
			continue
		}
		if in.CreatedAfter != nil && c.created.Before(*in.CreatedAfter) {
			continue
		}
		if in.CreatedBefore != nil && c.created.After(*in.CreatedBefore) {
			continue
		}
		match = append(match, c)
	}
	out := &awsemr.ListClustersOutput{}
	for i := start; i < len(match) && i < start+listClustersPage; i++ {
		c := match[i]
		out.Clusters = append(out.Clusters, types.ClusterSummary{
			Id: aws.String(c.id), Name: aws.String(c.name),
			Status: &types.ClusterStatus{State: c.state, StateChangeReason: c.reason,
				Timeline: &types.ClusterTimeline{CreationDateTime: aws.Time(c.created)}},
		})
	}
	if start+listClustersPage < len(match) {
		out.Marker = aws.String(strconv.Itoa(start + listClustersPage))
	}
	return out, nil
}

func (s *Server) describeCluster(in *awsemr.DescribeClusterInput) (smithy.Serializable, error) {
	c, err := s.cluster(aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	s.tick(c)
	out := &types.Cluster{
		Id: aws.String(c.id), Name: aws.String(c.name), Tags: c.tags,
		Status: &types.ClusterStatus{
			State: c.state, StateChangeReason: c.reason, ErrorDetails: c.errorDetails,
			Timeline: &types.ClusterTimeline{CreationDateTime: aws.Time(c.created)},
		},
		AutoTerminate:           aws.Bool(!c.keepAlive),
		NormalizedInstanceHours: aws.Int32(s.normalizedInstanceHours(c)),
	}
	if !c.ended.IsZero() && terminal(c.state) {
		out.Status.Timeline.EndDateTime = aws.Time(c.ended)
	}
	if c.subnet != "" {
		out.Ec2InstanceAttributes = &types.Ec2InstanceAttributes{Ec2SubnetId: aws.String(c.subnet)}
	}
	if out.Status.StateChangeReason == nil {
		out.Status.StateChangeReason = &types.ClusterStateChangeReason{}
	}
	return &awsemr.DescribeClusterOutput{Cluster: out}, nil
}

func (s *Server) addJobFlowSteps(in *awsemr.AddJobFlowStepsInput) (smithy.Serializable, error) {
	id := aws.ToString(in.JobFlowId)
	if id == "" {
		return nil, validation("JobFlowId is required")
	}
	c, ok := s.clusters[id]
	if !ok {
		return nil, validation("Specified job flow ID does not exist: %s", id)
	}
	if terminal(c.state) || c.state == types.ClusterStateTerminating {
		return nil, validation("A job flow that is shutting down, terminated, or finished may not be modified.")
	}
	if len(in.Steps) == 0 {
		return nil, validation("Steps is required")
	}
	for i := range in.Steps {
		if err := validateStep(fmt.Sprintf("Steps[%d]", i), &in.Steps[i]); err != nil {
			return nil, err
		}
	}
	out := &awsemr.AddJobFlowStepsOutput{}
	for i := range in.Steps {
		st := s.newStep(&in.Steps[i])
		c.steps = append(c.steps, st)
		out.StepIds = append(out.StepIds, st.id)
	}
	return out, nil
}

// listPage is how many steps ListSteps returns per page, as EMR does.
const listPage = 50

func (st *step) status() *types.StepStatus {
	ss := &types.StepStatus{State: st.state, FailureDetails: st.failure, Timeline: &types.StepTimeline{CreationDateTime: aws.Time(st.created)}}
	if st.cancelReason != "" {
		ss.StateChangeReason = &types.StepStateChangeReason{Message: aws.String(st.cancelReason)}
	}
	return ss
}

func (s *Server) listSteps(in *awsemr.ListStepsInput) (smithy.Serializable, error) {
	c, err := s.cluster(aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	var match []*step
	// EMR lists the newest step first.
	for i := len(c.steps) - 1; i >= 0; i-- {
		st := c.steps[i]
		if len(in.StepIds) > 0 && !slices.Contains(in.StepIds, st.id) {
			continue
		}
		if len(in.StepStates) > 0 && !slices.Contains(in.StepStates, st.state) {
			continue
		}
		match = append(match, st)
	}
	start := 0
	if m := aws.ToString(in.Marker); m != "" {
		if _, err := fmt.Sscanf(m, "page-%d", &start); err != nil || start < 0 || start > len(match) {
			return nil, invalidRequest("Marker %q is not valid", m)
		}
	}
	end := min(start+listPage, len(match))
	out := &awsemr.ListStepsOutput{}
	for _, st := range match[start:end] {
		out.Steps = append(out.Steps, types.StepSummary{
			Id: aws.String(st.id), Name: aws.String(st.name), ActionOnFailure: st.action, Status: st.status(),
			Config: &types.HadoopStepConfig{Jar: st.jar.Jar, Args: st.jar.Args, MainClass: st.jar.MainClass},
		})
	}
	if end < len(match) {
		out.Marker = aws.String(fmt.Sprintf("page-%d", end))
	}
	return out, nil
}

func (s *Server) findStep(clusterID, stepID string) (*step, error) {
	c, err := s.cluster(clusterID)
	if err != nil {
		return nil, err
	}
	if stepID == "" {
		return nil, validation("StepId is required")
	}
	for _, st := range c.steps {
		if st.id == stepID {
			return st, nil
		}
	}
	return nil, invalidRequest("Step id '%s' is not valid for cluster %s.", stepID, clusterID)
}

func (s *Server) describeStep(in *awsemr.DescribeStepInput) (smithy.Serializable, error) {
	st, err := s.findStep(aws.ToString(in.ClusterId), aws.ToString(in.StepId))
	if err != nil {
		return nil, err
	}
	return &awsemr.DescribeStepOutput{Step: &types.Step{
		Id: aws.String(st.id), Name: aws.String(st.name), ActionOnFailure: st.action, Status: st.status(),
		Config: &types.HadoopStepConfig{Jar: st.jar.Jar, Args: st.jar.Args, MainClass: st.jar.MainClass},
	}}, nil
}

func (s *Server) cancelSteps(in *awsemr.CancelStepsInput) (smithy.Serializable, error) {
	if len(in.StepIds) == 0 {
		return nil, validation("StepIds is required")
	}
	out := &awsemr.CancelStepsOutput{}
	for _, id := range in.StepIds {
		st, err := s.findStep(aws.ToString(in.ClusterId), id)
		if err != nil {
			return nil, err
		}
		info := types.CancelStepsInfo{StepId: aws.String(id), Status: types.CancelStepsRequestStatusSubmitted}
		switch st.state {
		case types.StepStatePending:
			st.state, st.cancelReason = types.StepStateCancelled, "Cancelled by user request"
		case types.StepStateRunning:
			st.state, st.cancelReason = types.StepStateCancelPending, "Cancelled by user request"
		default:
			info.Status, info.Reason = types.CancelStepsRequestStatusFailed, aws.String("step is "+string(st.state))
		}
		out.CancelStepsInfoList = append(out.CancelStepsInfoList, info)
	}
	return out, nil
}

func (s *Server) terminateJobFlows(in *awsemr.TerminateJobFlowsInput) (smithy.Serializable, error) {
	if len(in.JobFlowIds) == 0 {
		return nil, validation("JobFlowIds is required")
	}
	for _, id := range in.JobFlowIds {
		if !clusterRE.MatchString(id) {
			return nil, validation("%q is not a cluster id", id)
		}
		if _, ok := s.clusters[id]; !ok {
			return nil, validation("Specified job flow ID does not exist: %s", id)
		}
	}
	for _, id := range in.JobFlowIds {
		c := s.clusters[id]
		if terminal(c.state) || c.state == types.ClusterStateTerminating {
			continue // terminating a terminated cluster is a no-op, as in EMR
		}
		s.beginTermination(c, types.ClusterStateChangeReasonCodeUserRequest, "Terminated by user request")
	}
	return &awsemr.TerminateJobFlowsOutput{}, nil
}

// now is the fake's clock.
func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// normalizationFactor is EMR's normalized instance hours per hour of an instance of a size
// (small 1, medium 2, large 4, xlarge 8, then doubling: 2xlarge 16, 4xlarge 32, ...).
func normalizationFactor(instanceType string) int32 {
	_, size, _ := strings.Cut(instanceType, ".")
	switch size {
	case "nano", "micro", "small":
		return 1
	case "medium":
		return 2
	case "large":
		return 4
	case "xlarge":
		return 8
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge")); err == nil && n > 0 {
		return 8 * int32(n)
	}
	return 8
}

// instanceEnd is when the cluster's instances stopped: when it began terminating, else now.
func (s *Server) instanceEnd(c *cluster) time.Time {
	if !c.ended.IsZero() {
		return c.ended
	}
	return s.now()
}

// normalizedInstanceHours is EMR's usage figure: every instance's hours, each begun hour counted
// whole, times its size's normalization factor.
func (s *Server) normalizedInstanceHours(c *cluster) int32 {
	hours := int32(s.instanceEnd(c).Sub(c.created).Hours())
	if s.instanceEnd(c).Sub(c.created) > time.Duration(hours)*time.Hour {
		hours++
	}
	var sum int32
	for _, g := range c.groups {
		sum += aws.ToInt32(g.InstanceCount) * normalizationFactor(aws.ToString(g.InstanceType)) * hours
	}
	return sum
}

// listInstances lists a cluster's instances, one per counted instance of each group, all started
// with the cluster and ended when it began terminating; it does not advance the cluster.
func (s *Server) listInstances(in *awsemr.ListInstancesInput) (smithy.Serializable, error) {
	c, err := s.cluster(aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	if aws.ToString(in.Marker) != "" {
		return nil, invalidRequest("Marker %q is not one this service returned", aws.ToString(in.Marker))
	}
	out := &awsemr.ListInstancesOutput{}
	for gi, g := range c.groups {
		market := g.Market
		if market == "" {
			market = types.MarketTypeOnDemand
		}
		for n := range int(aws.ToInt32(g.InstanceCount)) {
			st := &types.InstanceStatus{State: types.InstanceStateRunning,
				Timeline: &types.InstanceTimeline{CreationDateTime: aws.Time(c.created), ReadyDateTime: aws.Time(c.created)}}
			if !c.ended.IsZero() {
				st.State = types.InstanceStateTerminated
				st.Timeline.EndDateTime = aws.Time(c.ended)
			}
			out.Instances = append(out.Instances, types.Instance{
				Id:              aws.String(fmt.Sprintf("ci-%s-%d-%d", strings.TrimPrefix(c.id, "j-"), gi, n)),
				Ec2InstanceId:   aws.String(fmt.Sprintf("i-%s%d%d", strings.ToLower(strings.TrimPrefix(c.id, "j-")), gi, n)),
				InstanceGroupId: aws.String(fmt.Sprintf("ig-%s-%d", strings.TrimPrefix(c.id, "j-"), gi)),
				InstanceType:    g.InstanceType,
				Market:          market,
				Status:          st,
			})
		}
	}
	return out, nil
}
