variable "schema_name" {
  description = "Name of the schema that holds the warehouse tables."
  type        = string
  default     = "analytics"
}

variable "responsible" {
  description = "Who answers for the data in the schema (team, person or email, one line)."
  type        = string
}

variable "description" {
  description = "What the schema holds; stored in the schema comment above the responsible line."
  type        = string
  default     = "Tracked events and their daily counts."
}

variable "readers_group" {
  description = "Name of the group that reads the schema. Group names are cluster-wide: keep it unique per cluster."
  type        = string
  default     = "readers"
}

variable "readers_members" {
  description = "Users in the readers group, exactly these. The users must already exist in the database."
  type        = set(string)
  default     = []
}
