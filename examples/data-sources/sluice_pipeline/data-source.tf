# Read the pipeline production runs, from production's registry, through a provider alias —
# e.g. to show whether staging and production publish the same version.
provider "sluice" {
  alias    = "production"
  region   = "eu-west-1"
  registry = "s3://acme-data-prod/sluice"
}

data "sluice_pipeline" "prod_clicks" {
  provider = sluice.production
  name     = "daily_clicks"
}

output "production_clicks_version" {
  value = data.sluice_pipeline.prod_clicks.version
}

output "production_clicks_activities" {
  value = data.sluice_pipeline.prod_clicks.activity_ids
}
