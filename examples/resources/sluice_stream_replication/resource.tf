# One stream carries every change; each replica has its own subscriber in sluice-runner, in the
# replica's region, which applies the records in sequence order (AWS's design for parallel
# Redshift clusters). The plan shows the replicas, the published JSON (definition_json), its
# version, and the GetRecords calls per second the subscribers put on each shard.
resource "sluice_kinesis_stream" "changes" {
  name        = "warehouse_changes"
  shard_count = 2
}

# Statements: each record is SQL (DDL or DML), or a sluice/load.v1 document naming files that
# every replica loads with its own COPY.
resource "sluice_stream_replication" "warehouse" {
  name        = "warehouse"
  description = "Every change to the warehouse, applied to three identical replicas"
  owner       = "data-platform@acme.example"
  stream_arn  = sluice_kinesis_stream.changes.arn

  replicas = {
    use1_a = { connection = "warehouse_use1_a", region = "us-east-1" }
    use1_b = { connection = "warehouse_use1_b", region = "us-east-1" }
    # a Redshift replica COPYs the files of load records itself, as this role
    euw1 = { connection = "warehouse_euw1", region = "eu-west-1", iam_role = "arn:aws:iam::123456789012:role/redshift-copy-euw1" }
  }

  format         = "statements"
  start_position = "TRIM_HORIZON"

  # A record a replica cannot apply stops that replica's subscriber (the default): its lag
  # grows, the other replicas go on, and nothing after the record is applied.
  poison        = "stop"
  poison_notify = ["arn:aws:sns:us-east-1:123456789012:data-alerts"]

  # 3 replicas polling every second: 3 GetRecords calls per second per shard, within the
  # shared limit of 5 (read_calls_per_second in the plan).
  poll_interval = "1s"
}

# Rows: each record is one JSON object, loaded in batches into a table, keyed for updates.
resource "sluice_stream_replication" "clicks" {
  name       = "clicks"
  stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"

  replicas = {
    use1 = { connection = "analytics_use1", region = "us-east-1" }
    euw1 = { connection = "analytics_euw1", region = "eu-west-1" }
  }

  format      = "rows"
  table       = "analytics.clicks"
  insert_mode = "OVERWRITE_EXISTING"
  key_columns = ["click_id"]

  max_records = 1000
  max_bytes   = 4194304
  max_latency = "2s"
  staging     = "s3://acme-data/sluice/staging/clicks/" # Redshift replicas load batches with COPY

  start_position  = "AT_TIMESTAMP"
  start_timestamp = "2026-11-18T00:00:00Z"

  poison        = "dead_letter"
  dead_letter   = "s3://acme-data/sluice/dead-letter/clicks/"
  poison_notify = ["https://hooks.example.com/sluice"]
}
