# A CloudWatch dashboard (var.dashboard, on by default) named <name>-<environment>, so that an operator
# can look rather than query. Everything on it exists today (tests/terraform/test_dashboard.py
# checks every name against the handler, the alarms and what the apply created):
#   - the handler's counts per path (direct, eventbridge, sqs): Logs Insights over the invocation
#     line each function writes (lambda/segment_usage/observability.py: path, accepted, duplicate,
#     rejected, buffered, failed, rejections[].fields). The EMF metrics carry only a CallType
#     dimension, no path and no deployment, so they cannot be split per path; they are charted by
#     call type below, summed with SEARCH (a CallType is whatever type a sender wrote, up to 20
#     characters, so no fixed list covers them);
#   - Lambda's own metrics per function (invocations, errors, throttles, duration p50/p99,
#     concurrency), the buffer's age and depth and every dead-letter queue's depth (AWS/SQS), the
#     rules' matched, delivered and failed events (AWS/Events) and the table's throttles and latency.
locals {
  dashboard_enabled = var.dashboard.enabled
  dashboard_name    = local.prefix
  dashboard_period  = var.dashboard.period_seconds

  dashboard_log_groups = {
    for key, fn in local.functions : key => "/aws/lambda/${fn.function_name}"
  }
  # The handler's paths and the function whose log group holds each (read serves no messages).
  dashboard_paths = merge(
    local.segment_role_enabled ? { direct = { function = "direct", title = "Segment Lambda destination (direct)" } } : {},
    local.eventbridge_to_direct ? { eventbridge = { function = "direct", title = "EventBridge rules with target = lambda" } } : {},
    local.buffer_enabled ? { sqs = { function = "batch", title = "Buffer queue, drained by the batch function (sqs)" } } : {},
  )
  # The invocation line's counts (observability.py METRICS: key in the line -> what it means).
  dashboard_counts = {
    accepted  = "recorded"
    duplicate = "duplicates"
    rejected  = "rejected"
    buffered  = "handed_off"
    failed    = "failed"
  }
  dashboard_invocation_filter = "filter message = \"segment-usage invocation\""
  dashboard_ingest_sources    = join(" | ", [for key in ["direct", "batch"] : "SOURCE '${local.dashboard_log_groups[key]}'" if contains(keys(local.dashboard_log_groups), key)])

  dashboard_path_widgets = [
    for path, p in local.dashboard_paths : {
      type = "log"
      properties = {
        title  = "Messages: ${p.title}"
        region = local.region
        view   = "timeSeries"
        query = join(" | ", [
          "SOURCE '${local.dashboard_log_groups[p.function]}'",
          local.dashboard_invocation_filter,
          "filter path = \"${path}\"",
          "stats ${join(", ", [for field, label in local.dashboard_counts : "sum(${field}) as ${label}"])} by bin(${local.dashboard_period}s)",
        ])
      }
    }
  ]

  # Each rejection's reason as the invocation line gives it: the top-level field of its first error
  # (never the value, nor a key the sender chose). The line lists up to 20 rejections; Logs Insights
  # flattens the first as rejections.0.fields.0, which on the direct and EventBridge paths (one
  # message per invocation) is every rejection.
  dashboard_rejection_widgets = [{
    type = "log"
    properties = {
      title  = "Rejected by path and reason (first failing field; segment-usage rejected lists them)"
      region = local.region
      view   = "table"
      query = join(" | ", [
        local.dashboard_ingest_sources,
        local.dashboard_invocation_filter,
        "filter rejected > 0",
        "fields path, `rejections.0.fields.0` as reason",
        "stats sum(rejected) as rejected by path, reason",
        "sort rejected desc",
      ])
    }
  }]

  # The handler's EMF metrics (var.metrics_namespace, dimension CallType), summed over call types.
  dashboard_emf_metrics = ["Accepted", "Duplicate", "Rejected", "Buffered", "Failed", "PlanErrors", "Suppressed", "Erased"]
  dashboard_emf_widgets = [{
    type = "metric"
    properties = {
      title   = "Handler metrics, every path and call type (namespace ${var.metrics_namespace}, shared by every deployment that writes to it)"
      region  = local.region
      view    = "timeSeries"
      stacked = false
      period  = local.dashboard_period
      metrics = [
        for index, name in local.dashboard_emf_metrics : [{
          id         = "e${index}"
          label      = name
          expression = "SUM(SEARCH('{${var.metrics_namespace},CallType} MetricName=\"${name}\"', 'Sum', ${local.dashboard_period}))"
        }]
      ]
    }
  }]

  dashboard_function_widgets = flatten([
    for key, fn in local.functions : [
      {
        type = "metric"
        properties = {
          title  = "Function ${fn.function_name}: invocations, errors, throttles"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          stat   = "Sum"
          metrics = concat(
            [for metric in ["Invocations", "Errors", "Throttles"] : ["AWS/Lambda", metric, "FunctionName", fn.function_name]],
            fn.async_invoke == null ? [] : [for metric in ["AsyncEventsDropped", "DestinationDeliveryFailures"] : ["AWS/Lambda", metric, "FunctionName", fn.function_name]],
          )
        }
      },
      {
        type = "metric"
        properties = {
          title  = "Function ${fn.function_name}: duration (ms) and concurrency"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", fn.function_name, { stat = "p50", label = "Duration p50" }],
            ["AWS/Lambda", "Duration", "FunctionName", fn.function_name, { stat = "p99", label = "Duration p99" }],
            ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", fn.function_name, { stat = "Maximum", label = "Concurrent executions (max)", yAxis = "right" }],
          ]
        }
      },
    ]
  ])

  dashboard_queue_widgets = concat(
    local.buffer_enabled ? [{
      type = "metric"
      properties = {
        title  = "Buffer queue ${local.queue_names.buffer}: oldest message (s) and depth"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Maximum"
        metrics = [
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.queue_names.buffer, { label = "Oldest message age (s)" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.queue_names.buffer, { label = "Messages waiting", yAxis = "right" }],
        ]
      }
    }] : [],
    length(local.dlq_names) == 0 ? [] : [{
      type = "metric"
      properties = {
        title  = "Dead-letter queues: messages waiting (should be 0)"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Maximum"
        metrics = [
          for key, name in local.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name, { label = key }]
        ]
      }
    }],
  )

  dashboard_rule_widgets = length(local.rules) == 0 ? [] : [{
    type = "metric"
    properties = {
      title  = "EventBridge: events from ${local.segment_source_name} and per rule"
      region = local.region
      view   = "timeSeries"
      period = local.dashboard_period
      stat   = "Sum"
      metrics = concat(
        [["AWS/Events", "Events", "EventSourceName", local.segment_source_name, { label = "Ingested from Segment" }]],
        # (Not flatten(): it would flatten the metric rows themselves.)
        [
          for pair in setproduct(keys(local.rule_names), ["MatchedEvents", "Invocations", "FailedInvocations"]) :
          ["AWS/Events", pair[1], "EventBusName", local.segment_source_name, "RuleName", local.rule_names[pair[0]], { label = "${pair[0]}: ${pair[1]}" }]
        ],
      )
    }
  }]

  dashboard_table_widgets = [
    {
      type = "metric"
      properties = {
        title  = "Table ${local.prefix}: throttled requests and consumed capacity"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Sum"
        metrics = [
          ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", local.prefix],
          ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", local.prefix],
          ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", local.prefix, { yAxis = "right" }],
          ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", local.prefix, { yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric"
      properties = {
        title  = "Table ${local.prefix}: latency (ms, average) of the handler's operations"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Average"
        metrics = [
          for operation in ["UpdateItem", "PutItem", "GetItem", "Query", "BatchGetItem"] :
          ["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", local.prefix, "Operation", operation]
        ]
      }
    },
  ]

  dashboard_widget_list = concat(
    local.dashboard_path_widgets,
    local.dashboard_rejection_widgets,
    local.dashboard_emf_widgets,
    local.dashboard_function_widgets,
    local.dashboard_queue_widgets,
    local.dashboard_rule_widgets,
    local.dashboard_table_widgets,
  )
  # Two widgets per row, each 12 wide and 6 high, under a one-line header.
  dashboard_body = jsonencode({
    widgets = concat(
      [{
        type = "text", x = 0, y = 0, width = 24, height = 2
        properties = {
          markdown = "## segment-usage ${local.prefix}\nTable `${local.prefix}`. Handler counts per path come from each function's invocation log line (Logs Insights); alarms and runbooks: docs/operations.md."
        }
      }],
      [
        for index, widget in local.dashboard_widget_list : merge(widget, {
          x      = (index % 2) * 12
          y      = 2 + floor(index / 2) * 6
          width  = 12
          height = 6
        })
      ],
    )
  })
}

resource "aws_cloudwatch_dashboard" "this" {
  count = local.dashboard_enabled ? 1 : 0

  dashboard_name = local.dashboard_name
  dashboard_body = local.dashboard_body
}
