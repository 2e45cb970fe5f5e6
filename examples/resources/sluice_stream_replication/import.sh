# A stream replication is imported by its name: the document replications/<name>.json in the
# provider's registry. Every attribute is read from the document.
terraform import sluice_stream_replication.warehouse warehouse
