output "segment_lambda_destination_settings" {
  description = "Paste these into Segment: Amazon Lambda destination > Settings."
  value       = module.segment_usage.segment_lambda_destination_settings
}

output "function_name" {
  description = "Handler function name."
  value       = module.segment_usage.function_name
}

output "function_arn" {
  description = "Handler function ARN."
  value       = module.segment_usage.function_arn
}

output "function_alias_arn" {
  description = "ARN of the live alias Segment invokes."
  value       = module.segment_usage.function_alias_arn
}

output "segment_role_arn" {
  description = "Role Segment assumes."
  value       = module.segment_usage.segment_role_arn
}

output "execution_role_arn" {
  description = "Function execution role."
  value       = module.segment_usage.execution_role_arn
}

output "table_name" {
  description = "DynamoDB table."
  value       = module.segment_usage.table_name
}

output "buffer_queue_url" {
  description = "The buffer queue (the direct path's hand-off)."
  value       = module.segment_usage.buffer_queue_url
}

output "buffer_queue_arn" {
  description = "ARN of the buffer queue."
  value       = module.segment_usage.buffer_queue_arn
}

output "buffer_dlq_url" {
  description = "The buffer's dead-letter queue."
  value       = module.segment_usage.buffer_dlq_url
}

output "batch_function_name" {
  description = "The batch function draining the buffer queue."
  value       = module.segment_usage.batch_function_name
}

output "batch_execution_role_arn" {
  description = "The batch function's execution role."
  value       = module.segment_usage.batch_execution_role_arn
}
