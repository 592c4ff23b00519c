# Segment definitions (var.segments) are evaluated on read by the read API and the CLI; the recording
# handler never needs them. They are stored in the table as item CONFIG/SEGMENTS (stored_config.tf),
# checked here at plan time.
locals {
  # Every condition of every segment, nested ones included, with the path an error names it by
  # (name.all[i] or name.all[i].any[j]). The rules below are checked on these at plan time, by a
  # precondition: a variable validation could not share this list (validations see no locals
  # before Terraform 1.9, and this module supports 1.5).
  segment_conditions = flatten([
    for name, s in var.segments : [
      for i, c in(s.all != null ? s.all : coalesce(s.any, [])) : concat(
        [{ path = "${name}.${s.all != null ? "all" : "any"}[${i}]", c = c }],
        [for j, n in(c.all != null ? c.all : coalesce(c.any, [])) : {
          path = "${name}.${s.all != null ? "all" : "any"}[${i}].${c.all != null ? "all" : "any"}[${j}]"
          c    = n
        }],
      )
    ]
  ])
  # Each rule with the conditions that break it.
  segment_rule_failures = [
    {
      rule  = "set exactly one of trait, identify_trait, audience, all, any in each condition."
      paths = [for e in local.segment_conditions : e.path if !(length([for k in [e.c.trait, e.c.identify_trait, e.c.audience, try(e.c.all, null), try(e.c.any, null)] : k if k != null]) == 1)]
    },
    {
      rule  = "a nested all or any must list at least one condition."
      paths = [for e in local.segment_conditions : e.path if !(try(e.c.all == null ? true : length(e.c.all) > 0, true) && try(e.c.any == null ? true : length(e.c.any) > 0, true))]
    },
    {
      rule  = "in_last_days, not_seen_for_days, seen_in_last_days and first_seen_in_last_days go with trait only."
      paths = [for e in local.segment_conditions : e.path if !(e.c.trait != null || length([for v in [e.c.in_last_days, e.c.not_seen_for_days, e.c.seen_in_last_days, e.c.first_seen_in_last_days] : v if v != null]) == 0)]
    },
    {
      rule  = "equals, in, exists, greater_than and less_than go with identify_trait only."
      paths = [for e in local.segment_conditions : e.path if !(e.c.identify_trait != null || length([for v in [e.c.equals, e.c.in, e.c.exists, e.c.greater_than, e.c.less_than] : v if v != null]) == 0)]
    },
    {
      rule  = "at_least and at_most go with trait (a count) or identify_trait (a number) only."
      paths = [for e in local.segment_conditions : e.path if !(e.c.trait != null || e.c.identify_trait != null || (e.c.at_least == null && e.c.at_most == null))]
    },
    {
      rule  = "member goes with audience only."
      paths = [for e in local.segment_conditions : e.path if !(e.c.audience != null || e.c.member == null)]
    },
    {
      rule  = "in_last_days must be 7 or 30 (or omitted for the lifetime count): the stored view counts only the last 7 and 30 days."
      paths = [for e in local.segment_conditions : e.path if !(e.c.in_last_days == null ? true : contains([7, 30], e.c.in_last_days))]
    },
    {
      rule  = "a trait condition needs at_least or at_most (which in_last_days applies to), or not_seen_for_days, seen_in_last_days or first_seen_in_last_days."
      paths = [for e in local.segment_conditions : e.path if !(e.c.trait == null ? true : (e.c.in_last_days == null || e.c.at_least != null || e.c.at_most != null) && length([for v in [e.c.at_least, e.c.at_most, e.c.not_seen_for_days, e.c.seen_in_last_days, e.c.first_seen_in_last_days] : v if v != null]) > 0)]
    },
    {
      rule  = "at_least and at_most on a trait are counts: whole numbers >= 0."
      paths = [for e in local.segment_conditions : e.path if !(e.c.trait == null ? true : alltrue([for v in [e.c.at_least, e.c.at_most] : v == null ? true : v >= 0 && floor(v) == v]))]
    },
    {
      rule  = "not_seen_for_days, seen_in_last_days and first_seen_in_last_days must be whole days 1-36500."
      paths = [for e in local.segment_conditions : e.path if !(alltrue([for v in [e.c.not_seen_for_days, e.c.seen_in_last_days, e.c.first_seen_in_last_days] : v == null ? true : v >= 1 && v <= 36500 && floor(v) == v]))]
    },
    {
      rule  = "an identify_trait condition needs equals, in, exists, at_least, at_most, greater_than or less_than."
      paths = [for e in local.segment_conditions : e.path if !(e.c.identify_trait == null ? true : length([for v in [e.c.equals, e.c.in, e.c.exists, e.c.at_least, e.c.at_most, e.c.greater_than, e.c.less_than] : v if v != null]) > 0)]
    },
    {
      rule  = "in must list at least one value."
      paths = [for e in local.segment_conditions : e.path if !(e.c.in == null ? true : length(e.c.in) > 0)]
    },
    {
      rule  = "trait, identify_trait and audience names must be 1-200 characters."
      paths = [for e in local.segment_conditions : e.path if !(alltrue([for v in [e.c.trait, e.c.identify_trait, e.c.audience] : v == null ? true : length(v) >= 1 && length(v) <= 200]))]
    },
  ]
  segment_errors = flatten([
    for r in local.segment_rule_failures : [for path in r.paths : "segments: ${path}: ${r.rule}"]
  ])

  # jsonencode writes unset optional attributes as null; the Python parser ignores nulls.
  segments_json   = length(var.segments) == 0 ? null : jsonencode(var.segments)
  segments_sha256 = local.segments_json == null ? null : sha256(local.segments_json)
}
