package cost

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// cents rounds to whole cents, as AWS's worked examples show their results.
func cents(usd float64) float64 { return math.Round(usd*100) / 100 }

func lineUSD(t *testing.T, e Estimate, item string) float64 {
	t.Helper()
	var sum float64
	found := false
	for _, l := range e.Lines {
		if l.Price.Item == item {
			sum += l.USD
			found = true
		}
	}
	if !found {
		t.Fatalf("no %s line in %+v", item, e.Lines)
	}
	return sum
}

// TestStream_AWSProvisionedExample is the worked example of the Kinesis Data Streams pricing page
// (https://aws.amazon.com/kinesis/data-streams/pricing/, provisioned mode, us-east-1): producers
// put 100 records/s of 35 KB, a 4-shard stream, a 31-day month. AWS's figures:
//
//	shard hours: 4 shards × $0.015 × 24 h × 31 days = $44.64
//	PUT payload units: 35 KB = 2 units; 200 units/s × 86,400 s × 31 days = 535,680,000 units,
//	  × $0.014 per million = $7.50
//	total $52.14; with retention extended to 7 days, + 4 × $0.020 × 744 h = $59.52: $111.66.
func TestStream_AWSProvisionedExample(t *testing.T) {
	s := Stream{Mode: ModeProvisioned, Shards: 4, RetentionHours: 24, RecordsPerSecond: 100, AverageRecordBytes: 35 * 1024}
	e := Embedded().Stream("us-east-1", s, 31*24)
	if !e.Known() {
		t.Fatalf("unknown: %s", e.Why(Embedded()))
	}
	if got := cents(lineUSD(t, e, KinesisShardHour)); got != 44.64 {
		t.Errorf("shard hours = $%v, AWS says $44.64", got)
	}
	var units float64
	for _, l := range e.Lines {
		if l.Price.Item == KinesisPutPayloadUnits {
			units = l.Quantity * 1e6
		}
	}
	if math.Round(units) != 535_680_000 {
		t.Errorf("PUT payload units = %v, AWS says 535,680,000", units)
	}
	if got := cents(lineUSD(t, e, KinesisPutPayloadUnits)); got != 7.50 {
		t.Errorf("PUT payload units = $%v, AWS says $7.50", got)
	}
	if got := cents(e.USD()); got != 52.14 {
		t.Errorf("total = $%v, AWS says $52.14", got)
	}

	s.RetentionHours = 168
	e = Embedded().Stream("us-east-1", s, 31*24)
	if got := cents(lineUSD(t, e, KinesisExtendedRetentionShardHour)); got != 59.52 {
		t.Errorf("extended retention = $%v, AWS says $59.52", got)
	}
	if got := cents(e.USD()); got != 111.66 {
		t.Errorf("total with 7-day retention = $%v, AWS says $111.66", got)
	}
}

// TestStreamMonthly_QuickstartOneToNineShards is the README quickstart's change: a 730-hour
// month of 1 shard is 730 × $0.015 = $10.95, of 9 shards 9 × 730 × $0.015 = $98.55.
func TestStreamMonthly_QuickstartOneToNineShards(t *testing.T) {
	for shards, want := range map[int]float64{1: 10.95, 9: 98.55} {
		e := Embedded().StreamMonthly("us-east-1", Stream{Mode: ModeProvisioned, Shards: shards, RetentionHours: 24})
		if !e.Known() || Round(e.USD()) != want {
			t.Errorf("%d shards: $%v (known %v), want $%v", shards, Round(e.USD()), e.Known(), want)
		}
	}
}

// TestStreamMonthly_OnDemand checks on-demand billing by hand: 100 records/s of 2,500 bytes are
// billed as 3 KiB each: 100 × 3,072 B × 3,600 s / 2^30 = 1.029968 GB per hour, 751.8767 GB in a
// 730-hour month. Stream: 730 × $0.04 = $29.20; in: 751.8767 × $0.08 = $60.1501; out (read
// once): 751.8767 × $0.04 = $30.0751; total $119.4252. Retention of 48 h adds the 24 h past the
// first day: 24.7192 GB × $0.10 = $2.4719.
func TestStreamMonthly_OnDemand(t *testing.T) {
	s := Stream{Mode: ModeOnDemand, RetentionHours: 24, RecordsPerSecond: 100, AverageRecordBytes: 2500}
	e := Embedded().StreamMonthly("us-east-1", s)
	if !e.Known() {
		t.Fatalf("unknown: %s", e.Why(Embedded()))
	}
	if got := Round(e.USD()); got != 119.4252 {
		t.Errorf("total = $%v, want $119.4252", got)
	}
	s.RetentionHours = 48
	e = Embedded().StreamMonthly("us-east-1", s)
	if got := Round(lineUSD(t, e, KinesisOnDemandExtendedRetentionGBMonth)); got != 2.4719 {
		t.Errorf("extended retention = $%v, want $2.4719", got)
	}
}

