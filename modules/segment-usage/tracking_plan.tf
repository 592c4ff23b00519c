# A tracking plan can exceed Lambda's 4 KB environment limit, so it lives in the table. The function's
# environment carries only its SHA-256: the handler loads the item at init and checks the hash, and a
# new plan changes the function configuration, so running environments pick it up.
resource "aws_dynamodb_table_item" "tracking_plan" {
  count = var.tracking_plan == null ? 0 : 1

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key
  range_key  = aws_dynamodb_table.this.range_key

  item = jsonencode({
    pk     = { S = "CONFIG" }
    sk     = { S = "TRACKING_PLAN" }
    plan   = { S = var.tracking_plan }
    sha256 = { S = sha256(var.tracking_plan) }
  })
}
