# Read a stream another team or environment manages, e.g. to grant access to it.
data "sluice_kinesis_stream" "clicks" {
  name = "clicks"
}

output "clicks_arn" {
  value = data.sluice_kinesis_stream.clicks.arn
}

output "clicks_open_shards" {
  value = data.sluice_kinesis_stream.clicks.open_shards
}
