# Segment's Amazon EventBridge destination: the partner event bus, identify/group/alias calls straight
# to the function, page/screen/track calls through an SQS buffer in batches, and "Order Completed"
# track events also routed to an analytics queue of your own (selective routing).

module "segment_usage" {
  source = "../../modules/segment-usage"

  name        = "segment-usage"
  environment = var.environment

  lambda = {
    architecture = var.lambda_architecture
    runtime      = var.lambda_runtime
    package_path = var.lambda_package_path
  }

  # EventBridge only: no role for the Lambda destination.
  segment_lambda_destination = { enabled = false }

  eventbridge = {
    enabled           = true
    segment_source_id = var.segment_source_id
    rules = {
      profiles = {
        description  = "identify, group and alias calls, one invocation per event"
        detail_types = ["identify", "group", "alias"]
        target       = "lambda"
        retry_policy = {
          maximum_event_age_in_seconds = 3600
          maximum_retry_attempts       = 10
        }
      }
      usage = {
        description  = "track, page and screen calls, buffered and processed in batches"
        detail_types = ["track", "page", "screen"]
        target       = "sqs"
      }
      orders = {
        description   = "Order Completed events to the analytics queue only"
        detail_types  = ["track"]
        events        = ["Order Completed"]
        target        = "none"
        extra_targets = [local.orders_queue_arn]
      }
    }
  }

  sqs_buffer = {
    batch_size                         = 100
    maximum_batching_window_in_seconds = 5
    maximum_concurrency                = 5
  }

  dynamodb = {
    deletion_protection = var.environment == "prod"
  }
}

locals {
  orders_queue_name = "segment-${var.environment}-orders"
  # Built from the name rather than read from aws_sqs_queue.orders: the rules need not wait the ~25 s
  # the provider spends confirming a new queue. Account and region are the module's (known at plan
  # time; data.aws_region's id/name are deprecated in provider 6.x).
  orders_queue_arn = "arn:aws:sqs:${module.segment_usage.region}:${module.segment_usage.account_id}:${local.orders_queue_name}"
}

# A queue of your own that receives the selected events; only the "orders" rule may send to it.
resource "aws_sqs_queue" "orders" {
  name                    = local.orders_queue_name
  sqs_managed_sse_enabled = true
  policy                  = data.aws_iam_policy_document.orders.json
}

data "aws_iam_policy_document" "orders" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [local.orders_queue_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.segment_usage.rule_arns["orders"]]
    }
  }
}
