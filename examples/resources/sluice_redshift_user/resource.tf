variable "loader_password" {
  type      = string
  sensitive = true
}

# A user that logs in with a password. The password is hashed before it reaches SQL.
resource "sluice_redshift_user" "loader" {
  name             = "loader"
  password         = var.loader_password
  connection_limit = 10
  valid_until      = "2027-12-31T23:59:59Z"
}

# A user without a password, for IAM logins (GetClusterCredentials).
resource "sluice_redshift_user" "analyst" {
  name = "analyst"
}
