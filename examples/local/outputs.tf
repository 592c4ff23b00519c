output "segment_lambda_destination_settings" {
  description = "What to paste into Segment's Amazon Lambda destination."
  value       = module.segment_usage.segment_lambda_destination_settings
}

output "region" {
  description = "Region everything lives in."
  value       = var.region
}

output "function_name" {
  description = "Handler function name."
  value       = module.segment_usage.function_name
}

output "function_arn" {
  description = "Handler function ARN."
  value       = module.segment_usage.function_arn
}

output "execution_role_arn" {
  description = "Handler execution role ARN."
  value       = module.segment_usage.execution_role_arn
}

output "segment_role_arn" {
  description = "Role Segment assumes."
  value       = module.segment_usage.segment_role_arn
}

output "table_name" {
  description = "DynamoDB table name."
  value       = module.segment_usage.table_name
}

output "event_bus_name" {
  description = "Partner event bus name (equals the event source name)."
  value       = module.segment_usage.event_bus_name
}

output "rule_arns" {
  description = "EventBridge rule ARNs by key."
  value       = module.segment_usage.rule_arns
}

output "rule_names" {
  description = "EventBridge rule names by key."
  value       = module.segment_usage.rule_names
}

output "buffer_queue_url" {
  description = "SQS buffer queue URL."
  value       = module.segment_usage.buffer_queue_url
}

output "buffer_dlq_url" {
  description = "Buffer dead-letter queue URL."
  value       = module.segment_usage.buffer_dlq_url
}

output "events_dlq_url" {
  description = "EventBridge target dead-letter queue URL."
  value       = module.segment_usage.events_dlq_url
}

output "events_dlq_arn" {
  description = "EventBridge target dead-letter queue ARN."
  value       = module.segment_usage.events_dlq_arn
}

output "lambda_failures_queue_url" {
  description = "Queue of failed asynchronous invocations."
  value       = module.segment_usage.lambda_failures_queue_url
}

output "extra_target_queue_url" {
  description = "The caller's extra SQS target receiving the track events."
  value       = aws_sqs_queue.extra.id
}

output "extra_target_queue_arn" {
  description = "ARN of the extra SQS target."
  value       = aws_sqs_queue.extra.arn
}

output "log_group_name" {
  description = "Handler log group."
  value       = module.segment_usage.log_group_name
}

output "direct_rule_mirror_queue_url" {
  description = "Queue receiving a copy of what the direct rule sends its Lambda target (the demo drains it)."
  value       = aws_sqs_queue.direct_rule_mirror.id
}

output "read_api_url" {
  description = "The read API's function URL (AWS_IAM auth)."
  value       = module.segment_usage.read_api_url
}

output "read_api_function_name" {
  description = "The read API's function (the demo runs it in-process with its environment)."
  value       = module.segment_usage.read_api_function_name
}

output "read_api_caller_policy_json" {
  description = "The policy a caller attaches to use the read API."
  value       = module.segment_usage.read_api_caller_policy_json
}

output "batch_function_name" {
  description = "The batch function draining the buffer queue."
  value       = module.segment_usage.batch_function_name
}

output "batch_execution_role_arn" {
  description = "The batch function's execution role."
  value       = module.segment_usage.batch_execution_role_arn
}

output "eventbridge_alias_arn" {
  description = "The alias the direct rule's Lambda target invokes (EventBridge events only)."
  value       = module.segment_usage.eventbridge_alias_arn
}
