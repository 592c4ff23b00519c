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

  # EventBridge invokes the function asynchronously: Lambda can drop an event (too old, or retries
  # used up) and can fail to put a failed one on the on-failure queue. Neither raises anywhere else.
  async_alarms = var.alarms.enabled && local.lambda_failures_enabled ? {
    async-events-dropped = {
      metric = "AsyncEventsDropped"
      text   = "Lambda dropped asynchronous (EventBridge) events without running the handler to completion"
    }
    destination-delivery-failures = {
      metric = "DestinationDeliveryFailures"
      text   = "Lambda could not send failed asynchronous (EventBridge) events to the on-failure queue"
    }
  } : {}

  # Rules that are meant to deliver: alarm when their targets fail for good.
  enabled_rules = var.alarms.enabled ? { for key, rule in local.rules : key => rule if rule.enabled } : {}
}

resource "aws_cloudwatch_metric_alarm" "lambda_async" {
  for_each = local.async_alarms

  alarm_name          = "${local.prefix}-lambda-${each.key}"
  alarm_description   = "${each.value.text}: ${local.function_name}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = local.function_name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

# Metrics of rules on a custom (here: partner) bus carry both EventBusName and RuleName.
resource "aws_cloudwatch_metric_alarm" "rule_failed_invocations" {
  for_each = local.enabled_rules

  alarm_name          = "${local.prefix}-rule-${each.key}-failed-invocations"
  alarm_description   = "EventBridge rule ${local.rule_names[each.key]} failed to deliver to a target for good (see the events DLQ)"
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { EventBusName = local.segment_source_name, RuleName = local.rule_names[each.key] }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags

  depends_on = [aws_cloudwatch_event_rule.this]
}

# Segment delivers (AWS/Events "Events": partner events ingested, by EventSourceName) while no rule
# matched anything: the patterns no longer fit what Segment sends (for example a remapped
# DetailType in a caller's own event_pattern), and without this alarm nothing would say so.
# MatchedEvents is only published when non-zero, hence FILL(..., 0).
resource "aws_cloudwatch_metric_alarm" "rules_match_nothing" {
  count = length(local.enabled_rules) > 0 ? 1 : 0

  alarm_name          = "${local.prefix}-rules-match-nothing"
  alarm_description   = "Segment delivered events to ${local.segment_source_name} but no segment-usage rule matched any for ${var.alarms.unmatched_window_seconds} s: check the rules' event patterns against what Segment sends"
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "unmatched"
    label       = "Ingested while no rule matched"
    return_data = true
    expression  = "IF(FILL(ingested, 0) > 0 AND (${join(" + ", [for i, key in keys(local.enabled_rules) : "FILL(matched${i}, 0)"])}) == 0, 1, 0)"
  }

  metric_query {
    id = "ingested"
    metric {
      namespace   = "AWS/Events"
      metric_name = "Events"
      dimensions  = { EventSourceName = local.segment_source_name }
      stat        = "Sum"
      period      = var.alarms.unmatched_window_seconds
    }
  }

  dynamic "metric_query" {
    for_each = keys(local.enabled_rules)
    content {
      id = "matched${metric_query.key}"
      metric {
        namespace   = "AWS/Events"
        metric_name = "MatchedEvents"
        dimensions  = { EventBusName = local.segment_source_name, RuleName = local.rule_names[metric_query.value] }
        stat        = "Sum"
        period      = var.alarms.unmatched_window_seconds
      }
    }
  }

  tags = local.tags

  depends_on = [aws_cloudwatch_event_rule.this]
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.lambda_alarms

  alarm_name          = "${local.prefix}-lambda-${each.key}"
  alarm_description   = "${each.value.text}: ${local.function_name}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = local.function_name }
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
