# Event-driven runs: the three patterns from the notes this product started from, each a
# pipeline started by events instead of a schedule. See README.md.
#
#   1. orders_load:   an S3 object -> SNS topic -> SQS queue -> load into Redshift (PostgreSQL locally)
#   2. clicks_parse:  an S3 object -> SQS queue -> an EMR streaming step (local mode locally)
#   3. orders_report: orders_load's success notification -> SNS topic -> SQS queue -> a report
#      orders_audit:  the same, in the same runner database: trigger.after and wait_for.pipeline

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

variable "region" {
  description = "Region of the queues and the topic."
  type        = string
  default     = "eu-west-1"
}

variable "orders_queue_url" {
  description = "Queue subscribed to the SNS topic the raw bucket notifies of new orders (S3 -> SNS -> SQS)."
  type        = string
  default     = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-created"
}

variable "clicks_queue_url" {
  description = "Queue the raw bucket notifies directly of new click logs (S3 -> SQS)."
  type        = string
  default     = "https://sqs.eu-west-1.amazonaws.com/123456789012/clicks-created"
}

variable "done_topic_arn" {
  description = "Topic orders_load announces its successful runs on."
  type        = string
  default     = "arn:aws:sns:eu-west-1:123456789012:orders-loaded"
}

variable "done_queue_url" {
  description = "Queue subscribed to done_topic_arn: how orders_report (in any region or account) hears of them."
  type        = string
  default     = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-loaded"
}

variable "clicks_batch_wait" {
  description = "How long the first click log of a batch waits for more."
  type        = string
  default     = "2m"
}

variable "raw_bucket" {
  description = "Bucket the orders and click logs land in."
  type        = string
  default     = "acme-raw"
}

variable "code_root" {
  description = "Where the mapper script of the click parser lives (s3:// or file://)."
  type        = string
  default     = "s3://acme-code/clicks"
}

provider "sluice" {
  region                      = var.region
  registry                    = var.registry
  skip_credentials_validation = startswith(var.registry, "file://")
}

# Pattern 1: every order file is loaded as soon as it lands. Its key names the day, which
# becomes the run's interval (so freshness and `ds .Start` work as for a daily schedule) and
# the parameter .Params.date.
resource "sluice_pipeline" "orders_load" {
  name        = "orders_load"
  description = "New order files: S3 -> SNS -> SQS -> warehouse"
  owner       = "sales-data@acme.example"

  trigger = {
    sqs = {
      queue_url = var.orders_queue_url
      bucket    = var.raw_bucket
      pattern   = "orders/{date}/"
      suffix    = ".csv"
    }
  }

  activities = {
    load = {
      redshift_copy = {
        connection  = "warehouse"
        table       = "sales.orders"
        from        = "s3://{{ (index .Event.Objects 0).Bucket }}/{{ (index .Event.Objects 0).Key }}"
        format      = "csv"
        insert_mode = "OVERWRITE_EXISTING" # a file delivered twice loads its rows once
        key_columns = ["order_id"]
        iam_role    = "arn:aws:iam::123456789012:role/redshift-copy"
      }
    }
  }

  notify = {
    on_success = [var.done_topic_arn]
  }
}

# Pattern 2: click logs are parsed on EMR. Small files arrive all the time: up to 50 of them,
# or what arrived in 2 minutes, make one run, for the hour their keys name, whose step reads
# that hour's logs (.Event.Objects lists the ones that started it).
resource "sluice_pipeline" "clicks_parse" {
  name        = "clicks_parse"
  description = "New click logs: S3 -> SQS -> EMR streaming step, in batches"
  owner       = "web-analytics@acme.example"

  trigger = {
    sqs = {
      queue_url  = var.clicks_queue_url
      bucket     = var.raw_bucket
      pattern    = "clicks/{date}/{hour}/"
      max_events = 50
      max_wait   = var.clicks_batch_wait
    }
  }

  activities = {
    parse = {
      emr_step = {
        cluster_id = "j-CLICKSPARSER01"
        steps = [{
          name = "extract pages"
          streaming = {
            mapper = "extract_pages.py"
            input  = ["s3://${var.raw_bucket}/clicks/{{ .Params.date }}/{{ .Params.hour }}/"]
            output = "s3://${var.raw_bucket}/parsed/clicks/{{ .Params.date }}/{{ .Params.hour }}/run-{{ .RunID }}/"
            files  = ["${var.code_root}/extract_pages.py"]
          }
        }]
      }
    }
  }
}

# Pattern 3, across runners, regions or teams: orders_load's success notification reaches this
# pipeline through the topic and its queue, for the same interval.
resource "sluice_pipeline" "orders_report" {
  name        = "orders_report"
  description = "Daily order totals, refreshed after every load"
  owner       = "sales-data@acme.example"

  trigger = {
    sqs = {
      queue_url = var.done_queue_url
      after     = ["orders_load"]
    }
  }

  activities = {
    report = {
      sql = {
        connection = "warehouse"
        statements = [
          "DELETE FROM sales.daily_totals WHERE day = '{{ ds .Start }}'",
          "INSERT INTO sales.daily_totals (day, orders, amount) SELECT day, count(*), sum(amount) FROM sales.orders WHERE day = '{{ ds .Start }}' GROUP BY day",
        ]
      }
    }
  }
}

# Pattern 3 in one runner database: trigger.after starts a run for every successful run of
# orders_load, and wait_for.pipeline holds until orders_load's runs cover the interval.
resource "sluice_pipeline" "orders_audit" {
  name        = "orders_audit"
  description = "Checks the loaded orders of a day"
  owner       = "sales-data@acme.example"

  trigger = {
    after = [sluice_pipeline.orders_load.name]
  }

  activities = {
    check = {
      wait_for = {
        pipeline      = { name = sluice_pipeline.orders_load.name }
        poke_interval = "1s"
        timeout       = "10m"
      }
      check = {
        connection = "warehouse"
        table      = "sales.orders"
        where      = "day = '{{ ds .Start }}'"
        row_count  = { min = 1 }
        unique     = ["order_id"]
        not_null   = ["order_id", "amount"]
      }
    }
  }
}