func TestStreamMonthly_OnDemandWithoutTrafficIsUnknown(t *testing.T) {
	e := Embedded().StreamMonthly("us-east-1", Stream{Mode: ModeOnDemand, RetentionHours: 24})
	if e.Known() || !strings.Contains(e.Why(Embedded()), "expected_records_per_second") {
		t.Errorf("known %v, why %q", e.Known(), e.Why(Embedded()))
	}
}

// TestStreamMonthly_LongTermRetention: 1 shard, 10 records/s of 1 KiB kept 10 days: 3 days past
// 7 days = 10 × 1,024 B × 259,200 s / 2^30 = 2.4719 GB kept, × $0.023 = $0.0569 a month; plus
// shard hours $10.95 and extended retention 730 × $0.020 = $14.60; PUT: 10 × 3,600 × 730 =
// 26.28 million units × $0.014 = $0.3679.
func TestStreamMonthly_LongTermRetention(t *testing.T) {
	s := Stream{Mode: ModeProvisioned, Shards: 1, RetentionHours: 240, RecordsPerSecond: 10, AverageRecordBytes: 1024}
	e := Embedded().StreamMonthly("us-east-1", s)
	if got := Round(lineUSD(t, e, KinesisLongTermRetentionGBMonth)); got != 0.0569 {
		t.Errorf("long-term retention = $%v, want $0.0569", got)
	}
	if got := Round(e.USD()); got != Round(10.95+14.60+0.36792+0.05686) {
		t.Errorf("total = $%v", got)
	}
	s.RecordsPerSecond = 0
	if e := Embedded().StreamMonthly("us-east-1", s); e.Known() {
		t.Error("retention past 7 days without traffic must be unknown: it is billed per GB")
	}
}

func TestStream_UnknownRegionNamesTheMissingPrices(t *testing.T) {
	e := Embedded().StreamMonthly("eu-north-1", Stream{Mode: ModeProvisioned, Shards: 2, RetentionHours: 48})
	if e.Known() {
		t.Fatal("a region without prices must give an unknown estimate")
	}
	why := e.Why(Embedded())
	for _, want := range []string{"kinesis.shard_hour in eu-north-1", "kinesis.extended_retention_shard_hour in eu-north-1", "the embedded price table"} {
		if !strings.Contains(why, want) {
			t.Errorf("why %q does not name %q", why, want)
		}
	}
	if e := Embedded().StreamMonthly("", Stream{Mode: ModeProvisioned, Shards: 1}); e.Known() {
		t.Error("no region must be unknown")
	}
}

func c42x(n int) Group {
	return Group{InstanceType: "c4.2xlarge", Count: n, Market: definition.MarketOnDemand}
}

// TestCluster_AWSEMRExample is the earlier worked example of the Amazon EMR pricing page
// (https://aws.amazon.com/emr/pricing/, Amazon EMR on Amazon EC2, us-east-1): one c4.2xlarge
// master and two c4.2xlarge core nodes for a month of 24 × 30 hours at 100% utilisation:
//
//	master: EMR 1 × $0.105 × 720 = $75.60, EC2 1 × $0.398 × 720 = $286.56
//	core:   EMR 2 × $0.105 × 720 = $151.20, EC2 2 × $0.398 × 720 = $573.12
//	total $1,086.48
func TestCluster_AWSEMRExample(t *testing.T) {
	master, core := c42x(1), c42x(2)
	master.Role, core.Role = "master", "core"
	e := Embedded().Cluster("us-east-1", []Group{master, core}, 720*time.Hour)
	if !e.Known() {
		t.Fatalf("unknown: %s", e.Why(Embedded()))
	}
	want := []float64{286.56, 75.60, 573.12, 151.20} // EC2 then EMR, per group
	if len(e.Lines) != len(want) {
		t.Fatalf("lines %+v", e.Lines)
	}
	for i, l := range e.Lines {
		if cents(l.USD) != want[i] {
			t.Errorf("%s = $%v, AWS says $%v", l.What, cents(l.USD), want[i])
		}
	}
	if got := cents(e.USD()); got != 1086.48 {
		t.Errorf("total = $%v, AWS says $1,086.48", got)
	}
	if got := Round(Embedded().ClusterHour("us-east-1", []Group{master, core}).USD()); got != 1.509 {
		t.Errorf("per hour = $%v, want 3 × ($0.398 + $0.105) = $1.509", got)
	}
}

