# What the warehouse is: the same on every database.

variable "schema_name" {
  description = "Schema holding the warehouse tables."
  type        = string
  default     = "analytics"
}

variable "responsible" {
  description = "Who answers for the warehouse data."
  type        = string
  default     = "data-platform@acme.example"
}

variable "readers_group" {
  description = "Group that reads the warehouse."
  type        = string
  default     = "readers"
}

variable "readers_members" {
  description = "Existing users to put in the readers group (in every database)."
  type        = set(string)
  default     = []
}

# Where it goes: one set per database.

variable "primary_region" {
  type    = string
  default = "us-east-1"
}

variable "primary_host" {
  description = "Endpoint of the primary cluster."
  type        = string
  default     = "analytics.abc123xyz.us-east-1.redshift.amazonaws.com"
}

variable "primary_port" {
  type    = number
  default = 5439
}

variable "primary_database" {
  type    = string
  default = "dev"
}

variable "primary_username" {
  type    = string
  default = "terraform"
}

variable "primary_password" {
  type      = string
  sensitive = true
}

variable "replica_eu_region" {
  type    = string
  default = "eu-west-1"
}

variable "replica_eu_host" {
  description = "Endpoint of the replica cluster, here in another region."
  type        = string
  default     = "analytics-eu.def456uvw.eu-west-1.redshift.amazonaws.com"
}

variable "replica_eu_port" {
  type    = number
  default = 5439
}

variable "replica_eu_database" {
  type    = string
  default = "dev"
}

variable "replica_eu_username" {
  type    = string
  default = "terraform"
}

variable "replica_eu_password" {
  type      = string
  sensitive = true
}
