# A schema is imported by its name.
terraform import sluice_redshift_schema.clicks clicks
