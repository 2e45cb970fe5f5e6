terraform {
  required_providers {
    sluice = {
      source = "sluice-data/sluice"
    }
  }
}
