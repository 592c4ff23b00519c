# Coverage: the first UTC day the table holds everyone's usage from, as item CONFIG/COVERAGE
# (lambda/segment_usage/table/coverage.py). Segments read it with their definitions and answer
# unknown where a condition's window reaches before it (lambda/segment_usage/read/segments.py).
#
# `deployed` is var.coverage_start, or else the UTC day of the first apply that created the item:
# first_apply keeps that day (its input is ignored afterwards), so no later plan moves it. The item's
# other attribute, `backfilled`, belongs to `segment-usage backfill` (which only ever lowers it), so
# Terraform never updates the item it created (an update would remove attributes it did not write);
# a new coverage_start replaces it instead (coverage_input), which forgets `backfilled`: the answers
# can only become more cautious (more unknown), never wrong. A deployment that predates this file
# gets the item on its next apply, dated that day, unless coverage_start names an earlier one.
resource "terraform_data" "first_apply" {
  input = formatdate("YYYY-MM-DD", timestamp())

  lifecycle {
    ignore_changes = [input]
  }
}

resource "terraform_data" "coverage_input" {
  input = var.coverage_start
}

resource "aws_dynamodb_table_item" "coverage" {
  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key
  range_key  = aws_dynamodb_table.this.range_key

  item = jsonencode({
    pk       = { S = "CONFIG" }
    sk       = { S = "COVERAGE" }
    deployed = { S = coalesce(var.coverage_start, terraform_data.first_apply.output) }
  })

  lifecycle {
    ignore_changes       = [item]
    replace_triggered_by = [terraform_data.coverage_input]
  }
}
