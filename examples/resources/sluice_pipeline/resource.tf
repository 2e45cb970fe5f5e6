# A daily pipeline: wait for the day's logs, parse them on a transient EMR cluster, load them into
# Redshift and its replica, check the result. Everything is HCL; the plan checks the DAG, the
# schedule, the durations and every template, and shows the published JSON (definition_json),
# the next runs (next_runs) and how many past days catchup starts (backfill_runs).
resource "sluice_pipeline" "clicks" {
  name        = "daily_clicks"
  description = "Click logs to analytics.clicks, one day per run"
  owner       = "data-platform@acme.example"

  schedule = {
    cron     = "0 3 * * *" # intervals from 03:00 to 03:00, Berlin time
    timezone = "Europe/Berlin"
    start    = "2026-11-01T03:00:00+01:00"
    catchup  = true # run every day since start once published
  }

  parameters = { bucket = "acme-logs" }

  defaults = { retries = 2, retry_delay = "5m", timeout = "2h" }

  activities = {
    parse = {
      wait_for = { s3_prefix_not_empty = "s3://{{ .Params.bucket }}/raw/{{ ds .Start }}/", timeout = "6h" }
      emr_step = {
        template = sluice_emr_template.spark.name # published first, because of the reference
        # What estimated_cost_per_run counts the transient cluster for.
        expected_duration = "40m"
        steps = [{
          name = "parse logs"
          streaming = {
            mapper = "parse_logs.py"
            input  = ["s3://{{ .Params.bucket }}/raw/{{ ds .Start }}/"]
            output = "s3://{{ .Params.bucket }}/csv/{{ ds .Start }}/"
            files  = ["s3://acme-code/parse_logs.py"]
          }
        }]
      }
    }
    load = {
      depends_on = ["parse"]
      redshift_copy = {
        connections = ["warehouse", "warehouse_replica"] # names the runner resolves, never secrets
        table       = "analytics.clicks"
        from        = "s3://{{ .Params.bucket }}/csv/{{ ds .Start }}/"
        format      = "csv"
        insert_mode = "OVERWRITE_EXISTING" # idempotent on retry
        key_columns = ["click_id"]
        iam_role    = "arn:aws:iam::123456789012:role/redshift-copy"
      }
    }
    qa = {
      depends_on = ["load"]
      check = {
        connection = "warehouse"
        table      = "analytics.clicks"
        where      = "ts >= '{{ ts .Start }}' AND ts < '{{ ts .End }}'"
        row_count  = { min = 1 }
        unique     = ["click_id"]
        not_null   = ["ts", "user_id"]
      }
    }
  }

  notify = {
    on_failure = ["arn:aws:sns:eu-west-1:123456789012:data-alerts"]
    on_late    = { after = "6h", targets = ["https://hooks.example.com/sluice"] }
  }
}

resource "sluice_emr_template" "spark" {
  name            = "spark_small"
  release_label   = "emr-7.2.0"
  applications    = ["Hadoop"]
  instance_groups = { master = { instance_type = "m5.xlarge" }, core = { instance_type = "m5.xlarge", count = 2 } }
  service_role    = "EMR_DefaultRole_V2"
  job_flow_role   = "EMR_EC2_DefaultRole"
}

# Started by events instead of a schedule: every CSV file S3 announces on the queue (directly,
# through SNS or from EventBridge) under raw/<date>/<hour>/, up to 200 files or 5 minutes' worth
# per run, for the hour the key names; and again after each successful run of daily_clicks.
resource "sluice_pipeline" "raw_events" {
  name = "raw_events"

  trigger = {
    sqs = {
      queue_url  = "https://sqs.eu-west-1.amazonaws.com/123456789012/raw-events"
      bucket     = "acme-raw"
      pattern    = "raw/{date}/{hour}/"
      suffix     = ".csv"
      max_events = 200
      max_wait   = "5m"
    }
    after = [sluice_pipeline.clicks.name]
  }

  activities = {
    load = {
      shell = {
        command = ["load-files", "--hour", "{{ .Params.date }}T{{ .Params.hour }}",
        "{{ range .Event.Objects }}s3://{{ .Bucket }}/{{ .Key }} {{ end }}"]
      }
    }
  }
}
