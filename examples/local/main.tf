# Both delivery paths on a local emulator: the Segment role for the Amazon Lambda destination, and the
# EventBridge partner bus with a Lambda-direct rule, an SQS-buffered rule, and an extra SQS target
# that shows selective routing (the demo reads what reached it).
#
# moto cannot run a Lambda target (that needs Docker), so the Lambda-direct rule also copies its
# events to a mirror queue: the demo hands each one to the handler exactly as the target would.

module "segment_usage" {
  source = "../../modules/segment-usage"

  name        = "segment-usage"
  environment = var.environment
  tags        = { Example = "local" }

  lambda = {
    architecture = var.lambda_architecture
    runtime      = var.lambda_runtime
    package_path = var.lambda_package_path
  }

  segment_lambda_destination = { enabled = true }
  segment_external_ids       = var.segment_external_ids

  tracking_plan      = var.tracking_plan
  tracking_plan_mode = var.tracking_plan_mode

  # Engage's audience tracks set traits only with this space's mark; delete messages erase a person.
  engage  = { space_ids = ["spa_9u3Lqz"] }
  erasure = { delete_messages = true }

  eventbridge = {
    enabled           = true
    segment_source_id = var.segment_source_id
    rules = {
      # Everything but track calls goes straight to the function.
      direct = {
        description   = "identify, page, screen, group and alias calls to the handler"
        detail_types  = ["identify", "page", "screen", "group", "alias"]
        target        = "lambda"
        extra_targets = [local.direct_rule_mirror_arn]
      }
      # Track calls are buffered in SQS and processed in batches; a copy also goes to the extra queue.
      track = {
        description   = "track calls through the SQS buffer, copied to the extra queue"
        detail_types  = ["track"]
        target        = "sqs"
        extra_targets = [local.extra_queue_arn]
      }
    }
  }

  sqs_buffer = {
    batch_size                         = 10
    maximum_batching_window_in_seconds = 1
  }

  dynamodb = {
    deletion_protection = false
  }

  # Targeting (issue 12): segments evaluated on read, and the read API behind an AWS_IAM function URL.
  segments = {
    power_exporters = {
      description = "exported a report at least twice in the last 30 days, on the pro plan"
      all = [
        { trait = "report_exported", in_last_days = 30, at_least = 2 },
        { identify_trait = "plan", equals = "pro" },
      ]
    }
    engaged = {
      description = "in the Engage audience power_users, or active this week on a paid plan"
      any = [
        { audience = "power_users" },
        { all = [{ trait = "*", seen_in_last_days = 7 }, { identify_trait = "plan", in = ["pro", "team"] }] },
      ]
    }
    quiet_free_users = {
      description = "on the free plan and no report exported for 2 days"
      all = [
        { identify_trait = "plan", equals = "free" },
        { trait = "report_exported", not_seen_for_days = 2 },
      ]
    }
  }
  read_api = { enabled = true }
  # The demo plays a history dated up to 21 days before the apply, as a team that loaded its history
  # would: declared covered, so that windows reaching before today are decided (issue 18).
  coverage_start = "2000-01-01"
}

data "aws_caller_identity" "current" {}

locals {
  queue_arn_prefix              = "arn:aws:sqs:${var.region}:${data.aws_caller_identity.current.account_id}"
  extra_queue_name              = "segment-usage-${var.environment}-extra-target"
  direct_rule_mirror_queue_name = "segment-usage-${var.environment}-direct-rule-mirror"
  # ARNs built from the names rather than taken from the aws_sqs_queue resources: the provider spends
  # ~25 s confirming each new queue, and the module's own queues need not wait for these.
  extra_queue_arn        = "${local.queue_arn_prefix}:${local.extra_queue_name}"
  direct_rule_mirror_arn = "${local.queue_arn_prefix}:${local.direct_rule_mirror_queue_name}"
}

# Selective routing: a queue of the caller's own that receives the same track events.
resource "aws_sqs_queue" "extra" {
  name                    = local.extra_queue_name
  sqs_managed_sse_enabled = true
  policy                  = data.aws_iam_policy_document.caller_queue["extra"].json
}

# The emulator's stand-in for the Lambda target of the "direct" rule (see the top of this file).
resource "aws_sqs_queue" "direct_rule_mirror" {
  name                    = local.direct_rule_mirror_queue_name
  sqs_managed_sse_enabled = true
  policy                  = data.aws_iam_policy_document.caller_queue["direct_rule_mirror"].json
}

locals {
  # Queue of the caller's -> the rule allowed to send to it.
  caller_queues = {
    extra              = { arn = local.extra_queue_arn, rule = "track" }
    direct_rule_mirror = { arn = local.direct_rule_mirror_arn, rule = "direct" }
  }
}

# Inline queue policies: a separate aws_sqs_queue_policy costs another ~25 s of provider waiting.
data "aws_iam_policy_document" "caller_queue" {
  for_each = local.caller_queues

  statement {
    actions   = ["sqs:SendMessage"]
    resources = [each.value.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.segment_usage.rule_arns[each.value.rule]]
    }
  }
}
