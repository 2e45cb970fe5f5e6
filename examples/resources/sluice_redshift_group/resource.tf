resource "sluice_redshift_user" "analyst" {
  name = "analyst"
}

# Exactly these members: a user added to the group by hand shows in the next plan.
resource "sluice_redshift_group" "readers" {
  name    = "readers"
  members = [sluice_redshift_user.analyst.name]
}
