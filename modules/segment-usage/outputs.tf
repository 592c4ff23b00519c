output "segment_lambda_destination_settings" {
  description = "What to paste into Segment's Amazon Lambda destination settings: region, role_address (Role Address), lambda_arn (Lambda; the alias ARN when an alias is created), external_id (the first external ID; Segment shows it read-only) and all external_ids. Null when segment_lambda_destination is disabled."
  value = local.segment_role_enabled ? {
    region       = local.region
    role_address = aws_iam_role.segment[0].arn
    lambda_arn   = local.invoke_arn_target
    external_id  = try(var.segment_external_ids[0], null)
    external_ids = var.segment_external_ids
  } : null
}

output "segment_eventbridge_destination_settings" {
  description = "What to enter in Segment's Amazon EventBridge destination settings: account_id (AWS Account ID) and region (Region), with the event_bus_name the partner source is associated with. Null when eventbridge is disabled."
  value = local.eventbridge_enabled ? {
    account_id     = local.account_id
    region         = local.region
    event_bus_name = aws_cloudwatch_event_bus.segment[0].name
  } : null
}

output "region" {
  description = "The region the module deploys to (from the ARN of the account's default event bus; known at plan time)."
  value       = local.region
}

output "account_id" {
  description = "The AWS account the module deploys to."
  value       = local.account_id
}

output "function_arn" {
  description = "ARN of the handler function (unqualified)."
  value       = module.function["direct"].arn
}

output "function_name" {
  description = "Name of the handler function."
  value       = module.function["direct"].function_name
}

output "function_alias_arn" {
  description = "ARN of the function alias, or null when lambda.alias_name is not set."
  value       = module.function["direct"].alias_arn
}

output "function_version" {
  description = "Version the alias points at ($LATEST when no alias is created)."
  value       = module.function["direct"].version
}

output "batch_function_name" {
  description = "Name of the batch function that drains the buffer queue (same code, its own timeout and role); null when there is no buffer queue."
  value       = local.buffer_enabled ? module.function["batch"].function_name : null
}

output "batch_function_arn" {
  description = "ARN of the batch function; null when there is no buffer queue."
  value       = local.buffer_enabled ? module.function["batch"].arn : null
}

output "batch_execution_role_arn" {
  description = "ARN of the batch function's execution role; null when there is no buffer queue."
  value       = local.buffer_enabled ? module.function["batch"].role_arn : null
}

output "execution_role_arn" {
  description = "ARN of the direct function's execution role."
  value       = module.function["direct"].role_arn
}

output "execution_role_name" {
  description = "Name of the function's execution role."
  value       = module.function["direct"].role_name
}

output "segment_role_arn" {
  description = "ARN of the role Segment assumes (Role Address), or null when segment_lambda_destination is disabled."
  value       = local.segment_role_enabled ? aws_iam_role.segment[0].arn : null
}

output "segment_role_name" {
  description = "Name of the role Segment assumes, or null when segment_lambda_destination is disabled."
  value       = local.segment_role_enabled ? aws_iam_role.segment[0].name : null
}

output "table_name" {
  description = "Name of the DynamoDB table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = module.function["direct"].log_group_name
}

output "log_group_arn" {
  description = "ARN of the function's CloudWatch log group."
  value       = module.function["direct"].log_group_arn
}

output "event_source_name" {
  description = "The Segment partner event source the bus is bound to (aws.partner/segment.com/<source id>), or null when eventbridge is disabled."
  value       = local.segment_source_name
}

output "event_bus_name" {
  description = "Name of the partner event bus (equal to the event source name), or null when eventbridge is disabled."
  value       = local.eventbridge_enabled ? aws_cloudwatch_event_bus.segment[0].name : null
}

output "event_bus_arn" {
  description = "ARN of the partner event bus, or null when eventbridge is disabled."
  value       = local.eventbridge_enabled ? aws_cloudwatch_event_bus.segment[0].arn : null
}

output "rule_names" {
  description = "EventBridge rule names by rule key."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.name }
}

output "rule_arns" {
  description = "EventBridge rule ARNs by rule key (allow these as aws:SourceArn in the policies of extra SQS/SNS targets)."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.arn }
}

output "events_dlq_url" {
  description = "URL of the EventBridge target dead-letter queue, or null when eventbridge is disabled."
  value       = local.eventbridge_enabled ? aws_sqs_queue.events_dlq[0].id : null
}

output "events_dlq_arn" {
  description = "ARN of the EventBridge target dead-letter queue, or null when eventbridge is disabled."
  value       = local.eventbridge_enabled ? aws_sqs_queue.events_dlq[0].arn : null
}

