// Package usage records what the EMR clusters sluice-runner launched really used — EMR's
// normalized instance hours and the node-seconds of their instances, read from the EMR API after
// the runner terminates a cluster; in local mode, the steps' time on the template's nodes — and
// what that cost, priced with sluice's price table (internal/cost) next to the plan's estimate.
// It fills the cost figures of `status`, the status page and the metrics.
//
// The emr_step executor reaches it through Recorder; a failure to record is logged and never
// fails the activity: a run is not worth less because its bill could not be read.
package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsemr "github.com/aws/aws-sdk-go-v2/service/emr"
	emrtypes "github.com/aws/aws-sdk-go-v2/service/emr/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/state"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// Modes of a Launch, as the emr_step executor's modes.
const (
	ModeAWS   = "aws"
	ModeLocal = "local"
)

// Launch is one attempt's cluster: a transient EMR cluster (ClusterID) or, in local mode, the
// steps that ran in its place from Started to Ended.
type Launch struct {
	Pipeline string
	RunID    int64
	Activity string
	// Attempt is the attempt that launched the cluster (the emr_step executor fills it from its
	// task, or from the cluster's tags for a cluster a dead runner's attempt left).
	Attempt int
	// Template and ExpectedDuration are the activity's emr_step settings.
	Template         string
	ExpectedDuration string
	// ClusterID is set in aws mode.
	ClusterID string
	// Started and Ended bound the local steps (local mode).
	Started, Ended time.Time
}

// Recorder is what the emr_step executor calls after each cluster it launched has ended.
type Recorder interface {
	Record(ctx context.Context, l Launch) error
}

// ClusterAPI is the part of *emr.Client the recorder reads usage with.
type ClusterAPI interface {
	DescribeCluster(ctx context.Context, in *awsemr.DescribeClusterInput, optFns ...func(*awsemr.Options)) (*awsemr.DescribeClusterOutput, error)
	ListInstances(ctx context.Context, in *awsemr.ListInstancesInput, optFns ...func(*awsemr.Options)) (*awsemr.ListInstancesOutput, error)
}

var _ ClusterAPI = (*awsemr.Client)(nil)

// Options configure a Service.
type Options struct {
	DB *state.DB
	// EMR reads a cluster's usage (aws mode); nil: aws-mode launches are recorded without it.
	EMR ClusterAPI
	// Registry holds the EMR templates, for local mode and for the plan's estimate.
	Registry registry.Registry
	// Prices is the price table; nil means cost.Embedded().
	Prices *cost.Table
	// Region is where the clusters run, for the prices.
	Region string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service records launches in the state database and counts them for the metrics.
type Service struct {
	opts      Options
	dollars   *prometheus.CounterVec
	nodeSecs  *prometheus.CounterVec
	nih       *prometheus.CounterVec
	clusters  *prometheus.CounterVec
	unpriced  *prometheus.CounterVec
	estimated *prometheus.CounterVec
}

var _ Recorder = (*Service)(nil)

// New returns a Service.
func New(opts Options) *Service {
	if opts.Prices == nil {
		opts.Prices = cost.Embedded()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"pipeline"})
	}
	return &Service{
		opts: opts,
		dollars: counter("sluice_emr_cost_dollars_total",
			"Measured cost in US dollars of the EMR clusters the runner launched (EC2 + EMR, per second with a one-minute minimum per instance, at the runner's price table), by pipeline. Clusters with a missing price are counted in sluice_emr_clusters_unpriced_total instead."),
		estimated: counter("sluice_emr_estimated_cost_dollars_total",
			"The plan's estimate in US dollars (template × expected_duration) of the same clusters, by pipeline, to compare with sluice_emr_cost_dollars_total."),
		nodeSecs: counter("sluice_emr_node_seconds_total", "Seconds the instances of the EMR clusters the runner launched ran, summed over instances, by pipeline (local mode: the steps' time × the template's nodes)."),
		nih:      counter("sluice_emr_normalized_instance_hours_total", "EMR's normalized instance hours of the clusters the runner launched, by pipeline (aws mode)."),
		clusters: counter("sluice_emr_clusters_total", "EMR clusters the runner launched and recorded, by pipeline."),
		unpriced: counter("sluice_emr_clusters_unpriced_total", "Recorded clusters whose cost could not be priced (a price missing from the table), by pipeline."),
	}
}

