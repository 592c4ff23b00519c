# The role Segment's Amazon Lambda destination assumes (Settings > Role Address). IAM names are global,
# so the name carries the region and the environment.
data "aws_iam_policy_document" "segment_assume" {
  count = local.segment_role_enabled ? 1 : 0

  statement {
    sid     = "SegmentAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.segment_principal_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = var.segment_external_ids
    }
  }
}

resource "aws_iam_role" "segment" {
  count = local.segment_role_enabled ? 1 : 0

  name                 = local.segment_role_name
  path                 = local.iam_path
  permissions_boundary = local.iam_permissions_boundary
  description          = "Assumed by Segment's Amazon Lambda destination to invoke ${local.function_name}"
  assume_role_policy   = data.aws_iam_policy_document.segment_assume[0].json
  max_session_duration = 3600

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(var.segment_external_ids) > 0
      error_message = "segment_external_ids must list at least one external ID (your Segment workspace ID) when segment_lambda_destination.enabled is true."
    }
    precondition {
      condition     = length(local.segment_role_name) <= 64
      error_message = "The Segment role name ${local.segment_role_name} is over IAM's 64 characters: shorten name or environment."
    }
  }
}

data "aws_iam_policy_document" "segment_invoke" {
  count = local.segment_role_enabled ? 1 : 0

  statement {
    sid     = "InvokeHandler"
    actions = ["lambda:InvokeFunction"]
    # Built from the function's name (locals.tf), not read from the function or its module: a
    # policy document that refers to a resource or module with a pending change is read at apply
    # time, so the cross-account role's policy would show as "known after apply" on every deploy
    # (issue 19). These are the very ARNs Lambda gives the function and its alias.
    resources = compact([
      local.function_arns.direct,
      local.alias_enabled ? "${local.function_arns.direct}:${var.lambda.alias_name}" : "",
    ])
  }
}

resource "aws_iam_role_policy" "segment" {
  count = local.segment_role_enabled ? 1 : 0

  name   = "invoke-segment-usage"
  role   = aws_iam_role.segment[0].id
  policy = data.aws_iam_policy_document.segment_invoke[0].json
}
