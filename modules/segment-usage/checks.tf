# Plan-time warnings (check blocks): configurations Terraform accepts but that are most likely not
# what was meant. A failing check never stops a plan or an apply; Terraform prints it as a warning
# ("Check block assertion failed") naming the block and the message below.
locals {
  # The usage traits the segments read: every `trait` of a condition, nested ones included ("*",
  # any trait, excepted). Extracted from var.segments itself, whatever its shape: the grammar and its
  # errors are segments.tf's.
  checked_segment_traits = try(distinct(compact(flatten([
    for name, s in var.segments : [
      for group in ["all", "any"] : [
        for c in try(concat(s[group], []), []) : concat(
          [try(tostring(c.trait), null)],
          [for inner in ["all", "any"] : [for n in try(concat(c[inner], []), []) : try(tostring(n.trait), null)]],
        )
      ]
    ]
  ]))), [])

  # The trait each explicit tracker produces: its `trait`, or the name the handler derives
  # (lambda/segment_usage/ingest/trackers.py, default_trait and snake_case): a track's event name,
  # "page <name>" or "screen <name>", camelCase split, lower-cased, every run of characters other
  # than a-z and 0-9 one "_", "t_" before a name that does not start with a letter, "unnamed" for
  # no letter or digit at all. Mirrored for ASCII names of at most 100 bytes only; the handler's
  # rule beyond (every script's letters, a hash past 100 bytes) is not Terraform's to repeat, so
  # such trackers are listed as underivable instead.
  tracker_subjects = [
    for t in coalesce(var.trackers, []) : {
      tracker = "${t.type} \"${t.name}\""
      trait   = t.trait
      subject = t.type == "track" ? t.name : "${t.type} ${t.name}"
    }
  ]
  tracker_words = [
    for t in local.tracker_subjects : merge(t, {
      words = trim(replace(lower(replace(t.subject, "/([a-z0-9])([A-Z])/", "$1 $2")), "/[^a-z0-9]+/", "_"), "_")
    })
  ]
  tracker_traits = [
    for t in local.tracker_words : merge(t, {
      derivable = t.trait != null || (can(regex("^[\\x20-\\x7e]*$", t.subject)) && length(t.words) <= 98)
      produced = t.trait != null ? t.trait : (
        t.words == "" ? "unnamed" : can(regex("^[a-z]", t.words)) ? t.words : "t_${t.words}"
      )
    })
  ]
  produced_traits      = toset([for t in local.tracker_traits : t.produced if t.derivable])
  underivable_trackers = [for t in local.tracker_traits : t.tracker if !t.derivable]
  segment_traits_never_produced = var.trackers == null ? [] : sort([
    for trait in local.checked_segment_traits : trait if trait != "*" && !contains(local.produced_traits, trait)
  ])

  # Whether anything reaches the functions that record: Segment's Lambda destination, or an enabled
  # EventBridge rule with a target of its own (lambda or sqs; `none` only feeds extra_targets).
  recording_rules = [
    for key, rule in(var.eventbridge.enabled ? var.eventbridge.rules : {}) : key
    if rule.enabled && rule.target != "none"
  ]
}

check "segments_read_traits_trackers_produce" {
  assert {
    condition     = length(local.segment_traits_never_produced) == 0
    error_message = "segments read usage traits no tracker produces: ${join(", ", local.segment_traits_never_produced)}. With explicit trackers, only their traits are recorded (a tracker's `trait`, or the snake_case of \"<event>\", \"page <name>\", \"screen <name>\"), so these conditions only ever see a count of 0. Add a tracker for each, fix the name, or set trackers = null to count every call.${length(local.underivable_trackers) == 0 ? "" : " (Not derived here, check them with `segment-usage events`: ${join(", ", local.underivable_trackers)}.)"}"
  }
}

check "a_delivery_path_is_on" {
  assert {
    condition     = var.segment_lambda_destination.enabled || length(local.recording_rules) > 0
    error_message = "Nothing will be recorded: segment_lambda_destination.enabled is false and ${var.eventbridge.enabled ? "no EventBridge rule is enabled with target = lambda or sqs (eventbridge.rules)" : "eventbridge.enabled is false"}. Enable Segment's Amazon Lambda destination (segment_lambda_destination = { enabled = true }, the default) or the EventBridge destination (eventbridge = { enabled = true, segment_source_id = ... })."
  }
}

# The Role Address pasted into Segment is the Segment role's ARN, which holds iam.path: changing the
# path replaces the role (and every execution role) under a new ARN, and Segment's invocations fail
# with AccessDenied until the new Role Address is pasted. This looks the role up by name where it
# is now and warns when its path differs from iam.path, i.e. on exactly the plan that changes it.
check "segment_role_address_unchanged" {
  data "aws_iam_roles" "segment" {
    name_regex = "^${local.segment_role_name}$"
  }

  assert {
    condition = !local.segment_role_enabled || alltrue([
      for arn in data.aws_iam_roles.segment.arns : arn == "arn:${local.partition}:iam::${local.account_id}:role${local.iam_path}${local.segment_role_name}"
    ])
    error_message = "iam.path changes from ${join(", ", [for arn in data.aws_iam_roles.segment.arns : "\"${try(trimsuffix(regex("^arn:[^:]+:iam::[0-9]+:role(/.*)$", arn)[0], local.segment_role_name), arn)}\""])} to \"${local.iam_path}\": this replaces every role the module creates, the Segment role included, whose ARN becomes arn:${local.partition}:iam::${local.account_id}:role${local.iam_path}${local.segment_role_name}. Segment's invocations fail until that new Role Address is pasted into the Amazon Lambda destination's settings (terraform output segment_lambda_destination_settings)."
  }
}
