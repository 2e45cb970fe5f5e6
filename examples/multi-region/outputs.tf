output "stream_arn" {
  value = sluice_kinesis_stream.changes.arn
}

output "replication_version" {
  value = sluice_stream_replication.warehouse.version
}

output "read_calls_per_second" {
  description = "GetRecords calls per second the three subscribers make on each shard when idle (the limit is 5)."
  value       = sluice_stream_replication.warehouse.read_calls_per_second
}
