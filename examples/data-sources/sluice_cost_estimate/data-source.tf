# What the platform costs a month, summed in the plan from the resources' estimates.
data "sluice_cost_estimate" "month" {
  items = {
    events = sluice_kinesis_stream.events.estimated_monthly_cost
    # A daily pipeline runs about 30 times a month. try() keeps an unknown estimate (null) as an
    # unestimated item instead of failing the plan: Terraform refuses to multiply null.
    clicks_daily = try(sluice_pipeline.clicks_daily.estimated_cost_per_run * 30, null)
    # The runs catchup starts once, when the pipeline is first published.
    clicks_catchup = sluice_pipeline.clicks_daily.estimated_backfill_cost
  }
}

output "monthly_cost" {
  value = data.sluice_cost_estimate.month.total # null when an item is, listed in .unestimated
}
