# The optional read API (var.read_api): a Lambda function URL with AWS_IAM auth in front of its own
# function (module.function["read"], functions.tf: segment_usage.read_api.handler, from the same
# code package as the recorder), whose role may only read the table. Callers attach the policy in
# output read_api_caller_policy_json.
locals {
  read_api_enabled       = var.read_api.enabled
  read_api_function_name = "${local.prefix}-read"
  read_api_role_name     = "${local.iam_prefix}-read"
  read_api_environment = merge(
    { SEGMENT_USAGE_TABLE = aws_dynamodb_table.this.name },
    local.segments_sha256 == null ? {} : { SEGMENT_USAGE_SEGMENTS_SHA256 = local.segments_sha256 },
  )
}

resource "aws_lambda_function_url" "read_api" {
  count = local.read_api_enabled ? 1 : 0

  function_name = module.function["read"].function_name
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
    resources = [local.function_arns.read]

    condition {
      test     = "StringEquals"
      variable = "lambda:FunctionUrlAuthType"
      values   = ["AWS_IAM"]
    }
  }

  statement {
    sid       = "InvokeReadApiViaUrl"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arns.read]

    condition {
      test     = "Bool"
      variable = "lambda:InvokedViaFunctionUrl"
      values   = ["true"]
    }
  }
}