// TestCluster_AWSEMRExampleM5 is the current worked example of the Amazon EMR pricing page
// (https://aws.amazon.com/emr/pricing/, "Amazon EMR on Amazon EC2"): one m5.xlarge master and two
// m5.xlarge core nodes at 100% utilisation for a 730-hour month. AWS's EMR figures:
//
//	master: EMR charges = 1 instance × 0.048 USD hourly × 730 hours = 35.04 USD
//	core:   EMR charges = 2 instances × 0.048 USD hourly × 730 hours = 70.08 USD
//
// and EC2 on-demand in us-east-1 adds 3 × $0.192 × 730 = $420.48: $525.60 in all, $0.72 an hour.
func TestCluster_AWSEMRExampleM5(t *testing.T) {
	g := []Group{{Role: "master", InstanceType: "m5.xlarge", Count: 1}, {Role: "core", InstanceType: "m5.xlarge", Count: 2}}
	e := Embedded().Cluster("us-east-1", g, HoursPerMonth*time.Hour)
	emr := map[string]float64{}
	var ec2 float64
	for _, l := range e.Lines {
		switch l.Price.Item {
		case EMRInstanceHour:
			emr[strings.SplitN(l.What, ":", 2)[0]] += l.USD
		case EC2InstanceHour:
			ec2 += l.USD
		}
	}
	if cents(emr["EMR, master"]) != 35.04 || cents(emr["EMR, core"]) != 70.08 {
		t.Errorf("EMR charges %v, AWS says master $35.04 and core $70.08", emr)
	}
	if cents(ec2) != 420.48 || cents(e.USD()) != 525.60 {
		t.Errorf("EC2 $%v, total $%v; want $420.48 and $525.60", cents(ec2), cents(e.USD()))
	}
}

// TestCluster_OneMinuteMinimum: a cluster that ran 20 seconds is billed a minute: 3 m5.xlarge
// × ($0.192 + $0.048) / 60 = $0.012; 90 seconds is billed 90 seconds: $0.018.
func TestCluster_OneMinuteMinimum(t *testing.T) {
	g := []Group{{Role: "master", InstanceType: "m5.xlarge", Count: 1}, {Role: "core", InstanceType: "m5.xlarge", Count: 2}}
	for d, want := range map[time.Duration]float64{20 * time.Second: 0.012, time.Minute: 0.012, 90 * time.Second: 0.018} {
		if got := Round(Embedded().Cluster("us-east-1", g, d).USD()); got != want {
			t.Errorf("%s: $%v, want $%v", d, got, want)
		}
	}
}

func TestCluster_SpotCountsTheMostItCanCost(t *testing.T) {
	bid := []Group{{Role: "task", InstanceType: "m5.xlarge", Count: 4, Market: definition.MarketSpot, BidPrice: "0.10"}}
	// 4 × ($0.10 bid + $0.048 EMR) = $0.592 an hour.
	if got := Round(Embedded().ClusterHour("us-east-1", bid).USD()); got != 0.592 {
		t.Errorf("spot with bid: $%v, want $0.592", got)
	}
	bid[0].BidPrice = ""
	// No bid: capped at the on-demand price, 4 × ($0.192 + $0.048) = $0.96.
	if got := Round(Embedded().ClusterHour("us-east-1", bid).USD()); got != 0.96 {
		t.Errorf("spot without bid: $%v, want $0.96", got)
	}
	bid[0].BidPrice = "cheap"
	if e := Embedded().ClusterHour("us-east-1", bid); e.Known() {
		t.Error("a bid that is not a number must make the estimate unknown")
	}
}

