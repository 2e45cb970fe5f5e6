package cost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbedded_Parses(t *testing.T) {
	tbl, err := Parse(embedded, "embedded")
	if err != nil {
		t.Fatal(err)
	}
	// Every item is priced in the regions the table covers, so a stream in either is estimated.
	for _, region := range []string{"us-east-1", "us-west-2"} {
		for _, item := range Items() {
			if perInstanceType(item) {
				continue
			}
			if _, ok := tbl.Lookup(Key{Region: region, Item: item}); !ok {
				t.Errorf("no %s in %s", item, region)
			}
		}
	}
	for _, p := range tbl.Prices() {
		if !strings.HasPrefix(p.Source, "https://aws.amazon.com/") && !strings.Contains(p.Source, "Price List API") {
			t.Errorf("%s: source %q is neither an AWS pricing page nor the Price List API", p.Key(), p.Source)
		}
	}
	// Encode(Prices()) reproduces the embedded file: `make prices` writes this same form.
	again, err := Encode(tbl.Prices())
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(embedded) {
		t.Error("prices.json is not in the form Encode writes: regenerate it with `make prices`")
	}
}

func TestParse_BadFilesSayWhatIsWrong(t *testing.T) {
	entry := func(s string) string { return `{"format":"sluice/prices.v1","prices":[` + s + `]}` }
	for name, tc := range map[string]struct{ data, want string }{
		"format":        {`{"format":"other","prices":[]}`, `format is "other"`},
		"unknown field": {`{"format":"sluice/prices.v1","prices":[],"x":1}`, `unknown field "x"`},
		"item":          {entry(`{"region":"us-east-1","item":"kinesis.shard","usd":1,"source":"s","as_of":"2026-01-01"}`), `item "kinesis.shard" is not one of`},
		"region":        {entry(`{"item":"kinesis.shard_hour","usd":1,"source":"s","as_of":"2026-01-01"}`), "region is required"},
		"no type":       {entry(`{"region":"r","item":"ec2.instance_hour","usd":1,"source":"s","as_of":"2026-01-01"}`), "instance_type is required"},
		"extra type":    {entry(`{"region":"r","item":"kinesis.shard_hour","instance_type":"m5.xlarge","usd":1,"source":"s","as_of":"2026-01-01"}`), "instance_type \"m5.xlarge\" is not allowed"},
		"negative":      {entry(`{"region":"r","item":"kinesis.shard_hour","usd":-1,"source":"s","as_of":"2026-01-01"}`), "usd must be a number ≥ 0"},
		"source":        {entry(`{"region":"r","item":"kinesis.shard_hour","usd":1,"as_of":"2026-01-01"}`), "source is required"},
		"date":          {entry(`{"region":"r","item":"kinesis.shard_hour","usd":1,"source":"s","as_of":"last week"}`), `as_of "last week" is not a date`},
		"twice": {entry(`{"region":"r","item":"kinesis.shard_hour","usd":1,"source":"s","as_of":"2026-01-01"},` +
			`{"region":"r","item":"kinesis.shard_hour","usd":2,"source":"s","as_of":"2026-01-01"}`), "kinesis.shard_hour in r is listed twice"},
		"not json": {`<script>alert(1)</script>`, "invalid character"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), "negotiated.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "negotiated.json") {
				t.Errorf("error %v, want one naming the file and saying %q", err, tc.want)
			}
		})
	}
}

// TestMerge_NegotiatedRateWins: an override file replaces a list price and adds a region; the
// estimate uses them.
func TestMerge_NegotiatedRateWins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "negotiated.json")
	if err := os.WriteFile(path, []byte(`{"format":"sluice/prices.v1","prices":[
		{"region":"us-east-1","item":"kinesis.shard_hour","usd":0.01,"source":"contract 2026-7","as_of":"2026-07-01"},
		{"region":"eu-north-1","item":"kinesis.shard_hour","usd":0.02,"source":"contract 2026-7","as_of":"2026-07-01"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	over, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tbl := Embedded().Merge(over)
	if got := Round(tbl.StreamMonthly("us-east-1", Stream{Mode: ModeProvisioned, Shards: 1, RetentionHours: 24}).USD()); got != 7.3 {
		t.Errorf("negotiated: $%v, want 730 × $0.01 = $7.30", got)
	}
	if e := tbl.StreamMonthly("eu-north-1", Stream{Mode: ModeProvisioned, Shards: 1, RetentionHours: 24}); !e.Known() || Round(e.USD()) != 14.6 {
		t.Errorf("added region: %+v", e)
	}
	if !strings.Contains(tbl.Sources(), "negotiated.json") {
		t.Errorf("sources %q", tbl.Sources())
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}