// Collectors are the Service's metrics, to register with the runner's registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.dollars, s.estimated, s.nodeSecs, s.nih, s.clusters, s.unpriced}
}

// Record reads what the launch used, prices it and stores it.
func (s *Service) Record(ctx context.Context, l Launch) error {
	u := state.EMRUsage{RunID: l.RunID, Pipeline: l.Pipeline, Activity: l.Activity, Attempt: l.Attempt, Template: l.Template, ClusterID: l.ClusterID}
	var why []string
	tpl, tplErr := s.template(ctx, l.Template)
	var measured cost.Estimate
	if l.ClusterID != "" {
		u.Mode = ModeAWS
		var bids map[string]string // spot bids by instance type, priced as the plan prices them
		if tplErr == nil {
			bids = map[string]string{}
			for _, g := range cost.Groups(tpl) {
				if g.Market == definition.MarketSpot && g.BidPrice != "" {
					bids[g.InstanceType] = g.BidPrice
				}
			}
		}
		m, err := s.measure(ctx, l.ClusterID, bids)
		if err != nil {
			return fmt.Errorf("reading the usage of EMR cluster %s: %w", l.ClusterID, err)
		}
		u.Started, u.Ended, u.NodeSeconds, u.NormalizedInstanceHours = m.started, m.ended, m.nodeSeconds, m.nih
		measured = m.priced
	} else {
		u.Mode = ModeLocal
		u.Started, u.Ended = l.Started, l.Ended
		d := l.Ended.Sub(l.Started)
		if tplErr != nil {
			why = append(why, tplErr.Error())
		} else {
			groups := cost.Groups(tpl)
			n := 0
			for _, g := range groups {
				n += g.Count
			}
			u.NodeSeconds = int64(math.Round(d.Seconds())) * int64(n)
			measured = s.opts.Prices.Cluster(s.opts.Region, groups, d)
		}
	}
	if tplErr == nil || l.ClusterID != "" {
		if measured.Known() {
			u.MeasuredMicroUSD = micro(measured.USD())
		} else {
			why = append(why, "measured: "+measured.Why(s.opts.Prices))
		}
	}
	switch {
	case l.ExpectedDuration == "":
		why = append(why, fmt.Sprintf("estimate: activity %q has no emr_step.expected_duration", l.Activity))
	case tplErr != nil:
		if l.ClusterID != "" {
			why = append(why, "estimate: "+tplErr.Error())
		}
	default:
		d, err := definition.ParseDuration(l.ExpectedDuration)
		if err != nil {
			why = append(why, "estimate: expected_duration: "+err.Error())
			break
		}
		e := s.opts.Prices.Cluster(s.opts.Region, cost.Groups(tpl), d)
		if e.Known() {
			u.EstimatedMicroUSD = micro(e.USD())
		} else {
			why = append(why, "estimate: "+e.Why(s.opts.Prices))
		}
	}
	u.Unestimated = strings.Join(why, "; ")
	if err := s.opts.DB.InTx(ctx, func(q state.Q) error { return state.RecordEMRUsage(ctx, q, u) }); err != nil {
		return err
	}
	s.count(u)
	return nil
}

func (s *Service) count(u state.EMRUsage) {
	p := strings.ToValidUTF8(u.Pipeline, "\uFFFD")
	s.clusters.WithLabelValues(p).Inc()
	s.nodeSecs.WithLabelValues(p).Add(float64(u.NodeSeconds))
	if u.NormalizedInstanceHours != nil {
		s.nih.WithLabelValues(p).Add(float64(*u.NormalizedInstanceHours))
	}
	if u.MeasuredMicroUSD != nil {
		s.dollars.WithLabelValues(p).Add(dollars(*u.MeasuredMicroUSD))
	} else {
		s.unpriced.WithLabelValues(p).Inc()
	}
	if u.EstimatedMicroUSD != nil {
		s.estimated.WithLabelValues(p).Add(dollars(*u.EstimatedMicroUSD))
	}
}

