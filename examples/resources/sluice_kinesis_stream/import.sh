# A Kinesis stream is imported by its name.
terraform import sluice_kinesis_stream.clicks clicks
