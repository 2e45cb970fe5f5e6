# A transient Spark cluster template. Pipelines' emr_step activities name it; sluice-runner
# starts a cluster from it for each run and always terminates it. The plan shows the exact
# RunJobFlow request (run_job_flow_json) and how many nodes it starts (node_count).
resource "sluice_emr_template" "spark" {
  name          = "spark_small"
  release_label = "emr-7.2.0"
  applications  = ["Spark", "Hadoop"]

  instance_groups = {
    master = { instance_type = "m5.xlarge" }
    core = {
      instance_type = "r5.2xlarge"
      count         = 2
      ebs           = [{ size_gb = 200, type = "gp3" }]
    }
    # Spot task nodes for extra compute; a task group needs a core group.
    task = { instance_type = "r5.2xlarge", count = 4, market = "SPOT", bid_price = "0.30" }
  }

  bootstrap_actions = [
    { name = "python deps", path = "s3://acme-emr/bootstrap/deps.sh", args = ["pyarrow==16.1.0"] },
  ]

  # Compared by meaning: reformatting this JSON, or moving to file("spark.json"), is not a change.
  configurations = jsonencode([
    {
      Classification = "spark-defaults"
      Properties = {
        "spark.dynamicAllocation.enabled" = "true"
        "spark.executor.memory"           = "8g"
      }
    },
    {
      Classification = "spark-env"
      Configurations = [
        { Classification = "export", Properties = { PYSPARK_PYTHON = "/usr/bin/python3" } },
      ]
    },
  ])

  service_role  = "EMR_DefaultRole_V2"
  job_flow_role = "EMR_EC2_DefaultRole"
  log_uri       = "s3://acme-emr/logs/"

  # One subnet per availability zone: the runner falls back to the next on a capacity error.
  subnet_ids = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  security_groups = {
    emr_managed_master = "sg-0a1b2c3d4e5f60010"
    emr_managed_slave  = "sg-0a1b2c3d4e5f60011"
    service_access     = "sg-0a1b2c3d4e5f60012"
  }

  # The safety net: EMR terminates a cluster idle this long even if the runner cannot.
  idle_timeout     = "30m"
  step_concurrency = 2

  tags = {
    cost_center = "analytics"
  }
}

# A single-node cluster for small jobs: no core and no task group.
resource "sluice_emr_template" "tiny" {
  name          = "tiny"
  release_label = "emr-7.2.0"
  applications  = ["Spark"]
  instance_groups = {
    master = { instance_type = "m5.xlarge" }
  }
  service_role  = "EMR_DefaultRole_V2"
  job_flow_role = "EMR_EC2_DefaultRole"
}
