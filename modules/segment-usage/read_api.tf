# The optional read API (var.read_api): a Lambda function URL with AWS_IAM auth in front of its own
# function (segment_usage.read_api.handler, from the same code package as the recorder), whose role
# may only read the table. Callers attach the policy in output read_api_caller_policy_json.
locals {
  read_api_enabled       = var.read_api.enabled
  read_api_function_name = "${local.prefix}-read"
  read_api_role_name     = "${local.iam_prefix}-read"
  read_api_environment = merge(
    { SEGMENT_USAGE_TABLE = aws_dynamodb_table.this.name },
    local.segments_sha256 == null ? {} : { SEGMENT_USAGE_SEGMENTS_SHA256 = local.segments_sha256 },
  )
}

resource "aws_iam_role" "read_api" {
  count = local.read_api_enabled ? 1 : 0

  name                 = local.read_api_role_name
  path                 = var.iam.path
  permissions_boundary = var.iam.permissions_boundary
  description          = "Execution role of the segment-usage read API ${local.read_api_function_name}: reads the table, nothing else"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  max_session_duration = 3600

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.read_api_role_name) <= 64
      error_message = "The read API role name ${local.read_api_role_name} is over IAM's 64 characters: shorten name or environment."
    }
  }
}

data "aws_iam_policy_document" "read_api" {
  count = local.read_api_enabled ? 1 : 0

  statement {
    sid = "ReadTable"
    # Read-only, and only what Reader calls: no Scan, no writes.
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.read_api[0].arn}:*"]
  }

  dynamic "statement" {
    for_each = var.dynamodb.kms_key_arn == null ? [] : [var.dynamodb.kms_key_arn]
    content {
      sid       = "TableKey"
      actions   = ["kms:Decrypt", "kms:DescribeKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "read_api" {
  count = local.read_api_enabled ? 1 : 0

  name   = "segment-usage-read"
  role   = aws_iam_role.read_api[0].id
  policy = data.aws_iam_policy_document.read_api[0].json
}

resource "aws_cloudwatch_log_group" "read_api" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs.retention_in_days, default 30 days); the read API logs one line per request, no user data.
  #checkov:skip=CKV_AWS_158:A KMS key is optional through var.logs.kms_key_arn; log groups are encrypted by CloudWatch Logs by default.
  count = local.read_api_enabled ? 1 : 0

  name              = "/aws/lambda/${local.read_api_function_name}"
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "read_api" {
  #checkov:skip=CKV_AWS_116:Only invoked synchronously through its function URL: the caller gets the error, there is nothing to dead-letter.
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB and CloudWatch Logs through public AWS endpoints; a VPC would add NAT cost and cold-start latency to every read.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (table name, a definitions hash); Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The code is the module's own committed package; code signing is left to callers that run a signing profile.
  #checkov:skip=CKV_AWS_115:Reserved concurrency would take capacity from the account pool; callers can cap it themselves.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not needed for a single-table read; follows var.lambda.tracing_mode when set.
  count = local.read_api_enabled ? 1 : 0

  function_name = local.read_api_function_name
  description   = "segment-usage read API: a user's traits, usage and segments (${var.environment})"
  role          = aws_iam_role.read_api[0].arn
  handler       = "segment_usage.read_api.handler"
  runtime       = var.lambda.runtime
  architectures = [var.lambda.architecture]
  memory_size   = var.read_api.memory_size
  timeout       = var.read_api.timeout

  # The same code arguments as aws_lambda_function.this: one package, two entry points.
  filename          = local.package.filename
  source_code_hash  = local.package.source_code_hash
  s3_bucket         = local.package.s3_bucket
  s3_key            = local.package.s3_key
  s3_object_version = local.package.s3_object_version
  layers            = local.package.layers

  environment {
    variables = local.read_api_environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.read_api[0].name
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
    aws_cloudwatch_log_group.read_api,
    aws_iam_role_policy.read_api,
    # The function loads the definitions on first use: write them before the hash that names them.
    aws_dynamodb_table_item.config,
  ]
}

resource "aws_lambda_function_url" "read_api" {
  count = local.read_api_enabled ? 1 : 0

  function_name = aws_lambda_function.read_api[0].function_name
  # Lambda refuses any request not SigV4-signed by a principal allowed lambda:InvokeFunctionUrl.
  authorization_type = "AWS_IAM"

  dynamic "cors" {
    for_each = length(var.read_api.cors_allow_origins) == 0 ? [] : [1]
    content {
      allow_origins = var.read_api.cors_allow_origins
      allow_methods = ["GET"]
      allow_headers = ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
      max_age       = 300
    }
  }
}

# What a caller (an app's role) attaches: since October 2025 a function URL needs both actions, and
# the conditions keep them to this URL with IAM auth (not a direct Invoke of the function).
data "aws_iam_policy_document" "read_api_caller" {
  count = local.read_api_enabled ? 1 : 0

  statement {
    sid       = "InvokeReadApiUrl"
    actions   = ["lambda:InvokeFunctionUrl"]
    resources = [aws_lambda_function.read_api[0].arn]

    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }

  statement {
    sid       = "InvokeReadApiViaUrl"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.read_api[0].arn]

    condition {
      test     = "Bool"
      variable = "lambda:InvokedViaFunctionUrl"
      values   = ["true"]
    }
  }
}
