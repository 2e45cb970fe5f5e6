resource "sluice_redshift_schema" "clicks" {
  name        = "clicks"
  responsible = "web-analytics@acme.example"
}

resource "sluice_redshift_table" "events" {
  schema      = sluice_redshift_schema.clicks.name
  name        = "events"
  description = "One row per tracked click, loaded hourly."

  columns = [
    { name = "event_id", type = "bigint", nullable = false, encode = "AZ64" },
    { name = "user_id", type = "bigint", nullable = false, encode = "AZ64" },
    # Defaults are SQL expressions: a string needs its quotes.
    { name = "kind", type = "varchar(32)", default = "'click'", encode = "ZSTD", comment = "click, view or scroll" },
    { name = "occurred_at", type = "timestamptz", nullable = false, default = "getdate()" },
  ]

  primary_key = ["event_id"]
  dist_style  = "KEY"
  dist_key    = "user_id"
  sort_keys   = ["occurred_at"]

  # Replacing (e.g. after a type change) or destroying the table deletes its rows only when
  # this is true.
  allow_data_loss = false
}
