# Configuration that can pass Lambda's 4 KB environment limit lives in the table, as items CONFIG/<sk>:
# the tracking plan (read by the handler at init) and the segment definitions (read by the read API
# and the CLI). A function's environment carries only the text's SHA-256: a new text changes the
# function's configuration, so running containers reload it, and the loader
# (lambda/segment_usage/stored_config.py) refuses a stored text whose hash differs.
locals {
  stored_config = merge(
    var.tracking_plan == null ? {} : { TRACKING_PLAN = { attribute = "plan", text = var.tracking_plan, input = "tracking_plan" } },
    local.segments_json == null ? {} : { SEGMENTS = { attribute = "segments", text = local.segments_json, input = "segments" } },
  )
}

resource "aws_dynamodb_table_item" "config" {
  for_each = local.stored_config

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key
  range_key  = aws_dynamodb_table.this.range_key

  item = jsonencode({
    pk                     = { S = "CONFIG" }
    sk                     = { S = each.key }
    (each.value.attribute) = { S = each.value.text }
    sha256                 = { S = sha256(each.value.text) }
  })

  lifecycle {
    precondition {
      condition     = each.key != "SEGMENTS" || length(local.segment_errors) == 0
      error_message = join("\n", local.segment_errors)
    }
    precondition {
      # DynamoDB items stop at 400 KB; leave room for the keys and the hash.
      condition     = length(each.value.text) <= 390000
      error_message = "${each.value.input}: ${length(each.value.text)} characters as JSON, over the 390,000 that fit in one DynamoDB item: make it smaller."
    }
  }
}

# v0.1's tracking plan item: kept, not recreated, on upgrade.
moved {
  from = aws_dynamodb_table_item.tracking_plan[0]
  to   = aws_dynamodb_table_item.config["TRACKING_PLAN"]
}
