package provider_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// An 80 MB document was published and read by every runner (issue 11, item 6). The provider's
// max_document_size (default 4MiB) refuses a larger document at plan time, naming the pipeline
// and the limit; within the limit it publishes.
func TestAccPipeline_DocumentOverMaxDocumentSizeIsAPlanError(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	big := minimalPipeline(dailySchedule, oneShell) + "\n  description = \"" + strings.Repeat("x", 2000) + "\"\n"
	config := func(size string) string {
		return acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`, `  max_document_size = "`+size+`"`) +
			"\nresource \"sluice_pipeline\" \"test\" {\n" + big + "\n}\n"
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("1KiB"), PlanOnly: true,
				ExpectError: wordsRE(`pipeline document too large`, `The published document of pipeline "bad" would be`,
					`bytes, over the provider's max_document_size of 1KiB (1024 bytes). Split it into smaller pipelines, or raise max_document_size`),
			},
			{Config: config("a lot"), PlanOnly: true, ExpectError: wordsRE(`Invalid size`, `size "a lot" is not valid`)},
			{
				// Known only at apply: Terraform plans the resource again with the value known,
				// and the apply fails naming the pipeline before anything is published (the
				// registry's own check in Put is the last line behind it).
				Config: acctest.Current(t).ProviderConfig(`  registry = "file://`+dir+`"`, `  max_document_size = "1KiB"`) + `
resource "terraform_data" "text" {
  input = "` + strings.Repeat("y", 2000) + `"
}
resource "sluice_pipeline" "test" {
` + minimalPipeline(dailySchedule, oneShell) + `
  description = terraform_data.text.output
}
`,
				ExpectError: wordsRE(`Error running apply`, `pipeline document too large`, `The published document of pipeline "bad" would be 2345 bytes`),
			},
			{
				Config: config("8KiB"),
				Check: func(*terraform.State) error {
					_, err := os.Stat(pipelineDocPath(dir, "bad"))
					return err
				},
			},
		},
	})
}

// Pipeline and EMR template names "." and ".." were accepted by the runner (issue 11, item 7);
// the provider and the runner now share one rule, and the provider refuses them at plan time.
func TestAccNames_DotNamesAreRefusedAtPlanTime(t *testing.T) {
	dir := t.TempDir()
	var steps []resource.TestStep
	for _, name := range []string{".", "..", "...", ".hidden", "-x"} {
		body := strings.Replace(minimalPipeline(dailySchedule, oneShell), `name = "bad"`, `name = "`+name+`"`, 1)
		steps = append(steps, resource.TestStep{
			Config: pipelineFileConfig(t, dir, body), PlanOnly: true,
			ExpectError: wordsRE(`Invalid pipeline name`, definition.ValidateName("pipeline", name).Error()),
		})
		steps = append(steps, resource.TestStep{
			Config: emrFileConfig(t, dir, emrBody(name, 2, "1h", emrConfigurationsHCL)), PlanOnly: true,
			ExpectError: wordsRE(`Invalid EMR template name`, definition.ValidateName("EMR template", name).Error()),
		})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories, Steps: steps})
}
