# Segment definitions (var.segments) are evaluated on read by the read API and the CLI; the recording
# handler never needs them. They are stored in the table as item CONFIG/SEGMENTS (stored_config.tf),
# checked here at plan time. This file is the one grammar of a condition in Terraform: its fields
# and their types (segment_fields, segment_objects), the kinds of condition and the fields each takes
# (segment_kinds), and the rules below, nested segments' cycles included; variables.tf checks only a
# segment's outer shape. lambda/segment_usage/read/segments.py parses the same grammar at load.
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
  # Fields added after the stored text was fixed (issue 18): stored only when set, so that
  # definitions without them keep their text and hash. Objects, with their attributes' rules.
  segment_objects = {
    active_days = ["at_least", "at_most", "in_last_days"]
    percent     = ["from", "to"]
  }
  segment_names = ["segment"] # a nested segment's name (a string)
  segment_added = concat(keys(local.segment_objects), local.segment_names)
  max_window    = 365 # in_last_days, active_days.in_last_days: rolling UTC days the view holds
  # The kinds of condition and the fields that go with each; a segment's all/any holds conditions,
  # and so does a condition's all/any, one level down, without all/any of its own.
  segment_kinds = {
    trait          = ["in_last_days", "at_least", "at_most", "active_days", "not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"]
    identify_trait = ["equals", "in", "exists", "at_least", "at_most", "greater_than", "less_than"]
    audience       = ["member"]
    segment        = ["member"]
    percent        = []
  }
  segment_kind_names = ["trait", "identify_trait", "audience", "percent", "segment", "all", "any"]
  segment_groups     = ["all", "any"]
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
          [{ path = "${name}.${group}[${i}]", depth = 1, c = c, owner = name }],
          [for inner in local.segment_groups : [
            for j, n in try(concat(c[inner], []), []) : { path = "${name}.${group}[${i}].${inner}[${j}]", depth = 2, c = n, owner = name }
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
  # The added fields, typed (null when unset or not of their shape, which a rule reports).
  segment_added_values = {
    for e in local.segment_conditions : e.path => merge(
      { for field, attributes in local.segment_objects : field => try(
        { for a in attributes : a => try(tonumber(e.c[field][a]), null) },
        null
      ) if can(keys(e.c[field])) },
      { for field in local.segment_names : field => try(tostring(e.c[field]), null) },
    )
  }
  # The conditions with their typed fields (v), which fields they set (has: given and not null,
  # whatever the type) and their nested all or any.
  segment_checked = [for e in local.segment_conditions : merge(e, {
    v   = merge(local.segment_values[e.path], { for f in keys(local.segment_objects) : f => null }, local.segment_added_values[e.path])
    has = { for field in concat(keys(local.segment_fields), local.segment_added, local.segment_groups) : field => try(e.c[field], null) != null }
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
      rule = "not a field of a condition, which is one of ${join("; ", [for kind, fields in local.segment_kinds : length(fields) > 0 ? "${kind} with ${join(", ", fields)}" : "${kind} = { from, to }"])}; all or any."
      where = flatten([for e in local.segment_checked : [
        for key in try(keys(e.c), []) : "${e.path}.${key}" if !contains(concat(keys(local.segment_fields), local.segment_added, local.segment_groups), key)
      ]])
    },
    {
      rule = "all and any nest one level only: a nested all or any holds trait, identify_trait, audience, percent and segment conditions."
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
      rule  = "set exactly one of ${join(", ", local.segment_kind_names)} in each condition."
      where = [for e in local.segment_checked : e.path if can(keys(e.c)) && length([for kind in local.segment_kind_names : kind if e.has[kind]]) != 1]
    },
    {
      rule  = "a nested segment's name must be a string matching ^[a-z][a-z0-9_]{0,63}$."
      where = [for e in local.segment_checked : "${e.path}.segment" if e.has.segment && !can(regex("^[a-z][a-z0-9_]{0,63}$", e.v.segment))]
    },
    {
      rule  = "must be an object such as { at_least = 3, in_last_days = 7 }: on how many distinct days of the last in_last_days the trait was used."
      where = [for e in local.segment_checked : "${e.path}.active_days" if e.has.active_days && !can(keys(e.c.active_days))]
    },
    {
      rule  = "must be an object { from, to }: the users whose bucket (0-100) is in [from, to)."
      where = [for e in local.segment_checked : "${e.path}.percent" if e.has.percent && !can(keys(e.c.percent))]
    },
    # An object's attributes: known ones only, each a number.
    [for field, attributes in local.segment_objects : {
      rule = "not an attribute of ${field}, which holds ${join(", ", attributes)}."
      where = flatten([for e in local.segment_checked : [
        for key in try(keys(e.c[field]), []) : "${e.path}.${field}.${key}" if !contains(attributes, key)
      ]])
    }],
    [for field, attributes in local.segment_objects : {
      rule = "must be a number."
      where = flatten([for e in local.segment_checked : [
        for a in attributes : "${e.path}.${field}.${a}" if can(keys(e.c[field])) && try(e.c[field][a], null) != null && try(e.v[field][a], null) == null
      ]])
    }],
    {
      rule  = "a nested all or any must list at least one condition."
      where = [for e in local.segment_checked : e.path if !(try(e.all == null ? true : length(e.all) > 0, true) && try(e.any == null ? true : length(e.any) > 0, true))]
    },
    {
      rule  = "in_last_days, active_days, not_seen_for_days, seen_in_last_days and first_seen_in_last_days go with trait only."
      where = [for e in local.segment_checked : e.path if !e.has.trait && anytrue([for field in ["in_last_days", "active_days", "not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"] : e.has[field]])]
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
      rule  = "member goes with audience or segment only."
      where = [for e in local.segment_checked : e.path if !e.has.audience && !e.has.segment && e.has.member]
    },
    {
      rule  = "in_last_days must be whole days 1-${local.max_window} (rolling UTC days ending today), or omitted for the lifetime count."
      where = [for e in local.segment_checked : "${e.path}.in_last_days" if !(e.v.in_last_days == null ? true : e.v.in_last_days >= 1 && e.v.in_last_days <= local.max_window && floor(e.v.in_last_days) == e.v.in_last_days)]
    },
    {
      rule  = "a trait condition needs at_least or at_most (which in_last_days applies to), or active_days, not_seen_for_days, seen_in_last_days or first_seen_in_last_days."
      where = [for e in local.segment_checked : e.path if e.has.trait && !((!e.has.in_last_days || e.has.at_least || e.has.at_most) && anytrue([for field in ["at_least", "at_most", "active_days", "not_seen_for_days", "seen_in_last_days", "first_seen_in_last_days"] : e.has[field]]))]
    },
    {
      rule  = "active_days needs in_last_days, whole days 1-${local.max_window}."
      where = [for e in local.segment_checked : "${e.path}.active_days.in_last_days" if e.v.active_days != null && (try(e.c.active_days.in_last_days, null) == null || !try(e.v.active_days.in_last_days >= 1 && e.v.active_days.in_last_days <= local.max_window && floor(e.v.active_days.in_last_days) == e.v.active_days.in_last_days, true))]
    },
    {
      rule  = "active_days needs at_least or at_most."
      where = [for e in local.segment_checked : "${e.path}.active_days" if e.v.active_days != null && try(e.c.active_days.at_least, null) == null && try(e.c.active_days.at_most, null) == null]
    },
    {
      rule = "active_days.at_least and at_most are whole days from 0 to in_last_days."
      where = flatten([for e in local.segment_checked : [
        for a in ["at_least", "at_most"] : "${e.path}.active_days.${a}" if e.v.active_days != null && !try(e.v.active_days[a] == null ? true : e.v.active_days[a] >= 0 && floor(e.v.active_days[a]) == e.v.active_days[a] && e.v.active_days[a] <= coalesce(e.v.active_days.in_last_days, local.max_window), true)
      ]])
    },
    {
      rule  = "percent needs from and to, numbers 0-100 with two decimals at most (buckets are 0.01 wide), from less than to."
      where = [for e in local.segment_checked : "${e.path}.percent" if e.v.percent != null && alltrue([for a in ["from", "to"] : try(e.c.percent[a], null) == null || try(e.v.percent[a], null) != null]) && !try(alltrue([for v in [e.v.percent.from, e.v.percent.to] : v >= 0 && v <= 100 && abs(v * 100 - floor(v * 100 + 0.5)) < 0.000001]) && e.v.percent.from < e.v.percent.to, false)]
    },
    {
      rule  = "names no segment of this module's segments."
      where = [for e in local.segment_checked : "${e.path}.segment \"${e.v.segment}\"" if e.has.segment && can(regex("^[a-z][a-z0-9_]{0,63}$", e.v.segment)) && !contains(keys(var.segments), coalesce(e.v.segment, "-"))]
    },
    {
      # One error per cycle: at the references of its first segment (by name) to the others.
      rule  = "each would need the others' answer first: remove one of these references."
      where = [for e in local.segment_checked : "${e.path}.segment: a cycle of nested segments through ${join(", ", local.segment_cycles[e.owner])}" if e.has.segment && contains(local.segment_cycles[e.owner], coalesce(e.v.segment, "-")) && try(e.owner == local.segment_cycles[e.owner][0], false)]
    },
    {
      rule  = "at_least and at_most on a trait are numbers >= 0: its count, or its sum for a sum tracker's trait."
      where = [for e in local.segment_checked : e.path if !(e.v.trait == null ? true : alltrue([for v in [e.v.at_least, e.v.at_most] : v == null ? true : v >= 0]))]
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
  # Nested segments: who names whom, and who reaches whom in up to 2^10 steps (each level doubles
  # the chains it follows; Terraform has no recursion). A segment is on a cycle when it reaches
  # itself; segment_cycles holds, per segment, the segments on its cycles (sorted; [] for none).
  segment_refs = { for name in try(keys(var.segments), []) : name => distinct([
    for e in local.segment_checked : e.v.segment if e.owner == name && e.has.segment && contains(keys(var.segments), coalesce(e.v.segment, "-"))
  ]) }
  segment_reach_1  = { for s, r in local.segment_refs : s => distinct(concat(r, flatten([for t in r : local.segment_refs[t]]))) }
  segment_reach_2  = { for s, r in local.segment_reach_1 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_1[t]]))) }
  segment_reach_3  = { for s, r in local.segment_reach_2 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_2[t]]))) }
  segment_reach_4  = { for s, r in local.segment_reach_3 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_3[t]]))) }
  segment_reach_5  = { for s, r in local.segment_reach_4 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_4[t]]))) }
  segment_reach_6  = { for s, r in local.segment_reach_5 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_5[t]]))) }
  segment_reach_7  = { for s, r in local.segment_reach_6 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_6[t]]))) }
  segment_reach_8  = { for s, r in local.segment_reach_7 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_7[t]]))) }
  segment_reach_9  = { for s, r in local.segment_reach_8 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_8[t]]))) }
  segment_reach_10 = { for s, r in local.segment_reach_9 : s => distinct(concat(r, flatten([for t in r : local.segment_reach_9[t]]))) }
  segment_cycles   = { for s, r in local.segment_reach_10 : s => sort([for t in r : t if contains(local.segment_reach_10[t], s)]) }

  segment_errors = flatten([
    for r in flatten(local.segment_rule_failures) : [for where in r.where : "segments: ${where}: ${r.rule}"]
  ])

  # The definitions as stored: every field of every condition present, typed, null when unset, as
  # Terraform wrote them when var.segments was a typed object (same definitions, same text and
  # hash); the fields added since (segment_added, a segment's salt) only when set. The Python parser
  # ignores nulls.
  segment_stored = {
    for e in local.segment_conditions : e.path => merge(
      local.segment_values[e.path],
      { for field, value in local.segment_added_values[e.path] : field => value if value != null },
    )
  }
  segments_document = {
    for name, s in var.segments : name => merge({
      description = try(tostring(s.description), null)
      all = try(concat(s.all, []), null) == null ? null : [
        for i, c in s.all : merge(local.segment_stored["${name}.all[${i}]"], {
          all = try(concat(c.all, []), null) == null ? null : [for j, _ in c.all : local.segment_stored["${name}.all[${i}].all[${j}]"]]
          any = try(concat(c.any, []), null) == null ? null : [for j, _ in c.any : local.segment_stored["${name}.all[${i}].any[${j}]"]]
        })
      ]
      any = try(concat(s.any, []), null) == null ? null : [
        for i, c in s.any : merge(local.segment_stored["${name}.any[${i}]"], {
          all = try(concat(c.all, []), null) == null ? null : [for j, _ in c.all : local.segment_stored["${name}.any[${i}].all[${j}]"]]
          any = try(concat(c.any, []), null) == null ? null : [for j, _ in c.any : local.segment_stored["${name}.any[${i}].any[${j}]"]]
        })
      ]
    }, try(s.salt, null) == null ? {} : { salt = tostring(s.salt) })
  }
  segments_json   = length(var.segments) == 0 ? null : jsonencode(local.segments_document)
  segments_sha256 = local.segments_json == null ? null : sha256(local.segments_json)
}
