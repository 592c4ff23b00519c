# dev and prod in two regions: the same module, called once per environment with its own provider.
# IAM role names carry environment and region, so the two calls never collide in the (global) IAM.

locals {
  lambda = {
    architecture = var.lambda_architecture
    runtime      = var.lambda_runtime
    package_path = var.lambda_package_path
  }
}

module "dev" {
  source    = "../../modules/segment-usage"
  providers = { aws = aws.dev }

  name        = "segment-usage"
  environment = "dev"
  tags        = { CostCenter = "analytics-dev" }

  lambda               = local.lambda
  segment_external_ids = [var.segment_workspace_id]

  logs     = { retention_in_days = 7, log_level = "DEBUG" }
  dynamodb = { deletion_protection = false, point_in_time_recovery = false }
  alarms   = { enabled = false }
}

module "prod" {
  source    = "../../modules/segment-usage"
  providers = { aws = aws.prod }

  name        = "segment-usage"
  environment = "prod"
  tags        = { CostCenter = "analytics" }

  lambda = merge(local.lambda, { memory_size = 512, tracing_mode = "Active" })

  segment_external_ids = [var.segment_workspace_id]

  eventbridge = {
    enabled           = true
    segment_source_id = var.prod_segment_source_id
    # The default rule: every Segment call type straight to the function.
  }

  tracking_plan      = file("${path.module}/tracking-plan.json")
  tracking_plan_mode = "warn"

  logs     = { retention_in_days = 365 }
  dynamodb = { deletion_protection = false } # true in real production; false so the example tears down
}
