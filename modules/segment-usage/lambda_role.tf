# Execution role: its own table, its own queues, its own log group, the given KMS keys; nothing else.
data "aws_iam_policy_document" "lambda_assume" {
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
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name                 = "${local.iam_prefix}-lambda"
  path                 = local.iam_path
  permissions_boundary = local.iam_permissions_boundary
  description          = "Execution role of the segment-usage handler ${local.function_name}"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  max_session_duration = 3600

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${local.iam_prefix}-lambda") <= 64
      error_message = "The execution role name ${local.iam_prefix}-lambda is over IAM's 64 characters: shorten name or environment."
    }
  }
}

# What the direct function does: the handler's own DynamoDB calls (local.table_actions), its hand-off
# of unrecorded messages to the buffer queue, and what Lambda does with this role on its behalf
# (logs; the on-failure destination of asynchronous EventBridge invocations). Nothing else: no
# DeleteItem or ConditionCheckItem (the handler never deletes, and its only transaction, for
# messages weeks late, holds Puts and Updates: IAM authorises those as PutItem and UpdateItem), no
# kms:Encrypt or DescribeKey (DynamoDB and SQS need only what is granted in the KMS statements).
data "aws_iam_policy_document" "lambda" {
  source_policy_documents = [data.aws_iam_policy_document.lambda_kms.json]

  statement {
    sid       = "Table"
    actions   = local.table_actions
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.buffer_enabled ? [1] : []
    content {
      sid       = "BufferHandOff"
      actions   = ["sqs:SendMessage"]
      resources = [local.queue_arns.buffer]
    }
  }

  dynamic "statement" {
    for_each = local.lambda_failures_enabled ? [1] : []
    content {
      sid       = "AsyncFailureDestination"
      actions   = ["sqs:SendMessage"]
      resources = [local.queue_arns.lambda_failures]
    }
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

# The customer keys, in a document of its own: it depends on inputs only, so the plan shows it.
# DynamoDB decrypts the table key with the caller's kms:Decrypt (it generated that key with the
# deployer's permissions when the table was created); a producer on an SQS queue with a customer
# key needs kms:GenerateDataKey and kms:Decrypt. Neither needs kms:Encrypt or kms:DescribeKey.
data "aws_iam_policy_document" "lambda_kms" {
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
    for_each = local.sqs_kms_key_arn != null && (local.buffer_enabled || local.lambda_failures_enabled) ? [local.sqs_kms_key_arn] : []
    content {
      sid       = "QueueKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "segment-usage"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
