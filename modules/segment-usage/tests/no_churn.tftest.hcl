# The no-churn rule (issue 19): every IAM policy the module writes is built from names and ARNs known
# before anything exists, never from attributes of resources Terraform creates or updates. A
# document that reads such an attribute is known only after apply; on a later deploy that updates
# the resource (new code, a tracker, log retention), Terraform re-reads it at apply time and shows
# the cross-account role's policy as changing. Here, in a plan of a first deployment, where every
# resource attribute is unknown, each policy must already be known: an assertion on an unknown
# value fails the run. tests/terraform/test_no_churn.py checks the same on re-plans against moto,
# execution roles included.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "policies_are_known_before_anything_exists" {
  command = plan

  variables {
    environment          = "test"
    segment_external_ids = ["ws-test"]
    lambda               = { alias_name = "live" }
    eventbridge = {
      enabled           = true
      segment_source_id = "src123"
      rules = {
        profiles = { detail_types = ["identify", "group", "alias"] }
        usage    = { detail_types = ["track", "page", "screen"], target = "sqs" }
      }
    }
    read_api = { enabled = true }
    erasure  = { delete_messages = true }
  }

  assert {
    condition     = length(aws_iam_role.segment[0].assume_role_policy) > 0
    error_message = "The Segment role's trust policy must be known at plan time."
  }
  assert {
    condition     = length(aws_iam_role_policy.segment[0].policy) > 0
    error_message = "The Segment role's invoke policy must be known at plan time."
  }
}
