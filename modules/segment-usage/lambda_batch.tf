# The batch function: the same code as the direct function, draining the SQS buffer through the
# event source mapping. It is a function of its own because the two paths need different timeouts:
# Segment gives the direct path 5 s per message, while a batch of up to 10,000 messages needs
# minutes (local.batch_timeout), and the buffer's visibility timeout derives from that timeout.
# Its role may read and delete buffer messages but not send any: it never hands off.

resource "aws_cloudwatch_log_group" "batch" {
  count = local.buffer_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs.retention_in_days, default 30 days); the table, not the logs, is the record.
  #checkov:skip=CKV_AWS_158:A KMS key is optional through var.logs.kms_key_arn; log groups are encrypted by CloudWatch Logs by default.
  name              = "/aws/lambda/${local.batch_function_name}"
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_arn

  tags = local.tags
}

resource "aws_iam_role" "batch" {
  count = local.buffer_enabled ? 1 : 0

  name                 = "${local.iam_prefix}-batch"
  path                 = local.iam_path
  permissions_boundary = local.iam_permissions_boundary
  description          = "Execution role of the segment-usage batch function ${local.batch_function_name}"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  max_session_duration = 3600

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${local.iam_prefix}-batch") <= 64
      error_message = "The batch execution role name ${local.iam_prefix}-batch is over IAM's 64 characters: shorten name or environment."
    }
  }
}

data "aws_iam_policy_document" "batch" {
  count = local.buffer_enabled ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.batch_kms[0].json]

  statement {
    sid       = "Table"
    actions   = local.table_actions
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.batch[0].arn}:*"]
  }

  statement {
    sid = "BufferQueue"
    # What the event source mapping calls with this role (AWSLambdaSQSQueueExecutionRole holds the
    # same three); the handler reports failed records in its response and deletes nothing itself.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [local.queue_arns.buffer]
  }

  dynamic "statement" {
    for_each = var.lambda.tracing_mode == null ? [] : [1]
    content {
      sid = "XRay"
      # X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

# The customer keys (see lambda_kms in lambda_role.tf); a consumer of the queue needs only Decrypt.
data "aws_iam_policy_document" "batch_kms" {
  count = local.buffer_enabled ? 1 : 0

  dynamic "statement" {
    for_each = var.dynamodb.kms_key_arn == null ? [] : [var.dynamodb.kms_key_arn]
    content {
      sid       = "TableKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.sqs_kms_key_arn == null ? [] : [local.sqs_kms_key_arn]
    content {
      sid       = "QueueKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "batch" {
  count = local.buffer_enabled ? 1 : 0

  name   = "segment-usage-batch"
  role   = aws_iam_role.batch[0].id
  policy = data.aws_iam_policy_document.batch[0].json
}

resource "aws_lambda_function" "batch" {
  count = local.buffer_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_116:The event source mapping retries failed records until the buffer's redrive policy moves them to the buffer DLQ, which a function DLQ would duplicate.
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB, SQS and CloudWatch Logs through public AWS endpoints; a VPC would add NAT cost for nothing it needs.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (table name, trackers, a plan hash); Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The code is the direct function's package, built deterministically from this repository; code signing is left to callers that run a signing profile.
  #checkov:skip=CKV_AWS_115:Concurrency is capped where it matters, on the event source mapping (var.sqs_buffer.maximum_concurrency); reserving it would take capacity from the account pool.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (var.lambda.tracing_mode).
  function_name = local.batch_function_name
  description   = "Drains the segment-usage SQS buffer in batches (${var.environment})"
  role          = aws_iam_role.batch[0].arn
  handler       = "segment_usage.handler.lambda_handler"
  runtime       = var.lambda.runtime
  architectures = [var.lambda.architecture]
  memory_size   = var.lambda.memory_size
  timeout       = local.batch_timeout

  # The same code arguments as aws_lambda_function.this (package.tf).
  filename          = local.package.filename
  source_code_hash  = local.package.source_code_hash
  s3_bucket         = local.package.s3_bucket
  s3_key            = local.package.s3_key
  s3_object_version = local.package.s3_object_version
  layers            = local.package.layers

  environment {
    variables = local.environment_variables
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.batch[0].name
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
    aws_cloudwatch_log_group.batch,
    aws_iam_role_policy.batch,
    aws_dynamodb_table_item.config,
  ]
}

resource "aws_lambda_event_source_mapping" "buffer" {
  count = local.buffer_enabled ? 1 : 0

  event_source_arn                   = aws_sqs_queue.buffer[0].arn
  function_name                      = aws_lambda_function.batch[0].arn
  batch_size                         = var.sqs_buffer.batch_size
  maximum_batching_window_in_seconds = var.sqs_buffer.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  enabled                            = true

  dynamic "scaling_config" {
    for_each = var.sqs_buffer.maximum_concurrency == null ? [] : [var.sqs_buffer.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.batch]
}
