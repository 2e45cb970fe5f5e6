output "primary" {
  description = "Schema and table IDs in the primary database."
  value = {
    schema    = module.primary.schema_name
    table_ids = module.primary.table_ids
  }
}

output "replica_eu" {
  description = "Schema and table IDs in the EU replica."
  value = {
    schema    = module.replica_eu.schema_name
    table_ids = module.replica_eu.table_ids
  }
}
