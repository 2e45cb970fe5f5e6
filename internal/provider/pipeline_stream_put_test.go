package provider_test

import (
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// TestAccPipeline_StreamPut publishes a pipeline that puts its changes into a replication's
// stream, and refuses the mistakes at plan time naming the attribute.
func TestAccPipeline_StreamPut(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	body := func(put string) string {
		return `
  name  = "through_the_stream"
  owner = "data-team@acme.example"
  schedule = {
    every = "1d"
    start = "2026-11-18T00:00:00Z"
  }
  activities = {
    publish = {
      stream_put = ` + put + `
    }
  }
`
	}
	good := `{
        replication   = "warehouse"
        statements    = ["DELETE FROM analytics.clicks WHERE day = '{{ ds .Start }}'"]
        partition_key = "clicks"
      }`
	load := `{
        replication = "warehouse"
        load = {
          table       = "analytics.clicks"
          from        = "s3://acme/csv/{{ ds .Start }}/"
          format      = "csv"
          insert_mode = "OVERWRITE_EXISTING"
          key_columns = ["id"]
        }
      }`
	// published decodes the published document and hands its stream_put to check.
	published := func(check func(*definition.StreamPutActivity)) resource.TestCheckFunc {
		return func(*terraform.State) error {
			data, err := os.ReadFile(pipelineDocPath(dir, "through_the_stream"))
			if err != nil {
				return err
			}
			p, err := definition.DecodePipeline(data)
			if err != nil {
				return err
			}
			check(p.Activities["publish"].StreamPut)
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      pipelineFileConfig(t, dir, body(`{ replication = "warehouse" }`)),
				ExpectError: wordsRE("activities.publish.stream_put", "set exactly one of statements and load; none is set"),
			},
			{
				Config: pipelineFileConfig(t, dir, body(`{
        replication = "warehouse"
        load = { table = "analytics.clicks", from = "s3://acme/csv/", format = "csv", insert_mode = "KEEP_EXISTING" }
      }`)),
				ExpectError: wordsRE("activities.publish.stream_put.load.key_columns", "needs key_columns"),
			},
			{
				Config: pipelineFileConfig(t, dir, body(good)),
				Check: published(func(sp *definition.StreamPutActivity) {
					if sp == nil || sp.Replication != "warehouse" || sp.PartitionKey != "clicks" || len(sp.Statements) != 1 {
						t.Errorf("published stream_put = %+v", sp)
					}
				}),
			},
			{
				Config: pipelineFileConfig(t, dir, body(load)),
				Check: published(func(sp *definition.StreamPutActivity) {
					if l := sp.Load; l == nil || l.InsertMode != definition.InsertOverwriteExisting || l.KeyColumns[0] != "id" {
						t.Errorf("published load = %+v", l)
					}
				}),
			},
		},
	})
}
