# Who answers for which schema: a report from the schema comments.
data "sluice_redshift_schemas" "all" {}

output "responsible_by_schema" {
  value = { for s in data.sluice_redshift_schemas.all.schemas : s.name => s.responsible }
}
