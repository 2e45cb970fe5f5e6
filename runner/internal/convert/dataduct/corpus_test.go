package dataduct

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// corpusDir holds the Dataduct pipelines written for these tests (from Dataduct's
// documentation), with their table definitions and scripts, and expect.json.
const corpusDir = "../testdata/dataduct"

func TestCorpus_EveryPipelineConvertsAsExpected(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		Expect string `json:"expect"`
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) < 15 {
		t.Fatalf("the corpus has %d pipelines, want at least 15", len(want))
	}
	used := map[string]bool{}
	for name, exp := range want {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(corpusDir, name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Convert(src, Options{Source: name + ".yaml", Dir: corpusDir, Now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Entries {
				used[e.Type] = true
				if e.Status != convert.Converted && len(e.Notes) == 0 {
					t.Errorf("%s (%s) is %s without a note saying why", e.ID, e.Type, e.Status)
				}
			}
			if got := res.Complete(); got != (exp.Expect == "complete") {
				t.Errorf("complete = %v, want %s\n%s", got, exp.Expect, res.Report())
			}
			if none := len(res.Pipeline.Activities) == 0; none != (exp.Expect == "none") {
				t.Fatalf("%d activities converted, want %s\n%s", len(res.Pipeline.Activities), exp.Expect, res.Report())
			}
			if len(res.Pipeline.Activities) == 0 {
				return
			}
			p := *res.Pipeline
			for _, v := range res.Variables {
				if v.Name == "start" {
					p.Schedule.Start = *v.Default
				}
			}
			for _, prob := range definition.ValidatePipeline(&p) {
				t.Errorf("converted pipeline invalid: %s\n%s", prob, res.MainTF())
			}
		})
	}
	for _, typ := range stepTypes {
		if !used[typ] {
			t.Errorf("no corpus pipeline uses step type %s", typ)
		}
	}
}

func TestConvert_UpsertReplacesRowsByPrimaryKey(t *testing.T) {
	res, err := Convert([]byte(`name: u
frequency: daily
steps:
- step_type: upsert
  table_definition: tables/staging.orders.sql
  source: SELECT * FROM raw.o
`), Options{Source: "u.yaml", Dir: corpusDir})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Pipeline.Activities["upsert_1"].SQL.Statements
	want := []string{
		"CREATE TABLE IF NOT EXISTS staging.orders (\n    order_id BIGINT,\n    customer_id BIGINT,\n    amount DECIMAL(12, 2),\n    PRIMARY KEY (order_id)\n)",
		"CREATE TEMPORARY TABLE staging_orders_staging AS SELECT * FROM raw.o",
		"DELETE FROM staging.orders USING staging_orders_staging WHERE staging.orders.order_id = staging_orders_staging.order_id",
		"INSERT INTO staging.orders SELECT * FROM staging_orders_staging",
	}
	if !slices.Equal(got, want) {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConvert_RefusesWhatIsNotDataduct(t *testing.T) {
	for in, want := range map[string]string{
		"name: x\n":      "no steps",
		"steps: [1, 2\n": "not a Dataduct pipeline (YAML)",
		"- a\n- b\n":     "not a Dataduct pipeline (YAML)",
	} {
		if _, err := Convert([]byte(in), Options{Source: "x.yaml"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
