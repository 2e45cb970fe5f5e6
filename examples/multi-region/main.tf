# Parallel warehouse replicas fed by one Kinesis stream: AWS's design for multi-AZ and
# multi-region Redshift ("Building Multi-AZ or Multi-Region Amazon Redshift Clusters"), as one
# module applied three times. Every change goes into the stream; each replica has its own
# subscriber (sluice-runner serve --replicas NAME, running in the replica's region) that applies
# the changes in order. Two replicas in us-east-1, one in eu-west-1.
#
#   terraform apply -var-file=replicas.tfvars
#
# See README.md for what each part does and how to add a replica.

terraform {
  required_providers {
    sluice = {
      source = "sluice-data/sluice"
    }
  }
}

# One provider configuration per replica database; all publish to the same registry, and the
# stream lives in the first one's region.
provider "sluice" {
  alias                       = "use1_a"
  region                      = "us-east-1"
  registry                    = var.registry
  skip_credentials_validation = var.local
  access_key                  = var.local ? "test" : null
  secret_key                  = var.local ? "test" : null
  endpoints {
    kinesis = var.kinesis_endpoint
  }
  redshift {
    host     = var.replicas["use1_a"].host
    port     = var.replicas["use1_a"].port
    database = var.replicas["use1_a"].database
    username = var.replicas["use1_a"].username
    password = var.passwords["use1_a"]
    sslmode  = var.sslmode
  }
}

provider "sluice" {
  alias                       = "use1_b"
  region                      = "us-east-1"
  registry                    = var.registry
  skip_credentials_validation = var.local
  access_key                  = var.local ? "test" : null
  secret_key                  = var.local ? "test" : null
  endpoints {
    kinesis = var.kinesis_endpoint
  }
  redshift {
    host     = var.replicas["use1_b"].host
    port     = var.replicas["use1_b"].port
    database = var.replicas["use1_b"].database
    username = var.replicas["use1_b"].username
    password = var.passwords["use1_b"]
    sslmode  = var.sslmode
  }
}

provider "sluice" {
  alias                       = "euw1"
  region                      = "eu-west-1"
  registry                    = var.registry
  skip_credentials_validation = var.local
  access_key                  = var.local ? "test" : null
  secret_key                  = var.local ? "test" : null
  endpoints {
    kinesis = var.kinesis_endpoint
  }
  redshift {
    host     = var.replicas["euw1"].host
    port     = var.replicas["euw1"].port
    database = var.replicas["euw1"].database
    username = var.replicas["euw1"].username
    password = var.passwords["euw1"]
    sslmode  = var.sslmode
  }
}

# The stream every change goes through.
resource "sluice_kinesis_stream" "changes" {
  provider    = sluice.use1_a
  name        = var.stream_name
  shard_count = var.shard_count
}

# The same warehouse on every replica: schema, tables, readers group and grants.
module "warehouse_use1_a" {
  source        = "../redshift-replicas/modules/warehouse"
  providers     = { sluice = sluice.use1_a }
  schema_name   = var.schema_name
  responsible   = var.responsible
  readers_group = var.replicas["use1_a"].readers_group
}

module "warehouse_use1_b" {
  source        = "../redshift-replicas/modules/warehouse"
  providers     = { sluice = sluice.use1_b }
  schema_name   = var.schema_name
  responsible   = var.responsible
  readers_group = var.replicas["use1_b"].readers_group
}

module "warehouse_euw1" {
  source        = "../redshift-replicas/modules/warehouse"
  providers     = { sluice = sluice.euw1 }
  schema_name   = var.schema_name
  responsible   = var.responsible
  readers_group = var.replicas["euw1"].readers_group
}

# The replication: which replicas apply the stream, and what its records mean. Replicas name
# runner connections (SLUICE_CONN_USE1_A, …), never a secret.
resource "sluice_stream_replication" "warehouse" {
  provider    = sluice.use1_a
  name        = "warehouse"
  description = "Every change of the ${var.schema_name} warehouse, applied in order on every replica."
  owner       = var.responsible
  stream_arn  = sluice_kinesis_stream.changes.arn
  replicas = {
    use1_a = { connection = "use1_a", region = "us-east-1" }
    use1_b = { connection = "use1_b", region = "us-east-1" }
    euw1   = { connection = "euw1", region = "eu-west-1" }
  }
  format        = "statements"
  poison        = "dead_letter"
  dead_letter   = var.dead_letter
  poll_interval = "1s"

  # the tables exist on every replica before anything is applied to them
  depends_on = [module.warehouse_use1_a, module.warehouse_use1_b, module.warehouse_euw1]
}

# A daily pipeline that loads through the stream: it puts the day's load (the files stay where
# they are; the record carries their list) and the rebuild of the day's count, and every replica
# applies both, in order.
resource "sluice_pipeline" "daily_events" {
  provider = sluice.use1_a
  name     = "daily_events"
  owner    = var.responsible
  schedule = {
    every   = "1d"
    start   = var.start
    catchup = true
  }
  parameters = { events = var.events_root }
  activities = {
    load = {
      stream_put = {
        replication = sluice_stream_replication.warehouse.name
        load = {
          table       = "${var.schema_name}.events"
          from        = "{{ .Params.events }}/{{ ds .Start }}/"
          format      = "csv"
          insert_mode = "OVERWRITE_EXISTING"
          key_columns = ["id"]
        }
      }
    }
    count = {
      depends_on = ["load"]
      stream_put = {
        replication = sluice_stream_replication.warehouse.name
        statements = [
          "DELETE FROM ${var.schema_name}.daily_counts WHERE day = '{{ ds .Start }}'",
          "INSERT INTO ${var.schema_name}.daily_counts SELECT '{{ ds .Start }}', count(*) FROM ${var.schema_name}.events WHERE occurred_at >= '{{ ts .Start }}' AND occurred_at < '{{ ts .End }}'",
        ]
      }
    }
  }
}
