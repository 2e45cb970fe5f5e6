package activity_test

import (
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

func TestRender_WaitForPipelineDefaultsToTheRunsInterval(t *testing.T) {
	start := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	data := definition.TemplateData{Start: start, End: start.AddDate(0, 0, 1)}
	a := &definition.Activity{WaitFor: &definition.WaitFor{Pipeline: &definition.WaitForPipeline{Name: "up"}}}
	out, err := activity.Render(a, data)
	if err != nil {
		t.Fatal(err)
	}
	if w := out.WaitFor.Pipeline; w.Start != "2026-11-18T00:00:00Z" || w.End != "2026-11-19T00:00:00Z" {
		t.Errorf("rendered %+v", w)
	}
	a.WaitFor.Pipeline.Start = "{{ add_days -1 .Start | ts }}"
	out, err = activity.Render(a, data)
	if err != nil {
		t.Fatal(err)
	}
	if w := out.WaitFor.Pipeline; w.Start != "2026-11-17T00:00:00Z" || w.End != "2026-11-19T00:00:00Z" {
		t.Errorf("rendered %+v", w)
	}
	if a.WaitFor.Pipeline.End != "" {
		t.Error("Render changed its input")
	}
}
