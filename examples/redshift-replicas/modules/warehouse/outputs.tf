output "schema_name" {
  description = "Name of the warehouse schema."
  value       = sluice_redshift_schema.this.name
}

output "table_ids" {
  description = "IDs (<schema>/<table>) of the warehouse tables, by table."
  value = {
    events       = sluice_redshift_table.events.id
    daily_counts = sluice_redshift_table.daily_counts.id
  }
}

output "readers_group" {
  description = "Name of the readers group."
  value       = sluice_redshift_group.readers.name
}
