resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (var.logs.retention_in_days, default 30 days); the table, not the logs, is the record.
  #checkov:skip=CKV_AWS_158:A KMS key is optional through var.logs.kms_key_arn; log groups are encrypted by CloudWatch Logs by default.
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.logs.retention_in_days
  kms_key_id        = var.logs.kms_key_arn

  tags = local.tags
}
