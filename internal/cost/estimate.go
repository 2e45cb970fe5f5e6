package cost

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// HoursPerMonth is the month AWS's pricing calculator bills: 730 hours (365 days × 24 / 12).
const HoursPerMonth = 730

// Billing quanta.
const (
	// PutPayloadUnitBytes is the size of one PUT payload unit: a record is billed in 25 KiB chunks.
	PutPayloadUnitBytes = 25 * 1024
	// onDemandRoundBytes: on-demand data is billed per record rounded up to the next KiB.
	onDemandRoundBytes = 1024
	bytesPerGB         = 1 << 30
	// EMRMinimumBilled is EMR's (and EC2's) minimum charge per instance: one minute.
	EMRMinimumBilled = time.Minute
	// freeRetentionHours is what a stream keeps at no extra charge; extendedRetentionHours is
	// where extended retention ends and long-term retention begins (7 days).
	freeRetentionHours     = 24
	extendedRetentionHours = 168
)

// Capacity modes of a stream, as Kinesis spells them.
const (
	ModeProvisioned = "PROVISIONED"
	ModeOnDemand    = "ON_DEMAND"
)

// Line is one part of an estimate: a quantity of an item at its price.
type Line struct {
	What     string  `json:"what"`
	Quantity float64 `json:"quantity"`
	Unit     string  `json:"unit"`
	// Price is the entry used; for a spot group counted at its bid, Source says so.
	Price Price   `json:"price"`
	USD   float64 `json:"usd"`
}

// Estimate is a cost in US dollars made of lines, or unknown: Missing lists the prices the table
// lacks and Unestimated the inputs that are missing, each as a sentence for a warning.
type Estimate struct {
	Lines       []Line   `json:"lines,omitempty"`
	Missing     []Key    `json:"missing,omitempty"`
	Unestimated []string `json:"unestimated,omitempty"`
}

// Known reports whether every price and input the estimate needs was there.
func (e Estimate) Known() bool { return len(e.Missing) == 0 && len(e.Unestimated) == 0 }

// USD is the sum of the lines; meaningful only when Known.
func (e Estimate) USD() float64 {
	var sum float64
	for _, l := range e.Lines {
		sum += l.USD
	}
	return sum
}

// Why says why the estimate is unknown, in sentences; "" when it is known.
func (e Estimate) Why(t *Table) string {
	var parts []string
	if len(e.Missing) > 0 {
		names := make([]string, len(e.Missing))
		for i, k := range e.Missing {
			names[i] = k.String()
		}
		parts = append(parts, fmt.Sprintf("the price table (%s) has no price for %s; add it to a prices file (provider attribute prices) or refresh the table with `make prices`",
			t.Sources(), strings.Join(names, ", ")))
	}
	parts = append(parts, e.Unestimated...)
	return strings.Join(parts, "; ")
}

// Add appends o's lines and gaps to e.
func (e *Estimate) Add(o Estimate) {
	e.Lines = append(e.Lines, o.Lines...)
	e.Unestimated = append(e.Unestimated, o.Unestimated...)
	for _, k := range o.Missing {
		e.missing(k)
	}
}

// Scale multiplies every line by f, e.g. a run's cost by the number of runs.
func (e Estimate) Scale(f float64, what string) Estimate {
	out := Estimate{Missing: e.Missing, Unestimated: e.Unestimated}
	for _, l := range e.Lines {
		l.Quantity *= f
		l.USD *= f
		l.What = what + ": " + l.What
		out.Lines = append(out.Lines, l)
	}
	return out
}

func (e *Estimate) missing(k Key) {
	for _, m := range e.Missing {
		if m == k {
			return
		}
	}
	e.Missing = append(e.Missing, k)
}

// charge adds quantity × the price of k, or records k as missing.
func (e *Estimate) charge(t *Table, k Key, quantity float64, what string) {
	p, ok := t.Lookup(k)
	if !ok {
		e.missing(k)
		return
	}
	e.Lines = append(e.Lines, Line{What: what, Quantity: quantity, Unit: ItemUnits[k.Item], Price: p, USD: quantity * p.USD})
}

// Round rounds dollars to a hundredth of a cent: what the provider shows, so that the plan
// never shows floating-point noise.
func Round(usd float64) float64 { return math.Round(usd*1e4) / 1e4 }

// Stream is what a Kinesis stream's cost depends on.
type Stream struct {
	// Mode is ModeProvisioned or ModeOnDemand.
	Mode string
	// Shards counts for provisioned streams.
	Shards         int
	RetentionHours int
	// RecordsPerSecond and AverageRecordBytes are the expected traffic; zero means not declared.
	RecordsPerSecond   float64
	AverageRecordBytes int64
}

func (s Stream) traffic() bool { return s.RecordsPerSecond > 0 && s.AverageRecordBytes > 0 }

