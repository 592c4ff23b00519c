output "segment_eventbridge_destination_settings" {
  description = "What to enter in Segment's Amazon EventBridge destination: AWS account ID and region."
  value       = module.segment_usage.segment_eventbridge_destination_settings
}

output "event_bus_name" {
  description = "Partner event bus (named after the Segment event source)."
  value       = module.segment_usage.event_bus_name
}

output "event_bus_arn" {
  description = "Partner event bus ARN."
  value       = module.segment_usage.event_bus_arn
}

output "rule_arns" {
  description = "Rule ARNs by key."
  value       = module.segment_usage.rule_arns
}

output "function_name" {
  description = "Handler function name."
  value       = module.segment_usage.function_name
}

output "function_arn" {
  description = "Handler function ARN."
  value       = module.segment_usage.function_arn
}

output "table_name" {
  description = "DynamoDB table."
  value       = module.segment_usage.table_name
}

output "buffer_queue_url" {
  description = "SQS buffer queue."
  value       = module.segment_usage.buffer_queue_url
}

output "buffer_queue_arn" {
  description = "SQS buffer queue ARN."
  value       = module.segment_usage.buffer_queue_arn
}

output "events_dlq_arn" {
  description = "EventBridge target dead-letter queue."
  value       = module.segment_usage.events_dlq_arn
}

output "orders_queue_url" {
  description = "The analytics queue receiving Order Completed events."
  value       = aws_sqs_queue.orders.id
}

output "orders_queue_arn" {
  description = "ARN of the analytics queue."
  value       = aws_sqs_queue.orders.arn
}

output "buffer_dlq_url" {
  description = "The buffer's dead-letter queue."
  value       = module.segment_usage.buffer_dlq_url
}

output "lambda_failures_queue_url" {
  description = "Failed asynchronous invocations of the function."
  value       = module.segment_usage.lambda_failures_queue_url
}

output "batch_function_name" {
  description = "The batch function draining the buffer queue."
  value       = module.segment_usage.batch_function_name
}

output "batch_execution_role_arn" {
  description = "The batch function's execution role."
  value       = module.segment_usage.batch_execution_role_arn
}

output "execution_role_arn" {
  description = "The direct function's execution role."
  value       = module.segment_usage.execution_role_arn
}
