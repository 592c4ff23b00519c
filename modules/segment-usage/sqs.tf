# Queues, each encrypted (SSE-SQS, or the caller's KMS key):
#   events_dlq      - EventBridge target dead-letter queue (events EventBridge could not deliver)
#   buffer          - buffer for rules with target = sqs and for the direct path's hand-off of messages
#                     it could not record, drained by the batch function (functions.tf, lambda_batch.tf)
#   buffer_dlq      - messages the handler failed max_receive_count times
#   lambda_failures - asynchronous invocations that failed in the function after EventBridge delivered them
#
# Queue policies are inline (`policy`) and name the queue by its ARN built from its name: the provider
# waits ~25 s for every SQS queue or queue-policy change to settle, so a separate aws_sqs_queue_policy
# would add another 25 s to every apply and destroy.

resource "aws_sqs_queue" "events_dlq" {
  count = local.eventbridge_enabled ? 1 : 0

  name                              = local.queue_names.events_dlq
  policy                            = data.aws_iam_policy_document.eventbridge_to_queue["events_dlq"].json
  message_retention_seconds         = var.sqs_buffer.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_kms_key_arn == null ? true : null
  kms_master_key_id                 = local.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sqs_kms_key_arn == null ? null : 300

  tags = local.tags
}

# The queues EventBridge writes to, each open only to the rules that target it.
locals {
  eventbridge_queue_senders = merge(
    local.eventbridge_enabled ? {
      events_dlq = { sid = "EventBridgeDeadLetters", rules = keys(local.rules) }
    } : {},
    length(local.sqs_rules) > 0 ? {
      buffer = { sid = "EventBridgeToBuffer", rules = keys(local.sqs_rules) }
    } : {},
  )
}

data "aws_iam_policy_document" "eventbridge_to_queue" {
  for_each = local.eventbridge_queue_senders

  statement {
    sid       = each.value.sid
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns[each.key]]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      # The rules' ARNs built from their names (locals.tf), so a rule with a pending change does not
      # leave the queue's policy "known after apply" (issue 19).
      values = [for key in each.value.rules : local.rule_arns[key]]
    }
  }
}

resource "aws_sqs_queue" "buffer_dlq" {
  count = local.buffer_enabled ? 1 : 0

  name                              = local.queue_names.buffer_dlq
  message_retention_seconds         = var.sqs_buffer.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_kms_key_arn == null ? true : null
  kms_master_key_id                 = local.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sqs_kms_key_arn == null ? null : 300

  tags = local.tags
}

resource "aws_sqs_queue" "buffer" {
  count = local.buffer_enabled ? 1 : 0

  name = local.queue_names.buffer
  # Open to EventBridge only when a rule targets it; the direct function sends through its role.
  policy                            = length(local.sqs_rules) > 0 ? data.aws_iam_policy_document.eventbridge_to_queue["buffer"].json : null
  visibility_timeout_seconds        = local.buffer_visibility_timeout
  message_retention_seconds         = var.sqs_buffer.message_retention_seconds
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = local.sqs_kms_key_arn == null ? true : null
  kms_master_key_id                 = local.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sqs_kms_key_arn == null ? null : 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.buffer_dlq[0].arn
    maxReceiveCount     = var.sqs_buffer.max_receive_count
  })

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.buffer_visibility_timeout >= local.buffer_visibility_minimum
      error_message = "sqs_buffer.visibility_timeout_seconds must be at least ${local.buffer_visibility_minimum}: 6 times the batch function's timeout (${local.batch_timeout} s) plus the batching window (AWS's guidance for SQS event sources)."
    }
  }
}

resource "aws_sqs_queue" "lambda_failures" {
  count = local.lambda_failures_enabled ? 1 : 0

  name                              = local.queue_names.lambda_failures
  message_retention_seconds         = var.sqs_buffer.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_kms_key_arn == null ? true : null
  kms_master_key_id                 = local.sqs_kms_key_arn
  kms_data_key_reuse_period_seconds = local.sqs_kms_key_arn == null ? null : 300

  tags = local.tags
}
