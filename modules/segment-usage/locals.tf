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

  # The module's own tags first: a caller's Module or Environment tag wins (issue 19).
  tags = merge({
    Module      = "segment-usage"
    Environment = var.environment
  }, var.tags)

  # The table's ARN from its name (the table is named local.prefix): known at plan time, so the
  # execution roles' policies never wait on a pending change to the table.
  table_arn = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.prefix}"
  # Likewise each function's unqualified ARN, from its name (functions.tf).
  function_arns = {
    for key, fn in local.function_definitions : key => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${fn.function_name}"
  }

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

  rules = local.eventbridge_enabled ? var.eventbridge.rules : {}
  # Rule names never derive from the source name (it contains "/"): "<name>-<environment>-<key>".
  rule_names = { for key, _ in local.rules : key => "${local.prefix}-${key}" }
  # A rule on a custom (here: partner) bus is arn:...:rule/<bus name>/<rule name>.
  rule_arns = { for key, name in local.rule_names : key => "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.segment_source_name}/${name}" }
  # Patterns match the partner source and the Segment message itself (detail.type, detail.event),
  # never the envelope's detail-type: Segment's Actions destination lets users remap DetailType, and a
  # rule on lowercase detail-type values would then match nothing without a word. With no
  # detail_types the rule takes every event of the source; the handler rejects (and keeps) anything
  # that is not a valid Segment message, so nothing is dropped unseen.
  rule_patterns = {
    for key, rule in local.rules : key => rule.event_pattern != null ? jsonencode(jsondecode(rule.event_pattern)) : jsonencode(merge(
      { source = [local.segment_source_name] },
      rule.detail_types == null && length(rule.events) == 0 ? {} : {
        detail = merge(
          rule.detail_types == null ? {} : { type = rule.detail_types },
          length(rule.events) > 0 ? { event = rule.events } : {},
        )
      },
    ))
  }

  lambda_rules = { for key, rule in local.rules : key => rule if rule.target == "lambda" }
  sqs_rules    = { for key, rule in local.rules : key => rule if rule.target == "sqs" }
  extra_targets = merge([
    for key, rule in local.rules : {
      for index, arn in rule.extra_targets : "${key}-${index}" => {
        rule   = key
        arn    = arn
        index  = index
        region = split(":", arn)[3]
        fifo   = split(":", arn)[2] == "sqs" && endswith(arn, ".fifo")
      }
    }
  ]...)

  # The buffer queue (and the batch function draining it) serves rules with target = sqs, and the
  # direct path, which hands off to it any message it could not record for a transient reason.
  buffer_enabled          = local.segment_role_enabled || length(local.sqs_rules) > 0
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

  sqs_kms_key_arn = var.sqs_buffer.kms_key_arn
  # The buffer's URL in SQS's documented form (https://sqs.<region>.<dns suffix>/<account>/<name>),
  # known before the queue exists: the function need not wait the ~25 s the provider spends on a new
  # queue, and the plan can size the function's environment.
  buffer_queue_url = "https://sqs.${local.region}.${data.aws_partition.current.dns_suffix}/${local.account_id}/${local.queue_names.buffer}"

  # ------------------------------------------------------------------------------------------------
  # Function environment
  # ------------------------------------------------------------------------------------------------
  # Unset optional members are left out (the function's environment is limited to 4 KB).
  trackers_env = var.trackers == null ? "all" : jsonencode([
    for t in var.trackers : merge(
      { type = t.type, name = t.name },
      t.trait == null ? {} : { trait = t.trait },
      length(t.where) == 0 ? {} : {
        where = { for path, c in t.where : path => merge(
          c.equals == null ? {} : { equals = c.equals },
          c.in == null ? {} : { in = c.in },
          c.gt == null ? {} : { gt = c.gt },
          c.gte == null ? {} : { gte = c.gte },
          c.lt == null ? {} : { lt = c.lt },
          c.lte == null ? {} : { lte = c.lte },
        ) }
      },
      t.sum == null ? {} : { sum = t.sum },
    )
  ])

  tracking_plan_env = var.tracking_plan == null ? {} : {
    SEGMENT_USAGE_TRACKING_PLAN_SHA256 = sha256(var.tracking_plan)
    SEGMENT_USAGE_TRACKING_PLAN_MODE   = var.tracking_plan_mode
  }

  # What both ingest functions share: recording settings, identity rules, Engage, erasure.
  environment_variables = merge(
    {
      SEGMENT_USAGE_TABLE                      = aws_dynamodb_table.this.name
      SEGMENT_USAGE_TRACKERS                   = local.trackers_env
      SEGMENT_USAGE_REJECTED_RETENTION_DAYS    = tostring(var.rejected_retention_days)
      SEGMENT_USAGE_METRICS_NAMESPACE          = var.metrics_namespace
      SEGMENT_USAGE_MAX_USERS_PER_ANONYMOUS_ID = tostring(var.identity.max_users_per_anonymous_id)
      SEGMENT_USAGE_DELETE_MESSAGES            = tostring(var.erasure.delete_messages)
    },
    local.tracking_plan_env,
    # Unset: the handler's built-in blocked values; unset or empty: no Engage space sets traits.
    var.identity.blocked_values == null ? {} : { SEGMENT_USAGE_BLOCKED_IDS = jsonencode(var.identity.blocked_values) },
    length(var.engage.space_ids) == 0 ? {} : { SEGMENT_USAGE_ENGAGE_SPACE_IDS = jsonencode(var.engage.space_ids) },
    var.data_retention_days == null ? {} : { SEGMENT_USAGE_DATA_RETENTION_DAYS = tostring(var.data_retention_days) },
  )

  # What each function accepts is decided here, by the deployment, never by a payload (issue 17):
  # - direct: raw Segment messages (Segment's Lambda destination); with rules of target = lambda
  #   also EventBridge events, but only through the alias EventBridge invokes (eventbridge.tf): an
  #   invocation through that alias takes only EventBridge events from the partner source, every
  #   other invocation only raw Segment messages;
  # - batch: SQS records from the buffer queue only; their bodies may be EventBridge events (rules
  #   with target = sqs) from the partner source, or the direct path's hand-offs. No source: none.
  eventbridge_qualifier = "eventbridge"
  eventbridge_to_direct = length(local.lambda_rules) > 0
  partner_sources       = local.eventbridge_enabled ? [local.segment_source_name] : []
  direct_environment_variables = merge(
    local.environment_variables,
    local.buffer_enabled ? { SEGMENT_USAGE_BUFFER_QUEUE_URL = local.buffer_queue_url } : {},
    { SEGMENT_USAGE_ACCEPT = jsonencode(local.eventbridge_to_direct ? ["segment", "eventbridge"] : ["segment"]) },
    local.eventbridge_to_direct ? {
      SEGMENT_USAGE_EVENTBRIDGE_QUALIFIER = local.eventbridge_qualifier
      SEGMENT_USAGE_PARTNER_SOURCES       = jsonencode(local.partner_sources)
    } : {},
  )
  batch_environment_variables = merge(
    local.environment_variables,
    {
      SEGMENT_USAGE_ACCEPT          = jsonencode(["sqs"])
      SEGMENT_USAGE_QUEUE_ARNS      = jsonencode([local.queue_arns.buffer])
      SEGMENT_USAGE_PARTNER_SOURCES = jsonencode(local.partner_sources)
    },
  )

  # Lambda caps a function's environment at 4 KB: keys plus values, in bytes (UTF-8), not characters.
  # Counted at plan time for both ingest functions, so too many trackers (or blocked values, or
  # Engage spaces) fail the plan instead of the apply. The table's name is its configured one
  # (local.prefix), known before the table exists.
  environment_limit_bytes = 4096
  environments_planned = {
    direct = merge(local.direct_environment_variables, { SEGMENT_USAGE_TABLE = local.prefix })
    batch  = merge(local.batch_environment_variables, { SEGMENT_USAGE_TABLE = local.prefix })
  }
  # Bytes of each entry, key plus value. base64 turns every 3 bytes into 4 characters ("=" pads the
  # last group), so it yields the UTF-8 byte count where length() would count characters.
  environments_entry_bytes = {
    for function, variables in local.environments_planned : function => {
      for key, value in variables : key => sum([
        for text in [key, value] : length(base64encode(text)) / 4 * 3 - length(regexall("=", base64encode(text)))
      ])
    }
  }
  environment_entry_bytes = local.environments_entry_bytes.direct
  environment_bytes       = max([for function, entries in local.environments_entry_bytes : sum(values(entries))]...)

  # IAM settings shared by every role the module creates.
  iam_path                 = var.iam.path
  iam_permissions_boundary = var.iam.permissions_boundary

  # The batch function: its timeout grows with the batch (10 s of start-up and retry headroom plus
  # 0.1 s per message, far above the few DynamoDB round trips a message costs), and the buffer's
  # visibility timeout follows AWS's guidance for SQS event sources: at least 6x the function
  # timeout plus the batching window, so a batch is never redelivered while it is still running.
  batch_function_name       = "${local.prefix}-batch"
  batch_timeout             = coalesce(var.sqs_buffer.function_timeout, min(900, 10 + ceil(var.sqs_buffer.batch_size / 10)))
  buffer_visibility_minimum = 6 * local.batch_timeout + var.sqs_buffer.maximum_batching_window_in_seconds
  buffer_visibility_timeout = coalesce(var.sqs_buffer.visibility_timeout_seconds, local.buffer_visibility_minimum)

  # What Segment and EventBridge invoke: the alias when one is created, else the function.
  alias_enabled     = var.lambda.alias_name != null
  invoke_arn_target = module.function["direct"].target_arn

  # The DynamoDB operations the handler makes (tests/terraform/test_least_privilege.py records them
  # from real handler runs and fails if this list grants more, or less).
  # DeleteItem only where delete messages erase a person (var.erasure): record/erasure.py deletes
  # the person's items one by one; everything else it does is Query, GetItem, UpdateItem, PutItem.
  table_actions = concat(
    [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ],
    var.erasure.delete_messages ? ["dynamodb:DeleteItem"] : [],
  )
}
