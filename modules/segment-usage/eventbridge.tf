# Segment creates the partner event source aws.partner/segment.com/<source id> on its first event and
# drops events until an event bus with that very name is associated with it.
#
# So the source must exist before the apply: read at plan time, it fails the plan when it does not
# (the provider's "no matching EventBridge Source found", naming this data source) instead of failing
# the bus mid-apply after a dozen other resources were created. The lookup is by name prefix
# (ListEventSources): the postcondition then refuses a longer source ID that merely starts with
# this one, and a deleted source.
data "aws_cloudwatch_event_source" "segment_partner_source_must_exist" {
  count = local.eventbridge_enabled ? 1 : 0

  name_prefix = local.segment_source_name

  lifecycle {
    postcondition {
      condition     = self.name == local.segment_source_name && self.state != "DELETED"
      error_message = "eventbridge.segment_source_id: the partner event source ${local.segment_source_name} ${self.name != local.segment_source_name ? "does not exist in account ${local.account_id}, region ${local.region} (only ${self.name} starts with that name)" : "was deleted (state ${self.state})"}. In Segment, add the Amazon EventBridge destination with this account and region and send an event, so that Segment creates the source; or correct segment_source_id."
    }
  }
}

resource "aws_cloudwatch_event_bus" "segment" {
  count = local.eventbridge_enabled ? 1 : 0

  name              = local.segment_source_name
  event_source_name = local.segment_source_name

  tags = local.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rules

  name           = local.rule_names[each.key]
  description    = coalesce(each.value.description, "Segment ${var.eventbridge.segment_source_id} to segment-usage (${each.key})")
  event_bus_name = aws_cloudwatch_event_bus.segment[0].name
  event_pattern  = local.rule_patterns[each.key]
  state          = each.value.enabled ? "ENABLED" : "DISABLED"

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.rule_names[each.key]) <= 64 && !strcontains(local.rule_names[each.key], "/")
      error_message = "EventBridge rule name ${local.rule_names[each.key]} must be at most 64 characters without '/': shorten the rule key, name or environment."
    }
  }
}

# The alias EventBridge invokes the direct function through (SEGMENT_USAGE_EVENTBRIDGE_QUALIFIER):
# the handler reads the invoked ARN, takes only EventBridge events from the partner source through
# this alias and only raw Segment messages through anything else. So a Segment message shaped like
# an EventBridge event (or an SQS batch) is never unwrapped into other people's messages. It points
# at the same version as what Segment invokes: the published version behind lambda.alias_name, or
# $LATEST when nothing is published.
resource "aws_lambda_alias" "eventbridge" {
  count = local.eventbridge_to_direct ? 1 : 0

  name             = local.eventbridge_qualifier
  description      = "What EventBridge rules with target = lambda invoke: EventBridge events only"
  function_name    = module.function["direct"].function_name
  function_version = module.function["direct"].version
}

# Asynchronous invocations are configured per qualifier: the EventBridge alias's own, with the same
# on-failure queue and limits as the function's (functions.tf, async_invoke).
resource "aws_lambda_function_event_invoke_config" "eventbridge" {
  count = local.eventbridge_to_direct ? 1 : 0

  function_name                = module.function["direct"].function_name
  qualifier                    = aws_lambda_alias.eventbridge[0].name
  maximum_retry_attempts       = local.function_definitions.direct.async_invoke.maximum_retry_attempts
  maximum_event_age_in_seconds = local.function_definitions.direct.async_invoke.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = local.function_definitions.direct.async_invoke.destination_arn
    }
  }

  # Lambda checks the destination with the execution role: its policy must grant SendMessage first.
  depends_on = [module.function]
}

# Rules with target = lambda: EventBridge invokes the function's EventBridge alias asynchronously,
# retries per the rule's retry policy, then sends the event to the dead-letter queue.
resource "aws_cloudwatch_event_target" "lambda" {
  for_each = local.lambda_rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = aws_cloudwatch_event_rule.this[each.key].event_bus_name
  target_id      = "segment-usage-lambda"
  arn            = aws_lambda_alias.eventbridge[0].arn

  retry_policy {
    maximum_event_age_in_seconds = each.value.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = each.value.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq[0].arn
  }

  depends_on = [aws_lambda_permission.eventbridge_alias]
}

# Each rule may invoke the EventBridge alias only. (Before the alias existed, the grant was on what
# Segment invokes, as aws_lambda_permission.eventbridge: a permission cannot change its qualifier in
# place, so an upgrade creates these and removes those.)
resource "aws_lambda_permission" "eventbridge_alias" {
  for_each = local.lambda_rules

  statement_id  = "eventbridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = module.function["direct"].function_name
  qualifier     = aws_lambda_alias.eventbridge[0].name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this[each.key].arn
}

# Rules with target = sqs: events wait in the buffer queue, drained in batches by the event source mapping.
resource "aws_cloudwatch_event_target" "sqs" {
  for_each = local.sqs_rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = aws_cloudwatch_event_rule.this[each.key].event_bus_name
  target_id      = "segment-usage-buffer"
  arn            = aws_sqs_queue.buffer[0].arn

  retry_policy {
    maximum_event_age_in_seconds = each.value.retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = each.value.retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq[0].arn
  }
}

# Selective routing: the same matched events also go to the caller's SQS queues or SNS topics.
resource "aws_cloudwatch_event_target" "extra" {
  for_each = local.extra_targets

  rule           = aws_cloudwatch_event_rule.this[each.value.rule].name
  event_bus_name = aws_cloudwatch_event_rule.this[each.value.rule].event_bus_name
  target_id      = "extra-${each.value.index}"
  arn            = each.value.arn

  # A FIFO queue accepts a message only with a message group (variables.tf requires one for them).
  dynamic "sqs_target" {
    for_each = each.value.fifo ? [local.rules[each.value.rule].message_group_id] : []
    content {
      message_group_id = sqs_target.value
    }
  }

  retry_policy {
    maximum_event_age_in_seconds = local.rules[each.value.rule].retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = local.rules[each.value.rule].retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq[0].arn
  }

  lifecycle {
    # EventBridge delivers across regions only to event buses: a queue or topic elsewhere would
    # fail every delivery into the DLQ.
    precondition {
      condition     = each.value.region == local.region
      error_message = "eventbridge.rules.${each.value.rule}.extra_targets: ${each.value.arn} is in ${each.value.region}, not in the module's region ${local.region}; EventBridge rules deliver to SQS queues and SNS topics in their own region only."
    }
  }
}
