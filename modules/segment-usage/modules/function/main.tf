locals {
  log_group_name = "/aws/lambda/${var.function_name}"
  alias_enabled  = var.alias_name != null

  # The log group's ARN built from its name, known before anything exists (issue 19): a policy document that
  # read aws_cloudwatch_log_group.this.arn would be read at apply time whenever the log group has a
  # pending change (a new retention, say), so the plan would show the role's policy as changing on
  # every unrelated change. This is exactly the ARN CloudWatch Logs gives the log group.
  log_group_arn = "arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:${local.log_group_name}"

  # The function's alarms: every function's errors and throttles; with asynchronous invocations,
  # the events Lambda dropped (too old, or retries used up) and failed to hand to the destination,
  # which raise nowhere else.
  alarm_metrics = merge(
    {
      errors    = { metric = "Errors", threshold = try(var.alarms.errors_threshold, 1) }
      throttles = { metric = "Throttles", threshold = 1 }
    },
    var.async_invoke == null ? {} : {
      async-events-dropped          = { metric = "AsyncEventsDropped", threshold = 1 }
      destination-delivery-failures = { metric = "DestinationDeliveryFailures", threshold = 1 }
    },
  )
  alarms = var.alarms == null ? {} : local.alarm_metrics

  failed_preconditions = [for check in var.preconditions : check.error_message if !check.condition]
}

# ------------------------------------------------------------------------------------------------
# Execution role
# ------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role.name
  path                 = var.role.path
  permissions_boundary = var.role.permissions_boundary
  description          = var.role.description
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600

  tags = var.tags
}

data "aws_iam_policy_document" "keys" {
  dynamic "statement" {
    for_each = var.key_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

# The caller's statements, the function's own log stream (what Lambda writes with the role) and,
# with tracing, X-Ray; nothing else.
data "aws_iam_policy_document" "this" {
  source_policy_documents = [data.aws_iam_policy_document.keys.json]

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  # In a VPC, Lambda creates and deletes the function's network interfaces with this role: the EC2
  # actions of AWS's managed AWSLambdaVPCAccessExecutionRole (its logs actions are the Logs statement
  # above, on this log group only). They support no narrower resource than "*" for Describe*, and
  # Lambda names no interface before creating it.
  dynamic "statement" {
    for_each = var.vpc_config == null ? [] : [1]
    content {
      sid = "VpcNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }

  # A customer key for the environment: Lambda decrypts it for this function only (the encryption
  # context Lambda sets is LambdaFunctionName).
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EnvironmentKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:LambdaFunctionName"
        values   = [var.function_name]
      }
    }
  }

  dynamic "statement" {
    for_each = var.tracing_mode == null ? [] : [1]
    content {
      sid = "XRay"
      # X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.role.policy_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# The caller's own managed policies (for example an organisation's required deny policy), keyed
# by position so that ARNs unknown until apply can still be listed.
resource "aws_iam_role_policy_attachment" "additional" {
  for_each = { for index, arn in var.additional_policy_arns : tostring(index) => arn }

  role       = aws_iam_role.this.name
  policy_arn = each.value
}

# ------------------------------------------------------------------------------------------------
# Log group and function
# ------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs.retention_in_days, default 30 days); the table, not the logs, is the record.
  #checkov:skip=CKV_AWS_158:A KMS key is optional through var.logs.kms_key_arn; log groups are encrypted by CloudWatch Logs by default.
  name              = local.log_group_name
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:No function DLQ: synchronous callers (Segment, the read API's function URL) get the error and retry, asynchronous (EventBridge) failures go to the on-failure destination of var.async_invoke, and SQS batches end in the buffer's own DLQ through its redrive policy.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (var.vpc_config): the functions reach only DynamoDB, SQS and CloudWatch Logs through public AWS endpoints, and a VPC adds NAT or endpoint cost and cold-start latency against Segment's 5-second limit.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (table name, trackers, queue URL, configuration hashes); Lambda encrypts it at rest with an AWS-managed key unless var.kms_key_arn names a customer key.
  #checkov:skip=CKV_AWS_272:The zip is built deterministically from this repository; code signing is optional (var.code_signing_config_arn) for callers that run a signing profile.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (var.reserved_concurrency): reserving it by default would take capacity from the account pool; the batch function is capped on its event source mapping.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (var.tracing_mode).
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn
  handler       = var.handler
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout
  publish       = local.alias_enabled

  filename          = var.package.filename
  source_code_hash  = var.package.source_code_hash
  s3_bucket         = var.package.s3_bucket
  s3_key            = var.package.s3_key
  s3_object_version = var.package.s3_object_version
  layers            = var.package.layers

  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)
  kms_key_arn                    = var.kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  environment {
    variables = var.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.logs.log_level
    system_log_level      = "WARN"
  }

  dynamic "tracing_config" {
    for_each = var.tracing_mode == null ? [] : [var.tracing_mode]
    content {
      mode = tracing_config.value
    }
  }

  tags = var.tags

  # The policy names the log group by its ARN built from the name, not by reference: the function
  # waits for both explicitly (and for the caller's managed policies, such as a VPC one).
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_iam_role_policy_attachment.additional,
    var.wait_for,
  ]

  lifecycle {
    precondition {
      condition     = length(local.failed_preconditions) == 0
      error_message = join("\n", local.failed_preconditions)
    }
  }
}

resource "aws_lambda_alias" "this" {
  count = local.alias_enabled ? 1 : 0

  name             = var.alias_name
  description      = "What Segment, EventBridge and SQS invoke"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

# Asynchronous invocations (EventBridge rules targeting the function) that still fail after Lambda's
# own retries go to a queue: EventBridge's target DLQ only covers delivery to Lambda.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.async_invoke == null ? 0 : 1

  function_name                = aws_lambda_function.this.function_name
  qualifier                    = local.alias_enabled ? aws_lambda_alias.this[0].name : null
  maximum_retry_attempts       = var.async_invoke.maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_invoke.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = var.async_invoke.destination_arn
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

# ------------------------------------------------------------------------------------------------
# Alarms
# ------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.alarms.name_prefix}-${each.key}"
  alarm_description   = var.alarms.descriptions[each.key]
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = var.function_name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarms.actions
  ok_actions          = var.alarms.actions

  tags = var.tags
}
