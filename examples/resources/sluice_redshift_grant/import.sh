# A grant is imported by <grantee_type>:<grantee>:<object_type>:<database or schema>[:<table>].
# PUBLIC has an empty grantee; inside a name, write a backslash as \\ and a colon as \:.
terraform import sluice_redshift_grant.loader_events 'user:loader:table:clicks:events'
terraform import sluice_redshift_grant.analysts_read_clicks 'group:analysts:all_tables:clicks'
terraform import sluice_redshift_grant.public_database 'public::database:dev'
