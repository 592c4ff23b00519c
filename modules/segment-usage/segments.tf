# Segment definitions (var.segments) are evaluated on read by the read API and the CLI; the recording
# handler never needs them. Like the tracking plan they can pass Lambda's 4 KB environment limit, so
# they live in the table (item CONFIG/SEGMENTS) and the read function's environment carries only
# their SHA-256: a change of definitions changes that configuration, so every container reloads them.
locals {
  # jsonencode writes unset optional attributes as null; the Python parser ignores nulls.
  segments_json   = length(var.segments) == 0 ? null : jsonencode(var.segments)
  segments_sha256 = local.segments_json == null ? null : sha256(local.segments_json)
}

resource "aws_dynamodb_table_item" "segments" {
  count = local.segments_json == null ? 0 : 1

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key
  range_key  = aws_dynamodb_table.this.range_key

  item = jsonencode({
    pk       = { S = "CONFIG" }
    sk       = { S = "SEGMENTS" }
    segments = { S = local.segments_json }
    sha256   = { S = local.segments_sha256 }
  })

  lifecycle {
    precondition {
      # DynamoDB items stop at 400 KB; leave room for the keys and the hash.
      condition     = length(local.segments_json) <= 390000
      error_message = "segments: the definitions take ${length(local.segments_json)} characters as JSON, over the 390,000 that fit in one DynamoDB item: define fewer or smaller segments."
    }
  }
}
