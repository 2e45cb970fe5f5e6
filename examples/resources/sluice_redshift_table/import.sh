# A table is imported by "<schema>/<table>", split on the first slash (table names may contain
# dots and slashes; schema names may not contain a slash).
terraform import sluice_redshift_table.events clicks/events
