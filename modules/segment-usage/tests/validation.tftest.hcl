# Plan-time refusals, checked by `terraform test` with a mocked provider: no AWS, no emulator, a
# few seconds a run (tests/terraform/test_native.py runs this directory under `make test`).
# One run per kind of rule: each sets one bad value per input it names, and expect_failures lists
# every input (variable validations) or resource (preconditions) that must refuse it, so a rule
# that stops refusing fails its run. tests/terraform/test_variables.py and test_segments_input.py
# check each error's text against moto; these check that each refusal happens at plan time.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment          = "test"
  segment_external_ids = ["ws-test"]
}

run "valid_inputs_plan" {
  command = plan

  variables {
    tracking_plan = jsonencode({ track = { "Report Exported" = { properties = { format = { type = "string" } } } } })
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules = {
        profiles = { detail_types = ["identify", "group", "alias"] }
        usage    = { detail_types = ["track", "page", "screen"], target = "sqs" }
      }
    }
    read_api = { enabled = true }
    segments = {
      exporters = { all = [{ trait = "report_exported", at_least = 2 }, { identify_trait = "plan", equals = "pro" }] }
    }
  }

  assert {
    condition     = keys(aws_dynamodb_table_item.config) == ["SEGMENTS", "TRACKING_PLAN"]
    error_message = "A tracking plan and segments are stored as items CONFIG/TRACKING_PLAN and CONFIG/SEGMENTS."
  }
  assert {
    condition     = aws_cloudwatch_event_bus.segment[0].name == "aws.partner/segment.com/src123"
    error_message = "The partner bus is named after the Segment source."
  }
}

run "identifiers_follow_their_grammar" {
  command = plan

  variables {
    name                  = "Segment_Usage"
    environment           = "prod-1"
    tags                  = { "aws:owner" = "platform" }
    metrics_namespace     = "AWS/SegmentUsage"
    engage                = { space_ids = ["spa 4Bq2"] }
    segment_external_ids  = ["workspace id"]
    segment_principal_arn = "arn:aws:iam::595280932656:user/segment"
  }

  expect_failures = [
    var.name,
    var.environment,
    var.tags,
    var.metrics_namespace,
    var.engage,
    var.segment_external_ids,
    var.segment_principal_arn,
  ]
}

run "numbers_stay_within_limits" {
  command = plan

  variables {
    lambda                  = { timeout = 5 }
    logs                    = { retention_in_days = 2 }
    rejected_retention_days = 0
    identity                = { max_users_per_anonymous_id = 0 }
    sqs_buffer              = { batch_size = 20000 }
    alarms                  = { period_seconds = 120 }
    read_api                = { timeout = 60 }
  }

  expect_failures = [
    var.lambda,
    var.logs,
    var.rejected_retention_days,
    var.identity,
    var.sqs_buffer,
    var.alarms,
    var.read_api,
  ]
}

run "arns_are_arns_of_their_service" {
  command = plan

  variables {
    logs     = { kms_key_arn = "alias/logs" }
    dynamodb = { kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/table" }
    iam      = { permissions_boundary = "arn:aws:iam::123456789012:role/boundary" }
    alarms   = { sns_topic_arn = "arn:aws:sqs:us-east-1:123456789012:alerts" }
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules             = { all = { extra_targets = ["arn:aws:lambda:us-east-1:123456789012:function:mirror"] } }
    }
  }

  expect_failures = [var.logs, var.dynamodb, var.iam, var.alarms, var.eventbridge]
}

run "choices_are_from_their_list" {
  command = plan

  variables {
    lambda             = { architecture = "arm" }
    tracking_plan_mode = "strict"
    trackers           = [{ type = "identify", name = "Signed Up" }]
    dynamodb           = { billing_mode = "ON_DEMAND" }
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules             = { all = { target = "kinesis" } }
    }
  }

  expect_failures = [var.lambda, var.tracking_plan_mode, var.trackers, var.dynamodb, var.eventbridge]
}

run "settings_that_go_together" {
  command = plan

  variables {
    lambda      = { package_s3 = { bucket = "builds", key = "segment-usage.zip" } }
    dynamodb    = { billing_mode = "PROVISIONED" }
    eventbridge = { enabled = true }
    sqs_buffer  = { batch_size = 100, maximum_batching_window_in_seconds = 0 }
    identity    = { blocked_values = ["Guest", " guest"] }
  }

  expect_failures = [var.lambda, var.dynamodb, var.eventbridge, var.sqs_buffer, var.identity]
}

run "tracking_plan_is_json" {
  command = plan

  variables {
    tracking_plan = "{\"track\": {"
  }

  expect_failures = [var.tracking_plan]
}

run "tracking_plan_keys_are_known" {
  command = plan

  variables {
    tracking_plan = jsonencode({ events = { "Signed Up" = {} } })
  }

  expect_failures = [var.tracking_plan]
}

run "tracking_plan_types_are_json_schema_types" {
  command = plan

  variables {
    tracking_plan = jsonencode({ track = { "Signed Up" = { properties = { plan = { type = "text" } } } } })
  }

  expect_failures = [var.tracking_plan]
}

run "segments_outer_shape" {
  command = plan

  variables {
    segments = { "Power Users" = { all = [{ trait = "report_exported", at_least = 1 }] } }
  }

  expect_failures = [var.segments]
}

run "segments_condition_grammar" {
  command = plan

  variables {
    segments = {
      exporters = { all = [{ trait = "report_exported", at_least = "many", colour = "red" }] }
    }
  }

  expect_failures = [aws_dynamodb_table_item.config]
}

run "segment_role_needs_an_external_id" {
  command = plan

  variables {
    segment_external_ids = []
  }

  expect_failures = [aws_iam_role.segment]
}

run "buffer_visibility_covers_a_batch" {
  command = plan

  variables {
    sqs_buffer = { visibility_timeout_seconds = 30 }
  }

  expect_failures = [aws_sqs_queue.buffer]
}

run "rule_names_fit_eventbridge" {
  command = plan

  variables {
    name        = "segment-usage-platform"
    environment = "production12"
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules             = { "a-very-long-rule-key-for-all-track-calls" = {} }
    }
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "extra_targets_in_the_module_region" {
  command = plan

  variables {
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules             = { all = { extra_targets = ["arn:aws:sqs:eu-west-1:123456789012:mirror"] } }
    }
  }

  expect_failures = [aws_cloudwatch_event_target.extra]
}