// billedGBPerHour is the data written per hour as on-demand bills it (records rounded up to KiB).
func (s Stream) billedGBPerHour() float64 {
	kib := math.Ceil(float64(s.AverageRecordBytes) / onDemandRoundBytes)
	return s.RecordsPerSecond * 3600 * kib * onDemandRoundBytes / bytesPerGB
}

// StreamMonthly estimates a stream's cost for a 730-hour month.
func (t *Table) StreamMonthly(region string, s Stream) Estimate {
	return t.Stream(region, s, HoursPerMonth)
}

// Stream estimates a stream's cost over hours.
//
// Provisioned: shards × hours of shard-hours; with retention past 24 hours, as many shard-hours of
// extended retention; with declared traffic, its PUT payload units (each record in 25 KiB
// chunks, rounded up) and, past 7 days of retention, the data kept beyond 7 days in GB-months.
// On-demand: stream-hours, the GB written and read once (each record rounded up to a KiB), and
// the GB-months kept past 24 hours and past 7 days; on-demand bills data, so it needs the traffic.
func (t *Table) Stream(region string, s Stream, hours float64) Estimate {
	var e Estimate
	if region == "" {
		e.Unestimated = append(e.Unestimated, ErrNoRegion.Error())
		return e
	}
	k := func(item string) Key { return Key{Region: region, Item: item} }
	months := hours / HoursPerMonth
	ret := s.RetentionHours
	if ret < freeRetentionHours {
		ret = freeRetentionHours
	}
	gbHour := 0.0
	if s.traffic() {
		gbHour = s.billedGBPerHour()
	}
	longTermGB := gbHour * float64(max(0, ret-extendedRetentionHours)) // kept at any moment past 7 days
	switch s.Mode {
	case ModeProvisioned:
		shardHours := float64(s.Shards) * hours
		e.charge(t, k(KinesisShardHour), shardHours, fmt.Sprintf("%d shard(s) × %g hours", s.Shards, hours))
		if s.traffic() {
			units := math.Ceil(float64(s.AverageRecordBytes) / PutPayloadUnitBytes)
			million := s.RecordsPerSecond * units * 3600 * hours / 1e6
			e.charge(t, k(KinesisPutPayloadUnits), million,
				fmt.Sprintf("%g records/s × %g PUT payload unit(s) each × %g hours", s.RecordsPerSecond, units, hours))
		}
		if ret > freeRetentionHours {
			e.charge(t, k(KinesisExtendedRetentionShardHour), shardHours, fmt.Sprintf("retention past 24 hours: %d shard(s) × %g hours", s.Shards, hours))
		}
		if ret > extendedRetentionHours {
			if !s.traffic() {
				e.Unestimated = append(e.Unestimated, fmt.Sprintf("retention of %d hours keeps data past 7 days, which is billed per GB: set expected_records_per_second and average_record_bytes", ret))
			} else {
				e.charge(t, k(KinesisLongTermRetentionGBMonth), longTermGB*months, fmt.Sprintf("%.4g GB kept past 7 days for %g hours", longTermGB, hours))
			}
		}
	case ModeOnDemand:
		e.charge(t, k(KinesisOnDemandStreamHour), hours, fmt.Sprintf("1 stream × %g hours", hours))
		if !s.traffic() {
			e.Unestimated = append(e.Unestimated, "an ON_DEMAND stream is billed per GB written and read: set expected_records_per_second and average_record_bytes")
			return e
		}
		gb := gbHour * hours
		e.charge(t, k(KinesisOnDemandDataInGB), gb, fmt.Sprintf("%.4g GB written", gb))
		e.charge(t, k(KinesisOnDemandDataOutGB), gb, fmt.Sprintf("%.4g GB read (every record read once)", gb))
		if ret > freeRetentionHours {
			extGB := gbHour * float64(min(ret, extendedRetentionHours)-freeRetentionHours)
			e.charge(t, k(KinesisOnDemandExtendedRetentionGBMonth), extGB*months, fmt.Sprintf("%.4g GB kept past 24 hours for %g hours", extGB, hours))
		}
		if ret > extendedRetentionHours {
			e.charge(t, k(KinesisLongTermRetentionGBMonth), longTermGB*months, fmt.Sprintf("%.4g GB kept past 7 days for %g hours", longTermGB, hours))
		}
	default:
		e.Unestimated = append(e.Unestimated, fmt.Sprintf("stream mode %q is not %s or %s", s.Mode, ModeProvisioned, ModeOnDemand))
	}
	return e
}

// Group is one instance group of a cluster, as its cost depends on it.
type Group struct {
	Role         string // master, core or task
	InstanceType string
	Count        int
	Market       string // definition.MarketOnDemand or definition.MarketSpot
	BidPrice     string // spot bid in USD; "" is the on-demand price
}

