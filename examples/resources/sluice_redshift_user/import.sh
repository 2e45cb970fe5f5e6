# A user is imported by its name; set its password in the configuration afterwards.
terraform import sluice_redshift_user.loader loader
