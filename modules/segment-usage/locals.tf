data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The region comes from the ARN of the account's default event bus (every region has one), not from
# data.aws_region: provider 6.x deprecates both its `id` and `name`, and 5.x has no `region`, so no
# attribute of it works on both without a warning. The ARN is read at plan time, so names built
# from the region are known in the plan.
data "aws_cloudwatch_event_bus" "default" {
  name = "default"
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = split(":", data.aws_cloudwatch_event_bus.default.arn)[3]

  # Regional resources are named "<name>-<environment>"; IAM is global, so IAM role names also
  # carry the region, so that two regions or two environments never collide.
  prefix        = "${var.name}-${var.environment}"
  iam_prefix    = "${local.prefix}-${local.region}"
  function_name = local.prefix

  tags = merge(var.tags, {
    Module      = "segment-usage"
    Environment = var.environment
  })

  # ------------------------------------------------------------------------------------------------
  # Segment Lambda destination
  # ------------------------------------------------------------------------------------------------
  segment_role_enabled = var.segment_lambda_destination.enabled
  segment_role_name    = "${local.iam_prefix}-segment"

  # ------------------------------------------------------------------------------------------------
  # EventBridge
  # ------------------------------------------------------------------------------------------------
  eventbridge_enabled = var.eventbridge.enabled
  segment_source_name = local.eventbridge_enabled ? "aws.partner/segment.com/${var.eventbridge.segment_source_id}" : null
  segment_call_types  = ["track", "identify", "page", "screen", "group", "alias"]

  rules = local.eventbridge_enabled ? var.eventbridge.rules : {}
  # Rule names never derive from the source name (it contains "/"): "<name>-<environment>-<key>".
  rule_names = { for key, _ in local.rules : key => "${local.prefix}-${key}" }
  rule_patterns = {
    for key, rule in local.rules : key => rule.event_pattern != null ? jsonencode(jsondecode(rule.event_pattern)) : jsonencode(merge(
      {
        source        = [local.segment_source_name]
        "detail-type" = coalesce(rule.detail_types, local.segment_call_types)
      },
      length(rule.events) > 0 ? { detail = { event = rule.events } } : {},
    ))
  }

  lambda_rules = { for key, rule in local.rules : key => rule if rule.target == "lambda" }
  sqs_rules    = { for key, rule in local.rules : key => rule if rule.target == "sqs" }
  extra_targets = merge([
    for key, rule in local.rules : {
      for index, arn in rule.extra_targets : "${key}-${index}" => { rule = key, arn = arn, index = index }
    }
  ]...)

  buffer_enabled          = length(local.sqs_rules) > 0
  lambda_failures_enabled = length(local.lambda_rules) > 0

  # ------------------------------------------------------------------------------------------------
  # Queues: SSE-SQS unless a customer KMS key is given
  # ------------------------------------------------------------------------------------------------
  queue_names = {
    events_dlq      = "${local.prefix}-events-dlq"
    buffer          = "${local.prefix}-buffer"
    buffer_dlq      = "${local.prefix}-buffer-dlq"
    lambda_failures = "${local.prefix}-lambda-failures"
  }
  # Known before the queues exist, so the execution role and the queue policies need not wait for them.
  queue_arns = { for key, name in local.queue_names : key => "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${name}" }

  sqs_kms_key_arn           = var.sqs_buffer.kms_key_arn
  buffer_visibility_timeout = coalesce(var.sqs_buffer.visibility_timeout_seconds, 6 * var.lambda.timeout)

  # ------------------------------------------------------------------------------------------------
  # Function environment
  # ------------------------------------------------------------------------------------------------
  trackers_env = var.trackers == null ? "all" : jsonencode([
    for t in var.trackers : t.trait == null ? { type = t.type, name = t.name } : { type = t.type, name = t.name, trait = t.trait }
  ])

  tracking_plan_env = var.tracking_plan == null ? {} : {
    SEGMENT_USAGE_TRACKING_PLAN_SHA256 = sha256(var.tracking_plan)
    SEGMENT_USAGE_TRACKING_PLAN_MODE   = var.tracking_plan_mode
  }

  environment_variables = merge(
    {
      SEGMENT_USAGE_TABLE                   = aws_dynamodb_table.this.name
      SEGMENT_USAGE_TRACKERS                = local.trackers_env
      SEGMENT_USAGE_REJECTED_RETENTION_DAYS = tostring(var.rejected_retention_days)
      SEGMENT_USAGE_METRICS_NAMESPACE       = var.metrics_namespace
    },
    local.tracking_plan_env,
  )

  # What Segment, EventBridge and SQS invoke: the alias when one is created, else the function.
  alias_enabled     = var.lambda.alias_name != null
  invoke_arn_target = local.alias_enabled ? aws_lambda_alias.this[0].arn : aws_lambda_function.this.arn
  kms_key_arns      = compact([var.dynamodb.kms_key_arn, var.sqs_buffer.kms_key_arn])
}
