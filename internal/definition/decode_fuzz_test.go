package definition

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// sampleEMRTemplate is a complete EMR template for seeding.
func sampleEMRTemplate() *EMRTemplate {
	return &EMRTemplate{
		Format: FormatEMRTemplate, Name: "log-parser", ReleaseLabel: "emr-7.2.0", Applications: []string{"Hadoop", "Spark"},
		InstanceGroups: InstanceGroups{
			Master: InstanceGroup{InstanceType: "m5.xlarge", Count: 1, Market: MarketOnDemand},
			Core:   &InstanceGroup{InstanceType: "m5.2xlarge", Count: 2, Market: MarketSpot, BidPrice: "0.25", EBS: []EBSVolume{{SizeGB: 100, Type: "gp3", VolumesPerInstance: 1, IOPS: 3000}}},
		},
		BootstrapActions: []BootstrapAction{{Name: "deps", Path: "s3://acme-code/bootstrap.sh", Args: []string{"--fast"}}},
		Configurations:   json.RawMessage(`[{"Classification":"spark-defaults","Properties":{"spark.executor.memory":"4g"}}]`),
		ServiceRole:      "EMR_DefaultRole", JobFlowRole: "EMR_EC2_DefaultRole", LogURI: "s3://acme-logs/emr/",
		SubnetIDs:      []string{"subnet-a", "subnet-b"},
		SecurityGroups: &SecurityGroups{EMRManagedMaster: "sg-1", AdditionalSlave: []string{"sg-2"}},
		IdleTimeout:    "1h", StepConcurrency: 1, Tags: map[string]string{"team": "data"},
	}
}

func encodeSeed(f *testing.F, v versioned) []byte {
	f.Helper()
	b, err := Encode(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzDecodePipeline feeds arbitrary bytes to DecodePipeline. Whenever a pipeline comes out —
// also when only its version is wrong, since the content is then fully decoded — validation and
// encoding must not panic, and Encode → DecodePipeline → Encode must give the same bytes.
func FuzzDecodePipeline(f *testing.F) {
	f.Add(encodeSeed(f, workedPipeline()))
	f.Add(encodeSeed(f, samplePipeline()))
	cron := workedPipeline()
	cron.Schedule = Schedule{Cron: "0 2 * * 1-5", Timezone: "Europe/Berlin", Start: "2026-03-01T00:00:00+01:00", End: "2027-01-01T00:00:00Z", MaxActiveRuns: 1}
	f.Add(encodeSeed(f, cron))
	f.Add([]byte(`{"format":"sluice/pipeline.v1","name":"x","activities":{"a":null},"schedule":{"every":"1d"}}`))
	f.Add([]byte(`{"format":"sluice/emr-template.v1"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePipeline(data)
		if err != nil && !errors.Is(err, ErrVersionMismatch) {
			return
		}
		_ = ValidatePipeline(p)
		if c, err := p.Schedule.Compile(); err == nil {
			now := c.Start().AddDate(0, 0, 3)
			_ = c.NextRuns(now, 3)
			_ = c.Between(c.Start(), c.Start().AddDate(0, 0, 2))
		}
		roundTrip(t, p, func(b []byte) (versioned, error) { return DecodePipeline(b) })
	})
}

// FuzzDecodeEMRTemplate is FuzzDecodePipeline for EMR templates.
func FuzzDecodeEMRTemplate(f *testing.F) {
	f.Add(encodeSeed(f, sampleEMRTemplate()))
	minimal := &EMRTemplate{Format: FormatEMRTemplate, Name: "m", InstanceGroups: InstanceGroups{Master: InstanceGroup{InstanceType: "m5.xlarge", Count: 1}}}
	f.Add(encodeSeed(f, minimal))
	f.Add([]byte(`{"format":"sluice/emr-template.v1","configurations":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, err := DecodeEMRTemplate(data)
		if err != nil && !errors.Is(err, ErrVersionMismatch) {
			return
		}
		roundTrip(t, tmpl, func(b []byte) (versioned, error) { return DecodeEMRTemplate(b) })
	})
}

func roundTrip(t *testing.T, doc versioned, decode func([]byte) (versioned, error)) {
	t.Helper()
	enc, err := Encode(doc)
	if err != nil {
		t.Fatalf("Encode of a decoded document: %v", err)
	}
	again, err := decode(enc)
	if err != nil {
		t.Fatalf("decoding our own encoding: %v\n%s", err, enc)
	}
	enc2, err := Encode(again)
	if err != nil {
		t.Fatalf("Encode after the round trip: %v", err)
	}
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("round trip changed the document:\n%s\n%s", enc, enc2)
	}
}
