# A group is imported by its name.
terraform import sluice_redshift_group.readers readers
