output "segment_lambda_destination_settings" {
  description = "Per environment, what to paste into that environment's Segment Amazon Lambda destination."
  value = {
    dev  = module.dev.segment_lambda_destination_settings
    prod = module.prod.segment_lambda_destination_settings
  }
}

output "function_arns" {
  description = "Handler function ARN per environment."
  value = {
    dev  = module.dev.function_arn
    prod = module.prod.function_arn
  }
}

output "segment_role_arns" {
  description = "Segment role ARN per environment."
  value = {
    dev  = module.dev.segment_role_arn
    prod = module.prod.segment_role_arn
  }
}

output "table_names" {
  description = "DynamoDB table per environment."
  value = {
    dev  = module.dev.table_name
    prod = module.prod.table_name
  }
}

output "prod_event_bus_name" {
  description = "Partner event bus of prod."
  value       = module.prod.event_bus_name
}

output "prod_rule_arns" {
  description = "Rule ARNs of prod."
  value       = module.prod.rule_arns
}
