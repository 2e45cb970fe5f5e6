# Build once, deploy many: the same warehouse module applied to two Redshift databases, the
# primary and a replica in another region, through two configurations of the sluice provider.
#
#   terraform apply -var primary_password=... -var replica_eu_password=...
#
# See README.md for the pattern and how to add another replica.

terraform {
  required_providers {
    sluice = {
      source = "sluice-data/sluice"
    }
  }
}

# One provider configuration per database. Each alias is a separate connection; a
# provider block manages exactly one database.
provider "sluice" {
  alias  = "primary"
  region = var.primary_region

  redshift {
    host     = var.primary_host
    port     = var.primary_port
    database = var.primary_database
    username = var.primary_username
    password = var.primary_password
  }
}

provider "sluice" {
  alias  = "replica_eu"
  region = var.replica_eu_region

  redshift {
    host     = var.replica_eu_host
    port     = var.replica_eu_port
    database = var.replica_eu_database
    username = var.replica_eu_username
    password = var.replica_eu_password
  }
}

# The same module, the same inputs: only the provider differs.
module "primary" {
  source = "./modules/warehouse"
  providers = {
    sluice = sluice.primary
  }

  schema_name     = var.schema_name
  responsible     = var.responsible
  readers_group   = var.readers_group
  readers_members = var.readers_members
}

module "replica_eu" {
  source = "./modules/warehouse"
  providers = {
    sluice = sluice.replica_eu
  }

  schema_name     = var.schema_name
  responsible     = var.responsible
  readers_group   = var.readers_group
  readers_members = var.readers_members
}
