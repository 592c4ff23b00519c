# The batch function (module.function["batch"], functions.tf) drains the SQS buffer through this
# event source mapping: the same code as the direct function, with a timeout of its own because the
# two paths differ: Segment gives the direct path 5 s per message, while a batch of up to 10,000
# messages needs minutes (local.batch_timeout), and the buffer's visibility timeout derives from it.
resource "aws_lambda_event_source_mapping" "buffer" {
  count = local.buffer_enabled ? 1 : 0

  event_source_arn                   = aws_sqs_queue.buffer[0].arn
  function_name                      = module.function["batch"].arn
  batch_size                         = var.sqs_buffer.batch_size
  maximum_batching_window_in_seconds = var.sqs_buffer.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  enabled                            = true

  dynamic "scaling_config" {
    for_each = var.sqs_buffer.maximum_concurrency == null ? [] : [var.sqs_buffer.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  tags = local.tags

  # The mapping polls with the batch function's role: its policy must be in place first.
  depends_on = [module.function]
}
