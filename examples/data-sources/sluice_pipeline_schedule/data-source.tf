# Which intervals would a backfill of the first week of November run? The schedule attributes
# mean what they mean in sluice_pipeline's schedule.
data "sluice_pipeline_schedule" "november_week_1" {
  cron     = "0 3 * * *"
  timezone = "Europe/Berlin"
  start    = "2026-01-01T03:00:00+01:00"
  from     = "2026-11-01T00:00:00+01:00"
  to       = "2026-11-08T00:00:00+01:00"
}

# 7 runs: sluice-runner backfill daily_clicks --from 2026-11-01T00:00:00+01:00 --to 2026-11-08T00:00:00+01:00
output "backfill_runs" {
  value = data.sluice_pipeline_schedule.november_week_1.interval_count
}

output "first_interval" {
  value = data.sluice_pipeline_schedule.november_week_1.intervals[0]
}