output "buffer_queue_url" {
  description = "URL of the SQS buffer queue (the direct path's hand-off, and rules with target = sqs), drained by the batch function; null when the Segment Lambda destination is disabled and no rule targets sqs."
  value       = local.buffer_enabled ? aws_sqs_queue.buffer[0].id : null
}

output "buffer_queue_arn" {
  description = "ARN of the SQS buffer queue; null when the Segment Lambda destination is disabled and no rule targets sqs."
  value       = local.buffer_enabled ? aws_sqs_queue.buffer[0].arn : null
}

output "buffer_dlq_url" {
  description = "URL of the buffer's dead-letter queue (what the batch function failed on max_receive_count times); null when there is no buffer queue."
  value       = local.buffer_enabled ? aws_sqs_queue.buffer_dlq[0].id : null
}

output "buffer_dlq_arn" {
  description = "ARN of the buffer's dead-letter queue; null when there is no buffer queue."
  value       = local.buffer_enabled ? aws_sqs_queue.buffer_dlq[0].arn : null
}

output "lambda_failures_queue_url" {
  description = "URL of the queue receiving failed asynchronous invocations, or null when no rule targets lambda."
  value       = local.lambda_failures_enabled ? aws_sqs_queue.lambda_failures[0].id : null
}

output "lambda_failures_queue_arn" {
  description = "ARN of the queue receiving failed asynchronous invocations, or null when no rule targets lambda."
  value       = local.lambda_failures_enabled ? aws_sqs_queue.lambda_failures[0].arn : null
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the buffer queue to the batch function; null when there is no buffer queue."
  value       = local.buffer_enabled ? aws_lambda_event_source_mapping.buffer[0].uuid : null
}

output "alarm_arns" {
  description = "CloudWatch alarm ARNs by name."
  value = merge(
    merge([for key, fn in module.function : fn.alarm_arns]...),
    { for key, alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name => alarm.arn },
    { for key, alarm in aws_cloudwatch_metric_alarm.rules_match_nothing : alarm.alarm_name => alarm.arn },
    { for key, alarm in aws_cloudwatch_metric_alarm.plan_errors : alarm.alarm_name => alarm.arn },
  )
}

output "read_api_url" {
  description = "HTTPS URL of the read API (GET <url>v1/users/{userId}, SigV4-signed for service lambda), or null when read_api is disabled."
  value       = local.read_api_enabled ? aws_lambda_function_url.read_api[0].function_url : null
}

output "read_api_function_name" {
  description = "Name of the read API's function, or null when read_api is disabled."
  value       = local.read_api_enabled ? module.function["read"].function_name : null
}

output "read_api_caller_policy_json" {
  description = "IAM policy document (JSON) to attach to the roles that call the read API: lambda:InvokeFunctionUrl (AWS_IAM auth) and lambda:InvokeFunction via the URL, on the read function only; null when read_api is disabled."
  value       = local.read_api_enabled ? data.aws_iam_policy_document.read_api_caller[0].json : null
}

output "eventbridge_alias_arn" {
  description = "ARN of the alias EventBridge rules with target = lambda invoke (invocations through it accept only EventBridge events from the partner source), or null without such rules."
  value       = local.eventbridge_to_direct ? aws_lambda_alias.eventbridge[0].arn : null
}

output "functions" {
  description = "Every function the module created, by key (direct; batch, when there is a buffer queue; read, with read_api): { name, arn (unqualified), alias_arn (null without lambda.alias_name), invoke_arn (what callers invoke: the alias, or the function), role_name, role_arn, log_group_name, log_group_arn }. The older flat outputs (function_arn, batch_function_arn, execution_role_arn, ...) remain."
  value = {
    for key, fn in module.function : key => {
      name           = fn.function_name
      arn            = fn.arn
      alias_arn      = fn.alias_arn
      invoke_arn     = fn.target_arn
      role_name      = fn.role_name
      role_arn       = fn.role_arn
      log_group_name = fn.log_group_name
      log_group_arn  = fn.log_group_arn
    }
  }
}

output "layer_arn" {
  description = "ARN (with version) of the dependencies layer the functions run with; null when lambda.package_path or lambda.package_s3 deploys your own self-contained zip (no layer then)."
  value       = local.own_package ? null : aws_lambda_layer_version.dependencies[0].arn
}

output "table_stream_arn" {
  description = "ARN of the table's DynamoDB stream, or null when dynamodb.stream_view_type is null (no stream)."
  value       = var.dynamodb.stream_view_type == null ? null : aws_dynamodb_table.this.stream_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (console: CloudWatch > Dashboards), or null when dashboard.enabled is false."
  value       = local.dashboard_enabled ? aws_cloudwatch_dashboard.this[0].dashboard_name : null
}
