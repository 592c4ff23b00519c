locals {
  alarm_actions = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]

  dlq_alarms = var.alarms.enabled ? merge(
    local.eventbridge_enabled ? { events-dlq = aws_sqs_queue.events_dlq[0].name } : {},
    local.buffer_enabled ? { buffer-dlq = aws_sqs_queue.buffer_dlq[0].name } : {},
    local.lambda_failures_enabled ? { lambda-failures = aws_sqs_queue.lambda_failures[0].name } : {},
  ) : {}

  lambda_alarms = var.alarms.enabled ? {
    errors = {
      metric    = "Errors"
      threshold = var.alarms.errors_threshold
      text      = "The handler raised (Segment and EventBridge retry; check the log group)"
    }
    throttles = {
      metric    = "Throttles"
      threshold = 1
      text      = "The handler was throttled (raise reserved concurrency or the account limit)"
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.lambda_alarms

  alarm_name          = "${local.prefix}-lambda-${each.key}"
  alarm_description   = "${each.value.text}: ${local.function_name}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = local.dlq_alarms

  alarm_name          = "${local.prefix}-${each.key}-not-empty"
  alarm_description   = "Messages are waiting in the dead-letter queue ${each.value}: inspect and redrive them"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}
