# What the mocked hashicorp/aws provider answers in the native tests (tests/*.tftest.hcl, run by
# `terraform test`, with no AWS and no emulator): the data sources the module reads at plan time,
# with the values of one account in us-east-1. Everything else gets the mock provider's generated
# values.
mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform"
    user_id    = "AIDAEXAMPLE"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_cloudwatch_event_bus" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:event-bus/default"
  }
}

# No role of the module's exists yet (a first deployment).
mock_data "aws_iam_roles" {
  defaults = {
    arns  = []
    names = []
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

# The partner event source Segment creates, for the runs that enable EventBridge: every run here
# uses segment_source_id = "src123".
mock_data "aws_cloudwatch_event_source" {
  defaults = {
    name       = "aws.partner/segment.com/src123"
    state      = "ACTIVE"
    created_by = "segment.com"
    arn        = "arn:aws:events:us-east-1::event-source/aws.partner/segment.com/src123"
  }
}
