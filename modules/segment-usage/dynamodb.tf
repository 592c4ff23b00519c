# One table holds everything the handler records: per-user usage and traits, message IDs already
# applied (dedup), rejected messages (expiring through TTL) and the tracking plan (pk=CONFIG).
resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_28:Point-in-time recovery is on by default; var.dynamodb.point_in_time_recovery only lets throwaway environments turn it off.
  #checkov:skip=CKV2_AWS_16:On-demand (PAY_PER_REQUEST) by default, which needs no auto scaling; PROVISIONED callers own their scaling.
  #checkov:skip=CKV_AWS_119:An AWS-owned key is the documented default; a customer key is optional through var.dynamodb.kms_key_arn.
  name                        = local.prefix
  billing_mode                = var.dynamodb.billing_mode
  read_capacity               = var.dynamodb.billing_mode == "PROVISIONED" ? var.dynamodb.provisioned_capacity.read : null
  write_capacity              = var.dynamodb.billing_mode == "PROVISIONED" ? var.dynamodb.provisioned_capacity.write : null
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.dynamodb.deletion_protection
  table_class                 = var.dynamodb.table_class
  stream_enabled              = var.dynamodb.stream_view_type != null
  stream_view_type            = var.dynamodb.stream_view_type

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.dynamodb.point_in_time_recovery
  }

  # Without a customer key DynamoDB encrypts with an AWS-owned key (enabled = false means exactly that).
  server_side_encryption {
    enabled     = var.dynamodb.kms_key_arn != null
    kms_key_arn = var.dynamodb.kms_key_arn
  }

  tags = merge({ Name = local.prefix }, local.tags)
}