// Groups returns a template's instance groups, master first.
func Groups(t *definition.EMRTemplate) []Group {
	var out []Group
	add := func(role string, g *definition.InstanceGroup) {
		if g != nil && g.Count > 0 {
			out = append(out, Group{Role: role, InstanceType: g.InstanceType, Count: g.Count, Market: g.Market, BidPrice: g.BidPrice})
		}
	}
	add("master", &t.InstanceGroups.Master)
	add("core", t.InstanceGroups.Core)
	add("task", t.InstanceGroups.Task)
	return out
}

// Cluster estimates a cluster of groups running for d: every instance is billed EC2's price and
// EMR's per second, with a one-minute minimum. Spot instances are counted at their bid price, or
// at the on-demand price when they have none: the most they can cost (spot prices change
// every few minutes; a table of them would be a guess).
func (t *Table) Cluster(region string, groups []Group, d time.Duration) Estimate {
	var e Estimate
	if region == "" {
		e.Unestimated = append(e.Unestimated, ErrNoRegion.Error())
		return e
	}
	if d < EMRMinimumBilled {
		d = EMRMinimumBilled
	}
	hours := d.Hours()
	for _, g := range groups {
		n := float64(g.Count)
		what := fmt.Sprintf("%s: %d × %s for %s", g.Role, g.Count, g.InstanceType, d)
		ec2 := Key{Region: region, Item: EC2InstanceHour, InstanceType: g.InstanceType}
		if g.Market == definition.MarketSpot && g.BidPrice != "" {
			bid, err := strconv.ParseFloat(g.BidPrice, 64)
			if err != nil || bid < 0 {
				e.Unestimated = append(e.Unestimated, fmt.Sprintf("%s group's bid_price %q is not a price in USD", g.Role, g.BidPrice))
			} else {
				p := Price{Region: region, Item: EC2InstanceHour, InstanceType: g.InstanceType, USD: bid,
					Source: "the group's spot bid_price (the most a spot instance can cost)"}
				e.Lines = append(e.Lines, Line{What: "EC2 spot at bid, " + what, Quantity: n * hours, Unit: ItemUnits[EC2InstanceHour], Price: p, USD: n * hours * bid})
			}
		} else {
			label := "EC2 on-demand, "
			if g.Market == definition.MarketSpot {
				label = "EC2 spot at the on-demand price (no bid_price), "
			}
			e.charge(t, ec2, n*hours, label+what)
		}
		e.charge(t, Key{Region: region, Item: EMRInstanceHour, InstanceType: g.InstanceType}, n*hours, "EMR, "+what)
	}
	return e
}

// ClusterHour estimates a cluster for one hour.
func (t *Table) ClusterHour(region string, groups []Group) Estimate {
	return t.Cluster(region, groups, time.Hour)
}

// TemplateLookup returns a published (or planned) EMR template by name; found is false when
// there is none.
type TemplateLookup func(name string) (tpl *definition.EMRTemplate, found bool, err error)

// PipelineRun estimates one run of a pipeline: each emr_step activity on a template starts a
// transient cluster that runs for the activity's expected_duration (at least a minute). An
// activity on an existing cluster (cluster_id) adds nothing: that cluster costs the same with or
// without the run. Other activity kinds run on the runner or on Redshift and are not counted.
func (t *Table) PipelineRun(region string, p *definition.Pipeline, templates TemplateLookup) Estimate {
	var e Estimate
	ids := make([]string, 0, len(p.Activities))
	for id := range p.Activities {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := p.Activities[id]
		if a == nil || a.EMRStep == nil || a.EMRStep.Template == "" {
			continue
		}
		s := a.EMRStep
		if s.ExpectedDuration == "" {
			e.Unestimated = append(e.Unestimated, fmt.Sprintf("activity %q runs a transient EMR cluster but has no emr_step.expected_duration", id))
			continue
		}
		d, err := definition.ParseDuration(s.ExpectedDuration)
		if err != nil {
			e.Unestimated = append(e.Unestimated, fmt.Sprintf("activity %q: emr_step.expected_duration: %v", id, err))
			continue
		}
		tpl, found, err := templates(s.Template)
		switch {
		case err != nil:
			e.Unestimated = append(e.Unestimated, fmt.Sprintf("activity %q: reading EMR template %q: %v", id, s.Template, err))
			continue
		case !found:
			e.Unestimated = append(e.Unestimated, fmt.Sprintf("activity %q: EMR template %q is neither published nor planned in this configuration", id, s.Template))
			continue
		}
		c := t.Cluster(region, Groups(tpl), d)
		for i := range c.Lines {
			c.Lines[i].What = fmt.Sprintf("activity %q (template %q), %s", id, s.Template, c.Lines[i].What)
		}
		e.Add(c)
	}
	return e
}
