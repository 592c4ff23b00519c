# The module's check blocks (checks.tf): each warns on what it is for, and stays silent otherwise.
# A run that lists a check in expect_failures passes only if that check fails; in any other run a
# failing check fails the run, so the runs without expect_failures prove the silence.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment          = "test"
  segment_external_ids = ["ws-test"]
  trackers = [
    { type = "track", name = "Report Exported" },
    { type = "track", name = "3D Export" },
    { type = "track", name = "!!!" },
    { type = "track", name = "Order Completed", trait = "purchases" },
    { type = "page", name = "Pricing" },
    { type = "screen", name = "checkoutStarted" },
  ]
}

# Every name the handler derives (lambda/segment_usage/ingest/trackers.py) or a tracker sets.
run "segments_on_produced_traits_are_silent" {
  command = plan

  variables {
    segments = {
      buyers = {
        any = [
          { trait = "report_exported", at_least = 1 },
          { trait = "t_3_d_export", at_least = 1 },
          { trait = "unnamed", at_least = 1 },
          { trait = "purchases", at_least = 1 },
          { all = [{ trait = "page_pricing", seen_in_last_days = 7 }, { trait = "screen_checkout_started", at_least = 1 }] },
          { trait = "*", seen_in_last_days = 30 },
        ]
      }
    }
  }

  assert {
    condition     = [for t in local.tracker_traits : t.produced] == ["report_exported", "t_3_d_export", "unnamed", "purchases", "page_pricing", "screen_checkout_started"]
    error_message = "Derived trait names differ from the handler's: ${jsonencode([for t in local.tracker_traits : t.produced])}"
  }
}

run "segment_on_a_trait_no_tracker_produces_warns" {
  command = plan

  variables {
    segments = {
      # order_completed is what the tracker would derive, but it sets trait = "purchases".
      buyers = { all = [{ trait = "report_exported", at_least = 1 }, { any = [{ trait = "order_completed", at_least = 1 }, { trait = "signed_up", at_least = 1 }] }] }
    }
  }

  expect_failures = [check.segments_read_traits_trackers_produce]

  assert {
    condition     = local.segment_traits_never_produced == tolist(["order_completed", "signed_up"])
    error_message = "Expected order_completed and signed_up, got ${jsonencode(local.segment_traits_never_produced)}"
  }
}

run "segments_with_every_call_tracked_are_silent" {
  command = plan

  variables {
    trackers = null
    segments = { anyone = { all = [{ trait = "anything_at_all", at_least = 1 }] } }
  }
}

run "underivable_tracker_names_are_named_in_the_warning" {
  command = plan

  variables {
    trackers = [{ type = "track", name = "注文完了" }]
    segments = { buyers = { all = [{ trait = "注文完了", at_least = 1 }] } }
  }

  expect_failures = [check.segments_read_traits_trackers_produce]

  assert {
    condition     = jsonencode(local.underivable_trackers) == jsonencode(["track \"注文完了\""])
    error_message = "A non-ASCII tracker name is not derived here: ${jsonencode(local.underivable_trackers)}"
  }
}

run "no_delivery_path_warns" {
  command = plan

  variables {
    segment_lambda_destination = { enabled = false }
  }

  expect_failures = [check.a_delivery_path_is_on]
}

run "eventbridge_feeding_only_extra_targets_warns" {
  command = plan

  variables {
    segment_lambda_destination = { enabled = false }
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules = {
        mirror = { target = "none", extra_targets = ["arn:aws:sqs:us-east-1:123456789012:mirror"] }
        paused = { enabled = false }
      }
    }
  }

  expect_failures = [check.a_delivery_path_is_on]
}

run "eventbridge_alone_is_a_delivery_path" {
  command = plan

  variables {
    segment_lambda_destination = { enabled = false }
    eventbridge                = { enabled = true, segment_source_id = "src123", rules = { usage = { target = "sqs" } } }
  }
}

# The mock answers ListRoles with no role: a first deployment, whatever its path.
run "first_deployment_under_a_path_is_silent" {
  command = plan

  variables {
    iam = { path = "/segment-usage/" }
  }
}

run "iam_path_change_warns_that_the_role_address_changes" {
  command = plan

  variables {
    iam = { path = "/segment-usage/" }
  }

  override_data {
    target = data.aws_iam_roles.segment
    values = {
      arns  = ["arn:aws:iam::123456789012:role/segment-usage-test-us-east-1-segment"]
      names = ["segment-usage-test-us-east-1-segment"]
    }
  }

  expect_failures = [check.segment_role_address_unchanged]
}

run "same_iam_path_is_silent" {
  command = plan

  variables {
    iam = { path = "/segment-usage/" }
  }

  override_data {
    target = data.aws_iam_roles.segment
    values = {
      arns  = ["arn:aws:iam::123456789012:role/segment-usage/segment-usage-test-us-east-1-segment"]
      names = ["segment-usage-test-us-east-1-segment"]
    }
  }
}
