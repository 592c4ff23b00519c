resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Synchronous Segment invocations are retried by Segment; asynchronous (EventBridge) failures go to an on-failure SQS destination (aws_lambda_function_event_invoke_config), which supersedes a function DLQ.
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB, SQS and CloudWatch Logs through public AWS endpoints; a VPC would add NAT cost and cold-start latency against Segment's 5-second limit.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (table name, trackers, a plan hash); Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The zip is built deterministically from this repository; code signing is left to callers that run a signing profile.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (var.lambda.reserved_concurrency): reserving it by default would take capacity from the account pool.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (var.lambda.tracing_mode).
  function_name = local.function_name
  description   = "Segment events as per-user usage and traits in DynamoDB (${var.environment})"
  role          = aws_iam_role.lambda.arn
  handler       = "segment_usage.handler.lambda_handler"
  runtime       = var.lambda.runtime
  architectures = [var.lambda.architecture]
  memory_size   = var.lambda.memory_size
  timeout       = var.lambda.timeout
  publish       = local.alias_enabled

  filename          = local.package.filename
  source_code_hash  = local.package.source_code_hash
  s3_bucket         = local.package.s3_bucket
  s3_key            = local.package.s3_key
  s3_object_version = local.package.s3_object_version
  layers            = local.package.layers

  reserved_concurrent_executions = coalesce(var.lambda.reserved_concurrency, -1)

  environment {
    variables = local.direct_environment_variables
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.lambda.name
    application_log_level = var.logs.log_level
    system_log_level      = "WARN"
  }

  dynamic "tracing_config" {
    for_each = var.lambda.tracing_mode == null ? [] : [var.lambda.tracing_mode]
    content {
      mode = tracing_config.value
    }
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
    # The handler reads the plan at init: write it before the configuration that names its hash.
    aws_dynamodb_table_item.config,
  ]

  lifecycle {
    precondition {
      condition     = local.environment_bytes <= local.environment_limit_bytes
      error_message = "trackers: the function's environment would take ${local.environment_bytes} bytes, over Lambda's 4 KB (${local.environment_limit_bytes} bytes) limit; SEGMENT_USAGE_TRACKERS alone takes ${local.environment_entry_bytes["SEGMENT_USAGE_TRACKERS"]} bytes (UTF-8). List fewer trackers or shorter names, or set trackers = null to count every track, page and screen call."
    }
  }
}

resource "aws_lambda_alias" "this" {
  count = local.alias_enabled ? 1 : 0

  name             = var.lambda.alias_name
  description      = "What Segment, EventBridge and SQS invoke"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

# Asynchronous invocations (EventBridge rules targeting the function) that still fail after Lambda's
# own retries go to an SQS queue: EventBridge's target DLQ only covers delivery to Lambda.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = local.lambda_failures_enabled ? 1 : 0

  function_name                = aws_lambda_function.this.function_name
  qualifier                    = local.alias_enabled ? aws_lambda_alias.this[0].name : null
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.lambda_failures[0].arn
    }
  }

  depends_on = [aws_iam_role_policy.lambda]
}
