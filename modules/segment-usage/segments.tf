# Segment definitions (var.segments) are evaluated on read by the read API and the CLI; the recording
# handler never needs them. They are stored in the table as item CONFIG/SEGMENTS (stored_config.tf),
# checked here at plan time. This file is the one grammar of a condition in Terraform: its fields
# and their types (segment_fields), the kinds of condition and the fields each takes
# (segment_kinds), and the rules below; variables.tf checks only a segment's outer shape.
locals {
  # Every field a condition may hold, with its type. The stored JSON holds each one (null when
  # unset), so that the same definitions keep the same text, and hash, as when the variable was a
  # typed object.
  segment_fields = {
    trait                   = "string"
    in_last_days            = "number"
    at_least                = "number"
    at_most                 = "number"
    not_seen_for_days       = "number"
    seen_in_last_days       = "number"
    first_seen_in_last_days = "number"
    identify_trait          = "string"
    equals                  = "string"
    in                      = "list(string)"
    exists                  = "bool"
    greater_than            = "number"
    less_than               = "number"
    audience                = "string"
    member                  = "bool"
  }
  # The kinds of condition and the fields that go with each; a segment's all/any holds conditions,
  # and so does a condition's all/any, one level down, without all/any of its own.
  segment_kinds = {
    trait          = ["in_last_days", "at_least", "at_most", "not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"]
    identify_trait = ["equals", "in", "exists", "at_least", "at_most", "greater_than", "less_than"]
    audience       = ["member"]
  }
  segment_groups = ["all", "any"]
  segment_type_rules = {
    "number"       = "must be a number."
    "string"       = "must be a string."
    "bool"         = "must be true or false."
    "list(string)" = "must be a list of strings."
  }

  # Every condition of every segment, nested ones included, with the path an error names it by
  # (name.all[i] or name.all[i].any[j]), its depth, what it holds (c) and its fields converted to
  # their types (v: null when unset or of the wrong type, which a rule reports). The rules below are
  # checked on these at plan time, by a precondition: a variable validation could not share this
  # list (validations see no locals before Terraform 1.9, and this module supports 1.5).
  segment_conditions = flatten([
    for name, s in var.segments : [
      for group in local.segment_groups : [
        for i, c in try(concat(s[group], []), []) : concat(
          [{ path = "${name}.${group}[${i}]", depth = 1, c = c }],
          [for inner in local.segment_groups : [
            for j, n in try(concat(c[inner], []), []) : { path = "${name}.${group}[${i}].${inner}[${j}]", depth = 2, c = n }
          ]],
        )
      ]
    ]
  ])
  segment_values = {
    for e in local.segment_conditions : e.path => merge(
      { for field, type in local.segment_fields : field => try(tonumber(e.c[field]), null) if type == "number" },
      { for field, type in local.segment_fields : field => try(tostring(e.c[field]), null) if type == "string" },
      { for field, type in local.segment_fields : field => try(tobool(e.c[field]), null) if type == "bool" },
      { in = try([for value in tolist(e.c["in"]) : tostring(value)], null) },
    )
  }
  # The conditions with their typed fields (v), which fields they set (has: given and not null,
  # whatever the type) and their nested all or any.
  segment_checked = [for e in local.segment_conditions : merge(e, {
    v   = local.segment_values[e.path]
    has = { for field in concat(keys(local.segment_fields), local.segment_groups) : field => try(e.c[field], null) != null }
    all = try(e.c.all, null)
    any = try(e.c.any, null)
  })]

  # Each rule with where it is broken (a condition, or one of its fields).
  segment_rule_failures = [
    {
      rule  = "a condition must be an object such as { trait = \"report_exported\", at_least = 1 }."
      where = [for e in local.segment_checked : e.path if !can(keys(e.c))]
    },
    {
      rule = "not a field of a condition, which is one of ${join("; ", [for kind, fields in local.segment_kinds : "${kind} with ${join(", ", fields)}"])}; all or any."
      where = flatten([for e in local.segment_checked : [
        for key in try(keys(e.c), []) : "${e.path}.${key}" if !contains(concat(keys(local.segment_fields), local.segment_groups), key)
      ]])
    },
    {
      rule = "all and any nest one level only: a nested all or any holds trait, identify_trait and audience conditions."
      where = flatten([for e in local.segment_checked : [
        for group in local.segment_groups : "${e.path}.${group}" if e.depth > 1 && try(e.c[group], null) != null
      ]])
    },
    {
      rule = "must be a list of conditions."
      where = flatten([for e in local.segment_checked : [
        for group in local.segment_groups : "${e.path}.${group}" if e.depth == 1 && try(e.c[group], null) != null && !can(concat(e.c[group], []))
      ]])
    },
    # Each field of the wrong type, by type.
    [for type, text in local.segment_type_rules : {
      rule = text
      where = flatten([for e in local.segment_checked : [
        for field, field_type in local.segment_fields : "${e.path}.${field}" if field_type == type && try(e.c[field], null) != null && local.segment_values[e.path][field] == null
      ]])
    }],
    {
      rule  = "set exactly one of trait, identify_trait, audience, all, any in each condition."
      where = [for e in local.segment_checked : e.path if can(keys(e.c)) && length([for kind in ["trait", "identify_trait", "audience", "all", "any"] : kind if e.has[kind]]) != 1]
    },
    {
      rule  = "a nested all or any must list at least one condition."
      where = [for e in local.segment_checked : e.path if !(try(e.all == null ? true : length(e.all) > 0, true) && try(e.any == null ? true : length(e.any) > 0, true))]
    },
    {
      rule  = "in_last_days, not_seen_for_days, seen_in_last_days and first_seen_in_last_days go with trait only."
      where = [for e in local.segment_checked : e.path if !e.has.trait && anytrue([for field in ["in_last_days", "not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"] : e.has[field]])]
    },
    {
      rule  = "equals, in, exists, greater_than and less_than go with identify_trait only."
      where = [for e in local.segment_checked : e.path if !e.has.identify_trait && anytrue([for field in ["equals", "in", "exists", "greater_than", "less_than"] : e.has[field]])]
    },
    {
      rule  = "at_least and at_most go with trait (a count) or identify_trait (a number) only."
      where = [for e in local.segment_checked : e.path if !e.has.trait && !e.has.identify_trait && (e.has.at_least || e.has.at_most)]
    },
    {
      rule  = "member goes with audience only."
      where = [for e in local.segment_checked : e.path if !e.has.audience && e.has.member]
    },
    {
      rule  = "in_last_days must be 7 or 30 (or omitted for the lifetime count): the stored view counts only the last 7 and 30 days."
      where = [for e in local.segment_checked : e.path if !(e.v.in_last_days == null ? true : contains([7, 30], e.v.in_last_days))]
    },
    {
      rule  = "a trait condition needs at_least or at_most (which in_last_days applies to), or not_seen_for_days, seen_in_last_days or first_seen_in_last_days."
      where = [for e in local.segment_checked : e.path if e.has.trait && !((!e.has.in_last_days || e.has.at_least || e.has.at_most) && anytrue([for field in ["at_least", "at_most", "not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"] : e.has[field]]))]
    },
    {
      rule  = "at_least and at_most on a trait are counts: whole numbers >= 0."
      where = [for e in local.segment_checked : e.path if !(e.v.trait == null ? true : alltrue([for v in [e.v.at_least, e.v.at_most] : v == null ? true : v >= 0 && floor(v) == v]))]
    },
    {
      rule  = "not_seen_for_days, seen_in_last_days and first_seen_in_last_days must be whole days 1-36500."
      where = [for e in local.segment_checked : e.path if !(alltrue([for v in [e.v.not_seen_for_days, e.v.seen_in_last_days, e.v.first_seen_in_last_days] : v == null ? true : v >= 1 && v <= 36500 && floor(v) == v]))]
    },
    {
      rule  = "an identify_trait condition needs equals, in, exists, at_least, at_most, greater_than or less_than."
      where = [for e in local.segment_checked : e.path if e.has.identify_trait && !anytrue([for field in local.segment_kinds.identify_trait : e.has[field]])]
    },
    {
      rule  = "in must list at least one value."
      where = [for e in local.segment_checked : e.path if !(e.v.in == null ? true : length(e.v.in) > 0)]
    },
    {
      rule  = "trait, identify_trait and audience names must be 1-200 characters."
      where = [for e in local.segment_checked : e.path if !(alltrue([for v in [e.v.trait, e.v.identify_trait, e.v.audience] : v == null ? true : length(v) >= 1 && length(v) <= 200]))]
    },
  ]
  segment_errors = flatten([
    for r in flatten(local.segment_rule_failures) : [for where in r.where : "segments: ${where}: ${r.rule}"]
  ])

  # The definitions as stored: every field of every condition present, typed, null when unset, as
  # Terraform wrote them when var.segments was a typed object (same definitions, same text and
  # hash). The Python parser ignores nulls.
  segments_document = {
    for name, s in var.segments : name => {
      description = try(tostring(s.description), null)
      all = try(concat(s.all, []), null) == null ? null : [
        for i, c in s.all : merge(local.segment_values["${name}.all[${i}]"], {
          all = try(concat(c.all, []), null) == null ? null : [for j, _ in c.all : local.segment_values["${name}.all[${i}].all[${j}]"]]
          any = try(concat(c.any, []), null) == null ? null : [for j, _ in c.any : local.segment_values["${name}.all[${i}].any[${j}]"]]
        })
      ]
      any = try(concat(s.any, []), null) == null ? null : [
        for i, c in s.any : merge(local.segment_values["${name}.any[${i}]"], {
          all = try(concat(c.all, []), null) == null ? null : [for j, _ in c.all : local.segment_values["${name}.any[${i}].all[${j}]"]]
          any = try(concat(c.any, []), null) == null ? null : [for j, _ in c.any : local.segment_values["${name}.any[${i}].any[${j}]"]]
        })
      ]
    }
  }
  segments_json   = length(var.segments) == 0 ? null : jsonencode(local.segments_document)
  segments_sha256 = local.segments_json == null ? null : sha256(local.segments_json)
}
