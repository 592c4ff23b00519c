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
        extra_targets = [aws_sqs_queue.orders.arn]
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

# A queue of your own that receives the selected events.
resource "aws_sqs_queue" "orders" {
  name                    = "segment-${var.environment}-orders"
  sqs_managed_sse_enabled = true
}

data "aws_iam_policy_document" "orders" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.orders.arn]

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

resource "aws_sqs_queue_policy" "orders" {
  queue_url = aws_sqs_queue.orders.id
  policy    = data.aws_iam_policy_document.orders.json
}
