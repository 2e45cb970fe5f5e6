# The warehouse: one schema, its tables, a readers group and the group's grants. The module
# declares no provider block: the caller passes the sluice provider configuration (one database)
# in `providers`, so the same files deploy to the primary and to every replica.

resource "sluice_redshift_schema" "this" {
  name        = var.schema_name
  responsible = var.responsible
  description = var.description
}

resource "sluice_redshift_table" "events" {
  schema      = sluice_redshift_schema.this.name
  name        = "events"
  description = "One row per tracked event."

  columns = [
    { name = "id", type = "bigint", nullable = false },
    { name = "occurred_at", type = "timestamp" },
    { name = "payload", type = "varchar(4096)" },
  ]

  primary_key = ["id"]
}

resource "sluice_redshift_table" "daily_counts" {
  schema      = sluice_redshift_schema.this.name
  name        = "daily_counts"
  description = "Events per day, rebuilt by the nightly pipeline."

  columns = [
    { name = "day", type = "date", nullable = false },
    { name = "events", type = "bigint", nullable = false, default = "0" },
  ]

  primary_key = ["day"]
}

resource "sluice_redshift_group" "readers" {
  name    = var.readers_group
  members = var.readers_members
}

resource "sluice_redshift_grant" "readers_usage" {
  grantee_type = "group"
  grantee      = sluice_redshift_group.readers.name
  object_type  = "schema"
  schema       = sluice_redshift_schema.this.name
  privileges   = ["USAGE"]
}

# SELECT on every table of the schema, and on tables the provider's user creates there later.
resource "sluice_redshift_grant" "readers_select" {
  grantee_type  = "group"
  grantee       = sluice_redshift_group.readers.name
  object_type   = "all_tables"
  schema        = sluice_redshift_schema.this.name
  privileges    = ["SELECT"]
  future_tables = true

  # all_tables covers the tables that exist when it is applied: create them first.
  depends_on = [
    sluice_redshift_table.events,
    sluice_redshift_table.daily_counts,
  ]
}
