# Segment's Amazon Lambda destination only: the function, its table, and the role Segment assumes.
module "segment_usage" {
  source = "../../modules/segment-usage"

  name        = "segment-usage"
  environment = var.environment
  tags        = { Team = "data-platform" }

  lambda = {
    architecture = var.lambda_architecture
    runtime      = var.lambda_runtime
    package_path = var.lambda_package_path
    # Segment invokes the "live" alias; every deploy publishes a version and moves the alias.
    alias_name = "live"
  }

  segment_lambda_destination = { enabled = true }
  segment_external_ids       = var.segment_external_ids

  trackers = [
    { type = "track", name = "Report Exported" },
    { type = "page", name = "Pricing", trait = "pricing_page_views" },
  ]

  dynamodb = {
    # Protect production data; set to false for throwaway environments.
    deletion_protection = var.environment == "prod"
  }
}