// template reads an EMR template from the registry.
func (s *Service) template(ctx context.Context, name string) (*definition.EMRTemplate, error) {
	if name == "" {
		return nil, errors.New("the activity names no template")
	}
	if s.opts.Registry == nil {
		return nil, fmt.Errorf("EMR template %q: the runner has no registry to read it from", name)
	}
	data, err := s.opts.Registry.Get(ctx, registry.EMRTemplateKey(name))
	if err != nil {
		return nil, fmt.Errorf("EMR template %q in registry %s: %w", name, s.opts.Registry.URL(), err)
	}
	tpl, err := definition.DecodeEMRTemplate(data)
	if err != nil && !errors.Is(err, definition.ErrVersionMismatch) {
		return nil, fmt.Errorf("EMR template %q in registry %s: %w", name, s.opts.Registry.URL(), err)
	}
	return tpl, nil
}

type measurement struct {
	started, ended time.Time
	nodeSeconds    int64
	nih            *int64
	priced         cost.Estimate
}

// measure reads a cluster's usage: EMR's normalized instance hours (DescribeCluster) and every
// instance's run time (ListInstances), each priced per second with a one-minute minimum at its
// type's EC2 on-demand + EMR price. An instance still shutting down counts until now. Spot
// instances are priced at their template group's bid, else at the on-demand price: the most they
// can have cost, as the plan's estimate counts them.
func (s *Service) measure(ctx context.Context, id string, bids map[string]string) (*measurement, error) {
	if s.opts.EMR == nil {
		return nil, errors.New("the runner has no EMR client")
	}
	dc, err := s.opts.EMR.DescribeCluster(ctx, &awsemr.DescribeClusterInput{ClusterId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("DescribeCluster: %w", err)
	}
	now := s.opts.Now()
	m := &measurement{ended: now}
	if c := dc.Cluster; c != nil {
		if c.NormalizedInstanceHours != nil {
			n := int64(*c.NormalizedInstanceHours)
			m.nih = &n
		}
		if c.Status != nil && c.Status.Timeline != nil {
			m.started = aws.ToTime(c.Status.Timeline.CreationDateTime)
			if end := c.Status.Timeline.EndDateTime; end != nil {
				m.ended = *end
			}
		}
	}
	in := &awsemr.ListInstancesInput{ClusterId: aws.String(id)}
	p := awsemr.NewListInstancesPaginator(s.opts.EMR, in)
	type key struct{ typ, market string }
	perType := map[key]float64{} // billed seconds
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListInstances: %w", err)
		}
		for _, inst := range page.Instances {
			if inst.Status == nil || inst.Status.Timeline == nil || inst.Status.Timeline.CreationDateTime == nil {
				continue // never started: not billed
			}
			start := *inst.Status.Timeline.CreationDateTime
			end := now
			if e := inst.Status.Timeline.EndDateTime; e != nil {
				end = *e
			}
			secs := max(end.Sub(start).Seconds(), 0)
			m.nodeSeconds += int64(math.Round(secs))
			perType[key{aws.ToString(inst.InstanceType), string(inst.Market)}] += max(secs, cost.EMRMinimumBilled.Seconds())
		}
	}
	keys := make([]key, 0, len(perType))
	for k := range perType {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].typ+keys[i].market < keys[j].typ+keys[j].market })
	for _, k := range keys {
		// One "instance" running for the summed billed seconds costs the same as the instances.
		secs := time.Duration(perType[k] * float64(time.Second))
		g := cost.Group{Role: "instances", InstanceType: k.typ, Count: 1}
		if k.market == string(emrtypes.MarketTypeSpot) {
			g.Market, g.BidPrice = definition.MarketSpot, bids[k.typ]
		}
		m.priced.Add(s.opts.Prices.Cluster(s.opts.Region, []cost.Group{g}, secs))
	}
	return m, nil
}

func micro(usd float64) *int64 {
	v := int64(math.Round(usd * 1e6))
	return &v
}

func dollars(micro int64) float64 { return float64(micro) / 1e6 }

