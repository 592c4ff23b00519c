# The alarms of the queues and the rules. Each function's own (errors, throttles, asynchronous
# events dropped or not delivered to the failure queue) are part of its unit (functions.tf).
# Every alarm but the metric-math one below is one instance of aws_cloudwatch_metric_alarm.this, named
# "<name>-<environment>-<key>": the key and what the alarm watches are defined here, in one map.
locals {
  alarm_actions = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]

  dlq_names = merge(
    local.eventbridge_enabled ? { events-dlq = local.queue_names.events_dlq } : {},
    local.buffer_enabled ? { buffer-dlq = local.queue_names.buffer_dlq } : {},
    local.lambda_failures_enabled ? { lambda-failures = local.queue_names.lambda_failures } : {},
  )

  # Rules that are meant to deliver: alarm when their targets fail for good.
  enabled_rules = var.alarms.enabled ? { for key, rule in local.rules : key => rule if rule.enabled } : {}

  # One shape for every definition (defaults filled in, dimensions as a map), so each part below is
  # a map of one object type and the conditionals and merges type-check.
  alarm_defaults = { statistic = "Sum", period = var.alarms.period_seconds, comparison = "GreaterThanOrEqualToThreshold" }
  alarm_definitions = merge(
    # Messages waiting too long: the batch function cannot keep up, or fails on them until the
    # redrive policy moves them to the DLQ.
    { for key in ["batch-buffer-age"] : key => {
      namespace = "AWS/SQS", metric = "ApproximateAgeOfOldestMessage", dimensions = tomap({ QueueName = local.queue_names.buffer })
      statistic = "Maximum", threshold = var.alarms.buffer_age_threshold_seconds
      text      = "The oldest buffered message waits longer than ${var.alarms.buffer_age_threshold_seconds} s (the batch function falls behind or keeps failing): ${local.batch_function_name}"
    } if local.buffer_enabled },
    { for key, name in local.dlq_names : "${key}-not-empty" => {
      namespace = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", dimensions = tomap({ QueueName = name })
      statistic = "Maximum", period = 300, threshold = 0, comparison = "GreaterThanThreshold"
      text      = "Messages are waiting in the dead-letter queue ${name}: inspect and redrive them"
    } },
    # Metrics of rules on a custom (here: partner) bus carry both EventBusName and RuleName.
    { for key, _ in local.enabled_rules : "rule-${key}-failed-invocations" => {
      namespace  = "AWS/Events", metric = "FailedInvocations", threshold = 1
      dimensions = tomap({ EventBusName = local.segment_source_name, RuleName = local.rule_names[key] })
      text       = "EventBridge rule ${local.rule_names[key]} failed to deliver to a target for good (see the events DLQ)"
    } },
  )
  metric_alarms = var.alarms.enabled ? { for key, a in local.alarm_definitions : key => merge(local.alarm_defaults, a) } : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.metric_alarms

  alarm_name          = "${local.prefix}-${each.key}"
  alarm_description   = each.value.text
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags

  # Rules and queues are named before they exist: wait for them, so no alarm watches nothing.
  depends_on = [aws_cloudwatch_event_rule.this, aws_sqs_queue.events_dlq, aws_sqs_queue.buffer_dlq, aws_sqs_queue.lambda_failures]
}

# The alarms of v0.1, kept (not recreated) on upgrade (the function alarms move on from here to
# their function's unit: functions.tf).
moved {
  from = aws_cloudwatch_metric_alarm.lambda["errors"]
  to   = aws_cloudwatch_metric_alarm.this["lambda-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.lambda["throttles"]
  to   = aws_cloudwatch_metric_alarm.this["lambda-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq["events-dlq"]
  to   = aws_cloudwatch_metric_alarm.this["events-dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq["buffer-dlq"]
  to   = aws_cloudwatch_metric_alarm.this["buffer-dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq["lambda-failures"]
  to   = aws_cloudwatch_metric_alarm.this["lambda-failures-not-empty"]
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

# The tracking plan could not be applied (the handler's PlanErrors metric, Embedded Metric Format in
# var.metrics_namespace, one series per CallType): messages are kept with the reason and ingest goes
# on, so nothing else would say that the plan is broken. The sum over every call type, missing
# series as 0. (The Suppressed metric, deliveries dropped for an erased person, is expected after
# an erasure and raises no alarm.)
resource "aws_cloudwatch_metric_alarm" "plan_errors" {
  count = var.alarms.enabled && var.tracking_plan != null ? 1 : 0

  alarm_name          = "${local.prefix}-plan-errors"
  alarm_description   = "The tracking plan could not be applied to some messages (kept with the reason, replayable once the plan is fixed): check it with segment-usage validate --tracking-plan PLAN.json MESSAGE.json, fix and apply it, then segment-usage replay --kind plan --apply"
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "plan_errors"
    label       = "PlanErrors, every call type"
    return_data = true
    expression  = join(" + ", [for i, call_type in local.plan_error_call_types : "FILL(m${i}, 0)"])
  }

  dynamic "metric_query" {
    for_each = local.plan_error_call_types
    content {
      id = "m${metric_query.key}"
      metric {
        namespace   = var.metrics_namespace
        metric_name = "PlanErrors"
        dimensions  = { CallType = metric_query.value }
        stat        = "Sum"
        period      = var.alarms.period_seconds
      }
    }
  }

  tags = local.tags
}

locals {
  # The CallType values of the handler's metrics (lambda/segment_usage/observability.py).
  plan_error_call_types = ["track", "page", "screen", "identify", "group", "alias", "unknown"]
}
