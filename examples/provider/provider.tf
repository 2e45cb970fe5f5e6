# Credentials and region follow the AWS provider's chain: these attributes, then the
# environment (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ...), then the shared config file.
provider "sluice" {
  region = "eu-west-1"

  # Negotiated rates, or regions and instance types the embedded price table lacks, for the
  # estimated_* attributes (see the "Costs" guide). Optional.
  prices = "${path.module}/prices.json"

  # Tags applied to every taggable resource; a resource's own tags win on a conflict.
  default_tags {
    tags = {
      team = "data"
    }
  }
}

# Against local stand-ins (see the "Local development" guide): static dummy credentials,
# no STS check, and an endpoint per service.
provider "sluice" {
  alias                       = "local"
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true

  endpoints {
    kinesis = "http://127.0.0.1:4568"
  }
}