func usdPtr(micro *int64) *float64 {
	if micro == nil {
		return nil
	}
	v := cost.Round(dollars(*micro))
	return &v
}

// Days is how many days of cost Annotate shows per pipeline.
const Days = 7

// Annotate fills the cost figures of pipelines and their runs from the state database: each
// run's clusters (every attempt counted), and per pipeline the last Days UTC days.
func Annotate(ctx context.Context, db *state.DB, ps []status.Pipeline, now time.Time) error {
	q := db.Reader()
	for i := range ps {
		p := &ps[i]
		var ids []int64
		for _, r := range p.Runs {
			ids = append(ids, r.ID)
		}
		if p.LastRun != nil {
			ids = append(ids, p.LastRun.ID)
		}
		byRun, err := state.EMRUsageOfRuns(ctx, q, p.Name, ids)
		if err != nil {
			return err
		}
		for j := range p.Runs {
			p.Runs[j].Cost = runCost(byRun[p.Runs[j].ID])
		}
		if p.LastRun != nil {
			p.LastRun.Cost = runCost(byRun[p.LastRun.ID])
		}
		day0 := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(Days - 1))
		rows, err := state.EMRUsageSince(ctx, q, p.Name, day0)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			continue
		}
		p.Cost = pipelineCost(rows)
	}
	return nil
}

func runCost(rows []state.EMRUsage) *status.RunCost {
	if len(rows) == 0 {
		return nil
	}
	rc := &status.RunCost{Clusters: len(rows)}
	var measured, nih int64
	measuredOK, estOK, hasNIH := true, true, false
	estimate := map[string]int64{} // per activity: every attempt estimates the same
	var why []string
	for _, u := range rows {
		rc.NodeSeconds += u.NodeSeconds
		if u.NormalizedInstanceHours != nil {
			nih += *u.NormalizedInstanceHours
			hasNIH = true
		}
		if u.MeasuredMicroUSD != nil {
			measured += *u.MeasuredMicroUSD
		} else {
			measuredOK = false
		}
		if u.EstimatedMicroUSD != nil {
			estimate[u.Activity] = *u.EstimatedMicroUSD
		} else {
			estOK = false
		}
		if u.Unestimated != "" {
			why = append(why, u.Unestimated)
		}
	}
	if hasNIH {
		rc.NormalizedInstanceHours = &nih
	}
	if measuredOK {
		rc.USD = usdPtr(&measured)
	}
	if estOK {
		var sum int64
		for _, v := range estimate {
			sum += v
		}
		rc.EstimatedUSD = usdPtr(&sum)
	}
	rc.Unestimated = strings.Join(dedupe(why), "; ")
	return rc
}

func pipelineCost(rows []state.EMRUsage) *status.PipelineCost {
	type agg struct {
		runs        map[int64]bool
		clusters    int
		micro       int64
		known       bool
		nodeSeconds int64
	}
	days := map[string]*agg{}
	var newestRun int64
	for _, u := range rows {
		d := u.Ended.UTC().Format(time.DateOnly)
		a := days[d]
		if a == nil {
			a = &agg{runs: map[int64]bool{}, known: true}
			days[d] = a
		}
		a.runs[u.RunID] = true
		a.clusters++
		a.nodeSeconds += u.NodeSeconds
		if u.MeasuredMicroUSD != nil {
			a.micro += *u.MeasuredMicroUSD
		} else {
			a.known = false
		}
		newestRun = max(newestRun, u.RunID)
	}
	pc := &status.PipelineCost{}
	var newest []state.EMRUsage
	for _, u := range rows {
		if u.RunID == newestRun {
			newest = append(newest, u)
		}
	}
	if rc := runCost(newest); rc != nil {
		pc.EstimatedPerRun = rc.EstimatedUSD
	}
	names := make([]string, 0, len(days))
	for d := range days {
		names = append(names, d)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, d := range names {
		a := days[d]
		dc := status.DayCost{Day: d, Runs: len(a.runs), Clusters: a.clusters, NodeSeconds: a.nodeSeconds}
		if a.known {
			dc.USD = usdPtr(&a.micro)
		}
		pc.Days = append(pc.Days, dc)
	}
	return pc
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