func TestCluster_UnknownInstanceTypeNamesIt(t *testing.T) {
	e := Embedded().ClusterHour("us-east-1", []Group{{Role: "core", InstanceType: "x2iedn.32xlarge", Count: 2}})
	why := e.Why(Embedded())
	if e.Known() || !strings.Contains(why, "ec2.instance_hour of x2iedn.32xlarge in us-east-1") || !strings.Contains(why, "emr.instance_hour of x2iedn.32xlarge in us-east-1") {
		t.Errorf("known %v, why %q", e.Known(), why)
	}
}

func pipelineWith(acts map[string]*definition.Activity) *definition.Pipeline {
	return &definition.Pipeline{Name: "p", Activities: acts}
}

func emrAct(tpl, expected string) *definition.Activity {
	return &definition.Activity{EMRStep: &definition.EMRStepActivity{Template: tpl, ExpectedDuration: expected,
		Steps: []definition.EMRStep{{Name: "s", Command: []string{"true"}}}}}
}

func templates(m map[string]*definition.EMRTemplate) TemplateLookup {
	return func(name string) (*definition.EMRTemplate, bool, error) {
		if name == "broken" {
			return nil, false, errors.New("registry unreachable")
		}
		t, ok := m[name]
		return t, ok, nil
	}
}

var smallTemplate = &definition.EMRTemplate{InstanceGroups: definition.InstanceGroups{
	Master: definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: definition.MarketOnDemand},
	Core:   &definition.InstanceGroup{InstanceType: "m5.xlarge", Count: 2, Market: definition.MarketOnDemand},
}}

// TestPipelineRun_SumsClustersWithTheirMinimum: a run with a 45-minute cluster and a 10-second one
// (billed a minute) of 3 m5.xlarge each ($0.72 an hour): $0.54 + $0.012 = $0.552. The activity on
// an existing cluster and the shell activity add nothing.
func TestPipelineRun_SumsClustersWithTheirMinimum(t *testing.T) {
	p := pipelineWith(map[string]*definition.Activity{
		"transform": emrAct("small", "45m"),
		"quick":     emrAct("small", "10s"),
		"existing":  {EMRStep: &definition.EMRStepActivity{ClusterID: "j-ABC", ExpectedDuration: "5h"}},
		"extract":   {Shell: &definition.ShellActivity{Command: []string{"true"}}},
	})
	e := Embedded().PipelineRun("us-east-1", p, templates(map[string]*definition.EMRTemplate{"small": smallTemplate}))
	if !e.Known() {
		t.Fatalf("unknown: %s", e.Why(Embedded()))
	}
	if got := Round(e.USD()); got != 0.552 {
		t.Errorf("per run $%v, want $0.552", got)
	}
	if got := Round(e.Scale(30, "backfill").USD()); got != 16.56 {
		t.Errorf("30 runs $%v, want $16.56", got)
	}
}

func TestPipelineRun_UnknownsNameTheActivity(t *testing.T) {
	p := pipelineWith(map[string]*definition.Activity{
		"a_no_duration": emrAct("small", ""),
		"b_missing":     emrAct("nowhere", "1h"),
		"c_broken":      emrAct("broken", "1h"),
		"d_bad":         emrAct("small", "soon"),
	})
	e := Embedded().PipelineRun("us-east-1", p, templates(map[string]*definition.EMRTemplate{"small": smallTemplate}))
	why := e.Why(Embedded())
	for _, want := range []string{`activity "a_no_duration" runs a transient EMR cluster but has no emr_step.expected_duration`,
		`EMR template "nowhere" is neither published nor planned`, "registry unreachable", `activity "d_bad": emr_step.expected_duration`} {
		if !strings.Contains(why, want) {
			t.Errorf("why %q lacks %q", why, want)
		}
	}
	if e.Known() {
		t.Error("must be unknown")
	}
	if e := Embedded().PipelineRun("us-east-1", pipelineWith(nil), templates(nil)); !e.Known() || e.USD() != 0 {
		t.Errorf("a pipeline without EMR costs $0 on EMR: %+v", e)
	}
}
