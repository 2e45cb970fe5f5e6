# Each grant is the complete set of privileges of ONE grantee on ONE object: privileges granted
# on the same pair outside Terraform show in the next plan and are revoked on apply.

# Analysts read every table of the schema, including tables created later by the provider's user.
resource "sluice_redshift_grant" "analysts_read_clicks" {
  grantee_type  = "group"
  grantee       = "analysts"
  object_type   = "all_tables"
  schema        = "clicks"
  privileges    = ["SELECT"]
  future_tables = true
}

resource "sluice_redshift_grant" "analysts_use_clicks" {
  grantee_type = "group"
  grantee      = "analysts"
  object_type  = "schema"
  schema       = "clicks"
  privileges   = ["USAGE"]
}

# The loader writes one table.
resource "sluice_redshift_grant" "loader_events" {
  grantee_type = "user"
  grantee      = "loader"
  object_type  = "table"
  schema       = "clicks"
  object       = "events"
  privileges   = ["SELECT", "INSERT", "DELETE"]
}

# PUBLIC keeps temporary tables in the provider's database and nothing else (on PostgreSQL this
# takes away PUBLIC's default CONNECT). TEMP is TEMPORARY; ALL expands to every privilege of the
# object type; both read back without a diff.
resource "sluice_redshift_grant" "public_database" {
  grantee_type = "public"
  object_type  = "database"
  privileges   = ["TEMP"]
}

resource "sluice_redshift_grant" "etl_database" {
  grantee_type = "user"
  grantee      = "etl"
  object_type  = "database"
  privileges   = ["ALL"]
}
