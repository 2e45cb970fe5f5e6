# The README's walk-through, runnable against kinesis-local (`make kinesis-local`) with the
# provider installed by `make install` and a dev_overrides CLI config.
#
#   terraform apply -var shard_count=1
#   terraform apply -var shard_count=9                # one apply, four UpdateShardCount calls;
#                                                     # the plan shows the monthly cost 10.95 -> 98.55
#   terraform apply -var stream_mode=ON_DEMAND        # in place
#   terraform plan  -var stream_mode=ON_DEMAND        # empty

terraform {
  required_providers {
    sluice = {
      source = "sluice-data/sluice"
    }
  }
}

variable "kinesis_endpoint" {
  type    = string
  default = "http://127.0.0.1:4568"
}

variable "stream_mode" {
  type    = string
  default = "PROVISIONED"
}

variable "shard_count" {
  type    = number
  default = 1
}

provider "sluice" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true

  endpoints {
    kinesis = var.kinesis_endpoint
  }

  default_tags {
    tags = { team = "data" }
  }
}

resource "sluice_kinesis_stream" "events" {
  name        = "events"
  stream_mode = var.stream_mode
  shard_count = var.stream_mode == "ON_DEMAND" ? null : var.shard_count
}

output "reshard_steps" {
  value = sluice_kinesis_stream.events.reshard_steps
}

output "open_shard_count" {
  value = sluice_kinesis_stream.events.open_shard_count
}

# What the stream costs a month (730 hours) at the provider's dated price table: the plan shows
# it before the apply, and how a change moves it.
output "estimated_monthly_cost" {
  value = sluice_kinesis_stream.events.estimated_monthly_cost
}
