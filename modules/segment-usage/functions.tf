# The module's three functions, each one instance of modules/function (function, execution role and
# inline policy, log group, alarms, alias and asynchronous-invocation configuration). They run the
# same code package (package.tf) and differ only in what is listed here:
#   direct - Segment's Amazon Lambda destination and EventBridge rules with target = lambda: one
#            message per invocation within Segment's 5 s, handing off what it could not record to
#            the buffer queue;
#   batch  - the same handler draining the buffer queue in batches (lambda_batch.tf): a timeout of
#            minutes, its own role, which may read and delete buffer messages but sends none;
#   read   - the read API (read_api.tf): another entry point of the package, whose role may only
#            read the table.
locals {
  # The customer key of the table: DynamoDB decrypts it with the caller's kms:Decrypt (it generated
  # that key with the deployer's permissions when the table was created). Neither DynamoDB nor SQS
  # needs kms:Encrypt or kms:DescribeKey from a function.
  table_key_statements = var.dynamodb.kms_key_arn == null ? [] : [{
    sid        = "TableKey"
    actions    = ["kms:Decrypt"]
    resources  = [var.dynamodb.kms_key_arn]
    conditions = [{ test = "StringEquals", variable = "kms:ViaService", values = ["dynamodb.${local.region}.amazonaws.com"] }]
  }]
  # A queue with a customer key: a producer needs kms:GenerateDataKey and kms:Decrypt, a consumer
  # kms:Decrypt.
  queue_key_statement = {
    sid        = "QueueKey"
    resources  = [local.sqs_kms_key_arn]
    conditions = [{ test = "StringEquals", variable = "kms:ViaService", values = ["sqs.${local.region}.amazonaws.com"] }]
  }

  function_definitions = {
    direct = {
      enabled              = true
      function_name        = local.function_name
      description          = "Segment events as per-user usage and traits in DynamoDB (${var.environment})"
      handler              = "segment_usage.handler.lambda_handler"
      role_name            = "${local.iam_prefix}-lambda"
      role_description     = "Execution role of the segment-usage handler ${local.function_name}"
      policy_name          = "segment-usage"
      memory_size          = var.lambda.memory_size
      timeout              = var.lambda.timeout
      reserved_concurrency = var.lambda.reserved_concurrency
      alias_name           = var.lambda.alias_name
      environment          = local.direct_environment_variables
      # The handler's own DynamoDB calls (local.table_actions), its hand-off of unrecorded messages
      # to the buffer queue, and what Lambda does with this role on its behalf (the on-failure
      # destination of asynchronous EventBridge invocations). No ConditionCheckItem: its only
      # transaction, for messages weeks late, holds Puts and Updates, which IAM authorises as
      # PutItem and UpdateItem. DeleteItem only with erasure.delete_messages (local.table_actions).
      policy_statements = concat(
        [{ sid = "Table", actions = local.table_actions, resources = [local.table_arn] }],
        local.buffer_enabled ? [{ sid = "BufferHandOff", actions = ["sqs:SendMessage"], resources = [local.queue_arns.buffer] }] : [],
        local.lambda_failures_enabled ? [{ sid = "AsyncFailureDestination", actions = ["sqs:SendMessage"], resources = [local.queue_arns.lambda_failures] }] : [],
      )
      key_statements = concat(
        local.table_key_statements,
        local.sqs_kms_key_arn != null && (local.buffer_enabled || local.lambda_failures_enabled) ? [merge(local.queue_key_statement, { actions = ["kms:GenerateDataKey", "kms:Decrypt"] })] : [],
      )
      async_invoke = local.lambda_failures_enabled ? {
        destination_arn              = aws_sqs_queue.lambda_failures[0].arn
        maximum_retry_attempts       = 2
        maximum_event_age_in_seconds = 21600
      } : null
      alarm_prefix = "lambda"
      alarm_descriptions = {
        errors                        = "The handler raised (Segment and EventBridge retry; check the log group): ${local.function_name}"
        throttles                     = "The handler was throttled (raise reserved concurrency or the account limit): ${local.function_name}"
        async-events-dropped          = "Lambda dropped asynchronous (EventBridge) events without running the handler to completion: ${local.function_name}"
        destination-delivery-failures = "Lambda could not send failed asynchronous (EventBridge) events to the on-failure queue: ${local.function_name}"
      }
      preconditions = [{
        condition     = local.environment_bytes <= local.environment_limit_bytes
        error_message = "trackers: the function's environment would take ${local.environment_bytes} bytes, over Lambda's 4 KB (${local.environment_limit_bytes} bytes) limit; SEGMENT_USAGE_TRACKERS alone takes ${local.environment_entry_bytes["SEGMENT_USAGE_TRACKERS"]} bytes (UTF-8), identity.blocked_values ${lookup(local.environment_entry_bytes, "SEGMENT_USAGE_BLOCKED_IDS", 0)}, engage.space_ids ${lookup(local.environment_entry_bytes, "SEGMENT_USAGE_ENGAGE_SPACE_IDS", 0)}. List fewer trackers or shorter names (or set trackers = null to count every track, page and screen call), fewer blocked values or Engage spaces."
      }]
    }

    batch = {
      enabled              = local.buffer_enabled
      function_name        = local.batch_function_name
      description          = "Drains the segment-usage SQS buffer in batches (${var.environment})"
      handler              = "segment_usage.handler.lambda_handler"
      role_name            = "${local.iam_prefix}-batch"
      role_description     = "Execution role of the segment-usage batch function ${local.batch_function_name}"
      policy_name          = "segment-usage-batch"
      memory_size          = var.lambda.memory_size
      timeout              = local.batch_timeout
      reserved_concurrency = null # capped on the event source mapping (sqs_buffer.maximum_concurrency)
      alias_name           = null
      # The shared settings, no buffer queue (the batch function never hands off), and what it
      # accepts: SQS records from the buffer only (locals.tf).
      environment = local.batch_environment_variables
      policy_statements = [
        { sid = "Table", actions = local.table_actions, resources = [local.table_arn] },
        # What the event source mapping calls with this role (AWSLambdaSQSQueueExecutionRole holds
        # the same three); the handler reports failed records in its response and deletes nothing.
        { sid = "BufferQueue", actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], resources = [local.queue_arns.buffer] },
      ]
      key_statements = concat(
        local.table_key_statements,
        local.sqs_kms_key_arn != null ? [merge(local.queue_key_statement, { actions = ["kms:Decrypt"] })] : [],
      )
      async_invoke = null
      alarm_prefix = "batch"
      alarm_descriptions = {
        errors    = "The batch function raised (the batch is retried, then goes to the buffer DLQ): ${local.batch_function_name}"
        throttles = "The batch function was throttled (lower sqs_buffer.maximum_concurrency or raise the account limit): ${local.batch_function_name}"
      }
      preconditions = []
    }

    read = {
      enabled              = local.read_api_enabled
      function_name        = local.read_api_function_name
      description          = "segment-usage read API: a user's traits, usage and segments (${var.environment})"
      handler              = "segment_usage.read_api.handler"
      role_name            = local.read_api_role_name
      role_description     = "Execution role of the segment-usage read API ${local.read_api_function_name}: reads the table, nothing else"
      policy_name          = "segment-usage-read"
      memory_size          = var.read_api.memory_size
      timeout              = var.read_api.timeout
      reserved_concurrency = var.read_api.reserved_concurrency
      alias_name           = null
      environment          = local.read_api_environment
      # Read-only, and only what the reader calls: no Scan, no writes.
      policy_statements = [
        { sid = "ReadTable", actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"], resources = [local.table_arn] },
      ]
      key_statements = local.table_key_statements
      async_invoke   = null
      alarm_prefix   = "read"
      alarm_descriptions = {
        errors    = "The read API function raised (callers got a 502; check its log group): ${local.read_api_function_name}"
        throttles = "The read API function was throttled (callers got a 429): ${local.read_api_function_name}"
      }
      preconditions = []
    }
  }
  functions = { for key, fn in local.function_definitions : key => fn if fn.enabled }
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  function_name        = each.value.function_name
  description          = each.value.description
  handler              = each.value.handler
  runtime              = var.lambda.runtime
  architecture         = var.lambda.architecture
  memory_size          = each.value.memory_size
  timeout              = each.value.timeout
  reserved_concurrency = each.value.reserved_concurrency
  tracing_mode         = var.lambda.tracing_mode
  package              = local.package
  environment          = each.value.environment
  alias_name           = each.value.alias_name
  async_invoke         = each.value.async_invoke

  vpc_config              = var.vpc
  kms_key_arn             = var.lambda.kms_key_arn
  code_signing_config_arn = var.lambda.code_signing_config_arn

  partition  = local.partition
  region     = local.region
  account_id = local.account_id
  role = {
    name                 = each.value.role_name
    description          = each.value.role_description
    path                 = local.iam_path
    permissions_boundary = local.iam_permissions_boundary
    policy_name          = each.value.policy_name
  }
  policy_statements      = each.value.policy_statements
  key_statements         = each.value.key_statements
  additional_policy_arns = concat(var.iam.additional_policy_arns, lookup(var.iam.function_policy_arns, each.key, []))

  logs = var.logs
  alarms = var.alarms.enabled ? {
    name_prefix      = "${local.prefix}-${each.value.alarm_prefix}"
    descriptions     = each.value.alarm_descriptions
    actions          = local.alarm_actions
    period_seconds   = var.alarms.period_seconds
    errors_threshold = var.alarms.errors_threshold
  } : null

  preconditions = each.value.preconditions
  # A function reads the stored configuration (tracking plan, segment definitions) named by the
  # hashes in its environment: write the items before the environment that names them.
  wait_for = [for key, item in aws_dynamodb_table_item.config : item.id]

  tags = local.tags
}

