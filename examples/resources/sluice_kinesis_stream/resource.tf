# A provisioned stream. Changing shard_count by any amount happens in one apply: the plan's
# reshard_steps shows each UpdateShardCount call, e.g. [2, 4, 8, 9] for 1 -> 9.
resource "sluice_kinesis_stream" "clicks" {
  name             = "clicks"
  shard_count      = 4
  retention_period = 48

  encryption_type = "KMS"
  kms_key_id      = "alias/aws/kinesis"

  shard_level_metrics = ["IncomingBytes", "OutgoingBytes"]

  # The expected traffic, for estimated_monthly_cost (not sent to AWS): PUT payload units are
  # billed per 25 KiB of each record.
  expected_records_per_second = 800
  average_record_bytes        = 2048

  tags = {
    owner = "web-analytics"
  }

  timeouts {
    update = "3h" # large reshards wait for ACTIVE between steps
  }
}

# An on-demand stream: AWS manages the shards, so shard_count is not set. Switching
# stream_mode between PROVISIONED and ON_DEMAND is an in-place update.
resource "sluice_kinesis_stream" "audit" {
  name        = "audit"
  stream_mode = "ON_DEMAND"
}
