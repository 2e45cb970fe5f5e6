provider "sluice" {
  region = "eu-west-1"

  redshift {
    host     = "analytics.abc123xyz.eu-west-1.redshift.amazonaws.com"
    database = "dev"
    username = "terraform"
    password = var.redshift_password
  }
}

variable "redshift_password" {
  type      = string
  sensitive = true
}

resource "sluice_redshift_schema" "clicks" {
  name        = "clicks"
  owner       = "etl"
  responsible = "web-analytics@acme.example"
  description = "Raw click events from the web tracker, loaded hourly."
  quota       = 51200 # MB; Redshift only
}
