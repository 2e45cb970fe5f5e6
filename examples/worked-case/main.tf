# The worked case: web logs land in S3 every day; an EMR streaming step parses them to CSV; a
# Redshift COPY loads the CSV; QA checks guard the result. Daily, starting a week ago, with
# catchup: publishing it backfills the past 7 days. See README.md.
#
#   terraform apply                                     # publishes to ./registry
#   terraform apply -var start=2026-11-01T00:00:00Z     # a longer backfill (the plan says how long)

terraform {
  required_providers {
    sluice = {
      source = "sluice-data/sluice"
    }
  }
}

variable "registry" {
  description = "Where the definitions are published: file:// for a local try, s3://bucket/prefix for real."
  type        = string
  default     = "file://registry"
}

variable "start" {
  description = "Start of the first daily interval (RFC 3339). With catchup, every day from here to now runs once published."
  type        = string
  default     = "2026-11-18T00:00:00Z"
}

variable "logs_bucket" {
  description = "Bucket the web servers ship their logs to, under raw/YYYY-MM-DD/."
  type        = string
  default     = "acme-web-logs"
}

variable "data_root" {
  description = "Where the logs, code and CSV live: empty means s3://<logs_bucket>; `make demo` sets a file:// directory to run everything locally."
  type        = string
  default     = ""
}

locals {
  data = var.data_root != "" ? trimsuffix(var.data_root, "/") : "s3://${var.logs_bucket}"
}

provider "sluice" {
  region   = "eu-west-1"
  registry = var.registry
  # A file:// registry needs no AWS call, so the credential check is skipped for it: the example
  # plans and applies on a laptop without an AWS account.
  skip_credentials_validation = startswith(var.registry, "file://")
}

# Step 3 of the case: the Hadoop cluster. Transient: sluice-runner starts one per run and always
# terminates it (idle_timeout is the safety net).
resource "sluice_emr_template" "log_parser" {
  name          = "log_parser"
  release_label = "emr-7.2.0"
  applications  = ["Hadoop"]
  instance_groups = {
    master = { instance_type = "m5.xlarge" }
    core   = { instance_type = "m5.xlarge", count = 2 }
  }
  service_role  = "EMR_DefaultRole_V2"
  job_flow_role = "EMR_EC2_DefaultRole"
  log_uri       = "s3://${var.logs_bucket}/emr-logs/"
  idle_timeout  = "30m"
}

resource "sluice_pipeline" "web_logs" {
  name        = "web_logs_daily"
  description = "Web logs: S3 -> EMR (parse to CSV) -> Redshift, with QA checks"
  owner       = "data-platform@acme.example"

  schedule = {
    every           = "1d" # intervals [day, day+1); the run for a day starts when it ends
    start           = var.start
    catchup         = true # publishing runs every day since start (see backfill_runs in the plan)
    max_active_runs = 3    # at most 3 days at once while catching up
  }

  parameters = {
    data = local.data
  }

  defaults = {
    retries     = 2
    retry_delay = "5m"
    timeout     = "2h"
  }

  activities = {
    # Step 1 and 2: the day's logs are in S3; parse them to CSV on EMR.
    parse = {
      wait_for = {
        s3_prefix_not_empty = "{{ .Params.data }}/raw/{{ ds .Start }}/"
        poke_interval       = "5m"
        timeout             = "6h"
      }
      emr_step = {
        template = sluice_emr_template.log_parser.name # publishes the template first
        # The plan prices a run at the template's cost for this long: estimated_cost_per_run.
        expected_duration = "20m"
        steps = [{
          name = "parse logs to CSV"
          streaming = {
            mapper  = "parse_log.py"
            reducer = "dedupe.py"
            input   = ["{{ .Params.data }}/raw/{{ ds .Start }}/"]
            output  = "{{ .Params.data }}/csv/{{ ds .Start }}/"
            files   = ["{{ .Params.data }}/code/parse_log.py", "{{ .Params.data }}/code/dedupe.py"]
          }
        }]
      }
    }

    # Step 4: load the CSV. OVERWRITE_EXISTING is idempotent: a retried or reprocessed day
    # replaces its rows instead of duplicating them.
    load = {
      depends_on = ["parse"]
      redshift_copy = {
        connection  = "warehouse" # resolved by the runner (SLUICE_CONN_WAREHOUSE); no secret here
        table       = "web.page_views"
        from        = "{{ .Params.data }}/csv/{{ ds .Start }}/"
        format      = "csv"
        insert_mode = "OVERWRITE_EXISTING"
        key_columns = ["request_id"]
        iam_role    = "arn:aws:iam::123456789012:role/redshift-copy"
        options     = ["TIMEFORMAT 'auto'"]
      }
    }

    # Automated QA: garbage in, garbage out — stop the run when the day looks wrong.
    qa_rows = {
      depends_on = ["load"]
      check = {
        connection = "warehouse"
        table      = "web.page_views"
        where      = "viewed_at >= '{{ ts .Start }}' AND viewed_at < '{{ ts .End }}'"
        row_count  = { min = 1000 }
        unique     = ["request_id"]
        not_null   = ["request_id", "viewed_at", "path"]
      }
    }
    qa_freshness = {
      depends_on = ["load"]
      check = {
        connection = "warehouse"
        table      = "web.page_views"
        freshness  = { column = "viewed_at", max_age = "2d" }
        severity   = "warn" # tell the owner, but keep the run green
      }
    }
  }

  notify = {
    on_failure = ["arn:aws:sns:eu-west-1:123456789012:data-alerts"]
    on_late    = { after = "6h", targets = ["arn:aws:sns:eu-west-1:123456789012:data-alerts"] }
  }
}

output "version" {
  description = "Version of the published pipeline."
  value       = sluice_pipeline.web_logs.version
}

output "backfill_runs" {
  description = "Days the runner catches up on once the pipeline is published."
  value       = sluice_pipeline.web_logs.backfill_runs
}

output "next_runs" {
  description = "The next intervals (their runs start when they end)."
  value       = sluice_pipeline.web_logs.next_runs
}
