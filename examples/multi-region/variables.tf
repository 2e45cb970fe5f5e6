variable "registry" {
  description = "Where definitions are published, e.g. s3://acme-data/sluice (file:// for a local run)."
  type        = string
}

variable "replicas" {
  description = "The replica databases, by replica name: where each is, and its readers group (a cluster-wide name)."
  type = map(object({
    host          = string
    port          = number
    database      = string
    username      = string
    readers_group = string
  }))
}

variable "passwords" {
  description = "The password of each replica's user, by replica name."
  type        = map(string)
  sensitive   = true
}

variable "sslmode" {
  description = "TLS to the replicas: require on AWS; disable for a local PostgreSQL."
  type        = string
  default     = "require"
}

variable "local" {
  description = "A local run against kinesis-local: static test credentials, no credential check."
  type        = bool
  default     = false
}

variable "kinesis_endpoint" {
  description = "Kinesis endpoint override (kinesis-local); null on AWS."
  type        = string
  default     = null
}

variable "stream_name" {
  type    = string
  default = "warehouse-changes"
}

variable "shard_count" {
  type    = number
  default = 2
}

variable "schema_name" {
  type    = string
  default = "analytics"
}

variable "responsible" {
  type    = string
  default = "data-platform@acme.example"
}

variable "dead_letter" {
  description = "Where records no replica can apply are written, with their error."
  type        = string
  default     = "s3://acme-data/sluice/dead-letter/"
}

variable "events_root" {
  description = "Where the daily event files land: <events_root>/<YYYY-MM-DD>/*.csv."
  type        = string
  default     = "s3://acme-data/events"
}

variable "start" {
  description = "First day the pipeline loads."
  type        = string
  default     = "2026-11-01T00:00:00Z"
}