# ------------------------------------------------------------------------------------------------
# Upgrades: where each function's resources were before they became instances of modules/function.
# Every one is moved, none is recreated.
# ------------------------------------------------------------------------------------------------

moved {
  from = aws_lambda_function.this
  to   = module.function["direct"].aws_lambda_function.this
}

moved {
  from = aws_lambda_alias.this
  to   = module.function["direct"].aws_lambda_alias.this
}

moved {
  from = aws_lambda_function_event_invoke_config.this
  to   = module.function["direct"].aws_lambda_function_event_invoke_config.this
}

moved {
  from = aws_iam_role.lambda
  to   = module.function["direct"].aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.lambda
  to   = module.function["direct"].aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.lambda
  to   = module.function["direct"].aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.batch[0]
  to   = module.function["batch"].aws_lambda_function.this
}

moved {
  from = aws_iam_role.batch[0]
  to   = module.function["batch"].aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.batch[0]
  to   = module.function["batch"].aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.batch[0]
  to   = module.function["batch"].aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.read_api[0]
  to   = module.function["read"].aws_lambda_function.this
}

moved {
  from = aws_iam_role.read_api[0]
  to   = module.function["read"].aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.read_api[0]
  to   = module.function["read"].aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.read_api[0]
  to   = module.function["read"].aws_cloudwatch_log_group.this
}

# The functions' alarms (one map in alarms.tf before; v0.1's own moves there lead here).
moved {
  from = aws_cloudwatch_metric_alarm.this["lambda-errors"]
  to   = module.function["direct"].aws_cloudwatch_metric_alarm.this["errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["lambda-throttles"]
  to   = module.function["direct"].aws_cloudwatch_metric_alarm.this["throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["lambda-async-events-dropped"]
  to   = module.function["direct"].aws_cloudwatch_metric_alarm.this["async-events-dropped"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["lambda-destination-delivery-failures"]
  to   = module.function["direct"].aws_cloudwatch_metric_alarm.this["destination-delivery-failures"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["batch-errors"]
  to   = module.function["batch"].aws_cloudwatch_metric_alarm.this["errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["batch-throttles"]
  to   = module.function["batch"].aws_cloudwatch_metric_alarm.this["throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["read-errors"]
  to   = module.function["read"].aws_cloudwatch_metric_alarm.this["errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.this["read-throttles"]
  to   = module.function["read"].aws_cloudwatch_metric_alarm.this["throttles"]
}
