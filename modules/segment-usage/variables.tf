# ---------------------------------------------------------------------------------------------------
# Naming and tags
# ---------------------------------------------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name (lower-case letters, digits and hyphens, 2-24 characters, starting with a letter). Together with `environment` it must be unique per account and region. Changing it replaces every resource: the table (with its data; deletion protection refuses), the functions, queues and roles, including the Segment role, whose new ARN must be pasted into Segment's Role Address."
  type        = string
  default     = "segment-usage"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name))
    error_message = "name must be 2-24 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "environment" {
  description = "Environment name (for example dev, staging, prod), part of every resource name and of the Segment role name: 1-12 lower-case letters and digits, starting with a letter. Changing it replaces every resource, as `name` does (the table with its data, and the Segment role: a new Role Address for Segment)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{0,11}$", var.environment))
    error_message = "environment must be 1-12 lower-case letters and digits, starting with a letter."
  }
}

variable "tags" {
  description = "Tags applied to every resource the module creates, besides the module's own `Module = \"segment-usage\"`, `Environment = <environment>` and, on the table, `Name = <name>-<environment>`: a key given here wins over the module's (for example your own Environment tag)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key, value in var.tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")
    ])
    error_message = "Tag keys must be 1-128 characters and not start with aws:, tag values at most 256 characters."
  }
}

# ---------------------------------------------------------------------------------------------------
# Lambda function
# ---------------------------------------------------------------------------------------------------

variable "lambda" {
  description = <<-EOT
    The handler function. By default it runs the artifacts shipped in the module (`artifacts/`: the
    handler zip and a dependencies layer for `architecture` and `runtime`), so nothing needs building.
    To deploy your own build instead, give a self-contained zip (`lambda/build_package.py --bundle`)
    as `package_path` (a local file) or `package_s3` (`bucket`, `key`, and `object_version` or
    `source_code_hash`, so that a new upload is deployed); no layer is created then. `timeout` (seconds) must stay under Segment's
    5-second limit. `alias_name`, when set, publishes a version on every change and points that alias
    at it; Segment, EventBridge and SQS then invoke the alias (changing `alias_name` replaces the alias:
    paste the new `lambda_arn` into Segment). For every function of the module (direct,
    batch, read): `kms_key_arn`, a customer KMS key that encrypts the functions' environment variables
    (null: Lambda's AWS-managed key; each execution role may kms:Decrypt with it for its own function,
    and the key policy must let the deployer use it); `code_signing_config_arn`, a Lambda code signing
    configuration the code must satisfy (null: none; the shipped artifacts are unsigned, so with an
    Enforce policy deploy your own signed zip through `package_s3`).
  EOT
  type = object({
    architecture         = optional(string, "arm64")
    runtime              = optional(string, "python3.13")
    memory_size          = optional(number, 256)
    timeout              = optional(number, 3)
    reserved_concurrency = optional(number)
    tracing_mode         = optional(string)
    package_path         = optional(string)
    package_s3 = optional(object({
      bucket           = string
      key              = string
      object_version   = optional(string)
      source_code_hash = optional(string)
    }))
    alias_name              = optional(string)
    kms_key_arn             = optional(string)
    code_signing_config_arn = optional(string)
  })
  default = {}

  validation {
    condition     = var.lambda.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$", var.lambda.kms_key_arn))
    error_message = "lambda.kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias ARN is not accepted by Lambda."
  }
  validation {
    condition     = var.lambda.code_signing_config_arn == null ? true : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", var.lambda.code_signing_config_arn))
    error_message = "lambda.code_signing_config_arn must be a Lambda code signing configuration ARN (arn:aws:lambda:<region>:<account>:code-signing-config:csc-<17 characters>)."
  }

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda.architecture)
    error_message = "lambda.architecture must be arm64 or x86_64."
  }
  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda.runtime)
    error_message = "lambda.runtime must be python3.12 or python3.13."
  }
  validation {
    condition     = var.lambda.memory_size >= 128 && var.lambda.memory_size <= 10240 && floor(var.lambda.memory_size) == var.lambda.memory_size
    error_message = "lambda.memory_size must be a whole number of MB between 128 and 10240."
  }
  validation {
    condition     = var.lambda.timeout >= 1 && var.lambda.timeout <= 4 && floor(var.lambda.timeout) == var.lambda.timeout
    error_message = "lambda.timeout must be 1-4 seconds: Segment gives up on an invocation after 5 seconds."
  }
  validation {
    condition     = var.lambda.reserved_concurrency == null ? true : (var.lambda.reserved_concurrency >= 0 && floor(var.lambda.reserved_concurrency) == var.lambda.reserved_concurrency)
    error_message = "lambda.reserved_concurrency must be null (unreserved) or a whole number >= 0."
  }
  validation {
    condition     = var.lambda.tracing_mode == null ? true : contains(["Active", "PassThrough"], var.lambda.tracing_mode)
    error_message = "lambda.tracing_mode must be null (no X-Ray), Active or PassThrough."
  }
  validation {
    condition     = var.lambda.package_path == null ? true : endswith(var.lambda.package_path, ".zip") && fileexists(var.lambda.package_path)
    error_message = "lambda.package_path must name an existing .zip (build one with `lambda/build_package.py --bundle`), relative to the root module or absolute."
  }
  validation {
    condition     = var.lambda.package_path == null || var.lambda.package_s3 == null
    error_message = "lambda.package_path and lambda.package_s3 are alternatives: set at most one."
  }
  validation {
    condition     = var.lambda.package_s3 == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lambda.package_s3.bucket)) && length(trimspace(var.lambda.package_s3.key)) > 0
    error_message = "lambda.package_s3 needs an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens) and a non-empty key."
  }
  validation {
    condition     = var.lambda.package_s3 == null ? true : (try(var.lambda.package_s3.object_version, null) != null || try(var.lambda.package_s3.source_code_hash, null) != null)
    error_message = "lambda.package_s3 needs object_version or source_code_hash: without either, a new upload under the same key is never deployed."
  }
  validation {
    condition     = try(var.lambda.package_s3.source_code_hash, null) == null ? true : can(regex("^[A-Za-z0-9+/]{43}=$", var.lambda.package_s3.source_code_hash))
    error_message = "lambda.package_s3.source_code_hash must be the base64-encoded SHA-256 of the zip (as `openssl dgst -sha256 -binary f.zip | base64` prints)."
  }
  validation {
    condition     = var.lambda.alias_name == null ? true : can(regex("^[a-zA-Z][a-zA-Z0-9_-]{0,127}$", var.lambda.alias_name)) && !can(regex("^[0-9]+$", var.lambda.alias_name))
    error_message = "lambda.alias_name must start with a letter and hold at most 128 letters, digits, hyphens and underscores."
  }
  validation {
    condition     = var.lambda.alias_name != "eventbridge"
    error_message = "lambda.alias_name cannot be \"eventbridge\": the module creates that alias for EventBridge rules with target = lambda (invocations through it accept only EventBridge events)."
  }
}

variable "logs" {
  description = "The function's CloudWatch log group: retention in days (one of CloudWatch's allowed values), optional KMS key ARN (its key policy must allow logs.<region>.amazonaws.com) and the Lambda application log level."
  type = object({
    retention_in_days = optional(number, 30)
    kms_key_arn       = optional(string)
    log_level         = optional(string, "INFO")
  })
  default = {}

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.logs.retention_in_days)
    error_message = "logs.retention_in_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
  validation {
    condition     = var.logs.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$", var.logs.kms_key_arn))
    error_message = "logs.kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.logs.log_level)
    error_message = "logs.log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

# ---------------------------------------------------------------------------------------------------
# Handler settings (environment variables)
# ---------------------------------------------------------------------------------------------------

variable "trackers" {
  description = <<-EOT
    Which calls count as usage: null counts every track, page and screen call; otherwise a list of
    {type = track|page|screen, name = event name (or page name/category, or screen name),
    trait = optional trait name, where = optional filters, sum = optional property to sum}.
    `where` maps a property path under `properties` ("format", "cart.total") to one condition:
    { equals = "pdf" } (a string; a number or boolean property compares by value, 5 = "5.0",
    true = "true"), { in = ["pdf", "csv"] } (1-100 values), or a range { gt, gte, lt, lte = number }
    (any of them, all must hold); every entry must hold. `sum` is the path of a numeric property
    whose exact sum the trait also keeps (numbers with at most 6 decimals and under 1e15 in
    absolute value; a message without one does not count). A tracker with where or sum needs its
    own trait. A message counts towards every trait whose tracker it matches: at most 4 per call
    name, their trait names (+28 bytes each, +14 for a sum) at most 150 bytes, which keeps a day
    bucket under 1 KB (1 WCU per write). Example: [{ type = "track", name = "Report Exported" },
    { type = "track", name = "Report Exported", trait = "pdf_exports", where = { format = { equals = "pdf" } } },
    { type = "track", name = "Order Completed", trait = "revenue", sum = "revenue" }].
  EOT
  type = list(object({
    type  = string
    name  = string
    trait = optional(string)
    where = optional(map(object({
      equals = optional(string)
      in     = optional(list(string))
      gt     = optional(number)
      gte    = optional(number)
      lt     = optional(number)
      lte    = optional(number)
    })), {})
    sum = optional(string)
  }))
  default = null

  validation {
    condition     = var.trackers == null ? true : alltrue([for t in var.trackers : contains(["track", "page", "screen"], t.type)])
    error_message = "Every tracker type must be track, page or screen."
  }
  validation {
    condition     = var.trackers == null ? true : alltrue([for t in var.trackers : length(trimspace(t.name)) > 0])
    error_message = "Every tracker needs a non-empty name."
  }
  validation {
    condition     = var.trackers == null ? true : alltrue([for t in var.trackers : t.trait == null ? true : can(regex("^[a-z][a-z0-9_]{0,99}$", t.trait))])
    error_message = "A tracker trait must match ^[a-z][a-z0-9_]{0,99}$."
  }
  validation {
    condition     = var.trackers == null ? true : alltrue([for t in var.trackers : t.trait != null || (length(t.where) == 0 && t.sum == null)])
    error_message = "A tracker with where or sum needs its own trait (it counts only some of its calls): ${join(", ", [for i, t in(var.trackers == null ? [] : var.trackers) : "trackers[${i}] (${jsonencode(t.name)}).trait" if t.trait == null && (length(t.where) > 0 || t.sum != null)])}."
  }
  validation {
    condition = var.trackers == null ? true : alltrue(flatten([for t in var.trackers : [for path, c in t.where :
      can(regex("^[^.]+([.][^.]+)*$", path)) &&
      ((c.equals != null ? 1 : 0) + (c.in != null ? 1 : 0) + (anytrue([c.gt != null, c.gte != null, c.lt != null, c.lte != null]) ? 1 : 0)) == 1 &&
      (c.in == null ? true : length(c.in) >= 1 && length(c.in) <= 100)
    ]]))
    error_message = "Every where entry maps a property path under properties (\"format\", \"cart.total\": dot-separated, no empty part) to exactly one of { equals = value }, { in = [1 to 100 values] } or a range { gt, gte, lt, lte = number }; wrong: ${join(", ", flatten([for i, t in(var.trackers == null ? [] : var.trackers) : [for path, c in t.where : "trackers[${i}] (${jsonencode(t.name)}).where[${jsonencode(path)}]" if !(can(regex("^[^.]+([.][^.]+)*$", path)) && ((c.equals != null ? 1 : 0) + (c.in != null ? 1 : 0) + (anytrue([c.gt != null, c.gte != null, c.lt != null, c.lte != null]) ? 1 : 0)) == 1 && (c.in == null ? true : length(c.in) >= 1 && length(c.in) <= 100))]]))}."
  }
  validation {
    condition     = var.trackers == null ? true : alltrue([for t in var.trackers : t.sum == null ? true : can(regex("^[^.]+([.][^.]+)*$", t.sum))])
    error_message = "A tracker's sum is the path of a numeric property under properties (\"revenue\", \"cart.total\": dot-separated, no empty part); wrong: ${join(", ", [for i, t in(var.trackers == null ? [] : var.trackers) : "trackers[${i}] (${jsonencode(t.name)}).sum" if t.sum != null && !can(regex("^[^.]+([.][^.]+)*$", coalesce(t.sum, "x")))])}."
  }
  # The per-message bound of a day bucket (lambda/segment_usage/table/buckets.py): a message counts
  # towards at most 4 traits whose bytes (name + 28, + 14 for a sum) total at most 150. A tracker
  # without a trait counts its default trait name's upper bound: the name's UTF-8 bytes (rounded up
  # to a multiple of 3), + 1 per camelCase boundary, + 2 ("t_"), at most 100.
  validation {
    condition = var.trackers == null ? true : alltrue([
      for call in distinct([for t in var.trackers : "${t.type} ${jsonencode(t.name)}"]) :
      length([for t in var.trackers : t if "${t.type} ${jsonencode(t.name)}" == call]) <= 4 &&
      sum(concat([0], [for t in var.trackers : (t.trait != null ? length(t.trait) : min(100, length(base64encode(t.name)) / 4 * 3 + length(regexall("[a-z0-9][A-Z]", t.name)) + 2)) + 28 + (t.sum != null ? 14 : 0) if "${t.type} ${jsonencode(t.name)}" == call])) <= 150
    ])
    error_message = "A call counts towards at most 4 traits, whose names (+28 bytes each, +14 for a sum) total at most 150 bytes, so that a day bucket stays under 1 KB; over it: ${join(", ", [for call in distinct([for t in(var.trackers == null ? [] : var.trackers) : "${t.type} ${jsonencode(t.name)}"]) : "${call} (${length([for t in(var.trackers == null ? [] : var.trackers) : t if "${t.type} ${jsonencode(t.name)}" == call])} trackers, ${sum(concat([0], [for t in(var.trackers == null ? [] : var.trackers) : (t.trait != null ? length(t.trait) : min(100, length(base64encode(t.name)) / 4 * 3 + length(regexall("[a-z0-9][A-Z]", t.name)) + 2)) + 28 + (t.sum != null ? 14 : 0) if "${t.type} ${jsonencode(t.name)}" == call]))} bytes)" if length([for t in(var.trackers == null ? [] : var.trackers) : t if "${t.type} ${jsonencode(t.name)}" == call]) > 4 || sum(concat([0], [for t in(var.trackers == null ? [] : var.trackers) : (t.trait != null ? length(t.trait) : min(100, length(base64encode(t.name)) / 4 * 3 + length(regexall("[a-z0-9][A-Z]", t.name)) + 2)) + 28 + (t.sum != null ? 14 : 0) if "${t.type} ${jsonencode(t.name)}" == call])) > 150])}. Use fewer trackers for that call or shorter trait names."
  }
}

variable "tracking_plan" {
  description = "Optional Segment Protocols tracking plan as a JSON string: this product's format (an object with some of common, track, identify, group, unplanned_events = allow|violation), Segment's export as the Public API returns it ({\"data\": {\"rules\": [...]}}) or its rules list. Checked at plan time for shape, keys, unplanned_events and JSON Schema type names (`segment-usage validate --tracking-plan PLAN.json MESSAGE.json` checks the rest, such as $ref). Stored in the table (item pk=CONFIG, sk=TRACKING_PLAN) because it can exceed Lambda's 4 KB environment limit; its SHA-256 goes into the function's environment."
  type        = string
  default     = null

  # What Terraform can check of a plan before any traffic (issue 16): JSON, one of the three shapes
  # the handler loads (lambda/segment_usage/ingest/tracking_plan.py: parse_plan), known top-level
  # keys, the unplanned_events mode, and JSON Schema type names. A plan that passes can still hold
  # an unresolvable $ref or a bad keyword: `segment-usage validate --tracking-plan PLAN.json MESSAGE.json` checks all of it.
  validation {
    condition     = var.tracking_plan == null ? true : can(jsondecode(var.tracking_plan))
    error_message = "tracking_plan must be valid JSON (use jsonencode() or file())."
  }
  validation {
    # (Terraform's || evaluates both sides: each side guards itself with try or can.)
    condition = var.tracking_plan == null ? true : (
      !can(jsondecode(var.tracking_plan)) || # not JSON: reported above
      can(keys(jsondecode(var.tracking_plan))) ||
      try(alltrue([for rule in concat(jsondecode(var.tracking_plan), []) : can(keys(rule))]), false)
    )
    error_message = "tracking_plan must be a JSON object (this product's format { common, track, identify, group, unplanned_events }, or Segment's export {\"data\": {\"rules\": [...]}}) or a JSON list of Segment rules (objects)."
  }
  validation {
    condition = var.tracking_plan == null ? true : (
      try(length([
        for key in keys(jsondecode(var.tracking_plan)) : key
        if !contains(["common", "track", "identify", "group", "unplanned_events"], key)
      ]) == 0, true) || # not an object: reported above
      try(contains(keys(jsondecode(var.tracking_plan)), "data"), false) ||
      try(contains(keys(jsondecode(var.tracking_plan)), "rules"), false)
    )
    error_message = "tracking_plan: unknown top-level keys ${try(jsonencode([for key in keys(jsondecode(var.tracking_plan)) : key if !contains(["common", "track", "identify", "group", "unplanned_events"], key)]), "")}: expected some of common, track, identify, group, unplanned_events (this product's format), or Segment's export {\"data\": {\"rules\": [...]}}."
  }
  validation {
    condition = var.tracking_plan == null ? true : (
      try(!contains(keys(jsondecode(var.tracking_plan)), "data") && !contains(keys(jsondecode(var.tracking_plan)), "rules"), true) ||
      try(alltrue([for rule in concat(try(jsondecode(var.tracking_plan).rules, jsondecode(var.tracking_plan).data.rules), []) : can(keys(rule))]), false)
    )
    error_message = "tracking_plan: a Segment export needs \"data.rules\" (or \"rules\"): a list of rule objects {type, key, version, jsonSchema}."
  }
  validation {
    condition     = var.tracking_plan == null ? true : !can(jsondecode(var.tracking_plan).track) || can(keys(jsondecode(var.tracking_plan).track))
    error_message = "tracking_plan: track must be an object of event name -> JSON Schema of its properties."
  }
  validation {
    condition     = var.tracking_plan == null ? true : try(contains(["allow", "violation"], tostring(jsondecode(var.tracking_plan).unplanned_events)), !can(jsondecode(var.tracking_plan).unplanned_events))
    error_message = "tracking_plan: unplanned_events ${try(jsonencode(jsondecode(var.tracking_plan).unplanned_events), "")} must be \"allow\" or \"violation\"."
  }
  validation {
    # Every "type": "<name>" and "type": [...] in the text: JSON Schema's seven type names, or the
    # rule types of Segment's export.
    condition = var.tracking_plan == null ? true : length(setsubtract(concat(
      [for m in regexall("\"type\"\\s*:\\s*\"([^\"\\\\]*)\"", var.tracking_plan) : m[0]],
      flatten([for m in regexall("\"type\"\\s*:\\s*\\[([^\\]]*)\\]", var.tracking_plan) : [for t in regexall("\"([^\"\\\\]*)\"", m[0]) : t[0]]]),
    ), ["object", "array", "string", "number", "integer", "boolean", "null", "COMMON", "TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN"])) == 0
    error_message = "tracking_plan: unknown JSON Schema type ${try(jsonencode(sort(setsubtract(concat([for m in regexall("\"type\"\\s*:\\s*\"([^\"\\\\]*)\"", var.tracking_plan) : m[0]], flatten([for m in regexall("\"type\"\\s*:\\s*\\[([^\\]]*)\\]", var.tracking_plan) : [for t in regexall("\"([^\"\\\\]*)\"", m[0]) : t[0]]])), ["object", "array", "string", "number", "integer", "boolean", "null", "COMMON", "TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN"]))), "")}: a \"type\" must be one of object, array, string, number, integer, boolean, null (or a rule type TRACK, IDENTIFY, GROUP, PAGE, SCREEN, COMMON of Segment's export)."
  }
  validation {
    condition     = var.tracking_plan == null ? true : length(var.tracking_plan) <= 350000
    error_message = "tracking_plan must fit in one DynamoDB item (at most 350,000 characters)."
  }
}

variable "tracking_plan_mode" {
  description = "What the handler does with a message that violates the tracking plan: warn (record it and the violation) or block (reject it)."
  type        = string
  default     = "warn"

  validation {
    condition     = contains(["warn", "block"], var.tracking_plan_mode)
    error_message = "tracking_plan_mode must be warn or block."
  }
}

variable "identity" {
  description = <<-EOT
    Identity rules (after Segment Unify's identity resolution): `max_users_per_anonymous_id` (1-100,
    default 1) is how many userIds one anonymousId may link to (the first claims win; later ones are
    refused and kept as kind identity); `blocked_values` are id values that never identify or link
    anyone (compared case-folded; null keeps the handler's built-in list: "", null, undefined, 0, -1,
    anonymous, none, nil, unknown, n/a, guest, [object object]; a list replaces it, [] blocks nothing).
  EOT
  type = object({
    max_users_per_anonymous_id = optional(number, 1)
    blocked_values             = optional(list(string))
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.identity.max_users_per_anonymous_id >= 1 && var.identity.max_users_per_anonymous_id <= 100 && floor(var.identity.max_users_per_anonymous_id) == var.identity.max_users_per_anonymous_id
    error_message = "identity.max_users_per_anonymous_id must be a whole number between 1 and 100."
  }
  validation {
    condition     = var.identity.blocked_values == null ? true : alltrue([for v in var.identity.blocked_values : v != null && length(v) <= 128])
    error_message = "identity.blocked_values must be strings of at most 128 characters (null values are not allowed)."
  }
  validation {
    condition     = var.identity.blocked_values == null ? true : length(distinct([for v in var.identity.blocked_values : lower(trimspace(v))])) == length(var.identity.blocked_values)
    error_message = "identity.blocked_values must not repeat a value (values are compared trimmed and case-folded)."
  }
}

variable "engage" {
  description = "Segment Engage: `space_ids` lists the Engage spaces (context.personas.space_id, for example spa_...) whose \"Audience Entered\", \"Audience Exited\" and \"Trait Computed\" tracks may set traits (still governed by the tracking plan's identify schema). Empty (the default): such tracks count as usage only and set no trait."
  type = object({
    space_ids = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for id in var.engage.space_ids : id != null && can(regex("^[A-Za-z0-9_-]{1,64}$", id))])
    error_message = "engage.space_ids must be Engage space ids: 1-64 letters, digits, underscores and hyphens each (for example spa_4Bq2XkD8)."
  }
  validation {
    condition     = length(distinct(var.engage.space_ids)) == length(var.engage.space_ids)
    error_message = "engage.space_ids must not repeat a value."
  }
}

variable "erasure" {
  description = "Erasure: `delete_messages` (default false) lets a Segment delete message ({\"type\": \"delete\", \"userId\": ...}, what Segment's webhooks and destination functions forward) on any delivery path erase that person, as `segment-usage forget USER_ID --apply` does; only then do the ingest functions' roles get dynamodb:DeleteItem. When false such messages are rejected and kept like any other invalid message. Anyone with the write key can send one: enable it only where the sources are trusted."
  type = object({
    delete_messages = optional(bool, false)
  })
  default  = {}
  nullable = false
}

variable "rejected_retention_days" {
  description = "Days the handler keeps rejected messages in the table before DynamoDB TTL removes them (1-3650)."
  type        = number
  default     = 90

  validation {
    condition     = var.rejected_retention_days >= 1 && var.rejected_retention_days <= 3650 && floor(var.rejected_retention_days) == var.rejected_retention_days
    error_message = "rejected_retention_days must be a whole number between 1 and 3650."
  }
}

variable "data_retention_days" {
  description = <<-EOT
    Users inactive this many days expire: every item of a person's partitions (usage, traits, groups, links) carries a DynamoDB TTL that moves forward while they are active, and all of it is deleted between N and N + 7 days after their last message (plus DynamoDB's TTL sweep, typically a few days). null (default): data is kept until erased (`segment-usage forget`). At least 30 days, longer than every redelivery window. Costs, when set: per active user and day one small Query, and weekly one UpdateItem per profile, group and rollup item (docs/security.md).
  EOT
  type        = number
  default     = null

  validation {
    condition     = var.data_retention_days == null ? true : (var.data_retention_days >= 30 && var.data_retention_days <= 3650 && floor(var.data_retention_days) == var.data_retention_days)
    error_message = "data_retention_days must be null (keep data) or a whole number of days between 30 and 3650: shorter than 30 days, a redelivered message could find its day's ledger expired and be counted twice."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics the handler writes as Embedded Metric Format log lines."
  type        = string
  default     = "SegmentUsage"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 of letters, digits and . _ / # : - and not start with AWS/."
  }
}

# ---------------------------------------------------------------------------------------------------
# Path 1: Segment's Amazon Lambda destination
# ---------------------------------------------------------------------------------------------------

variable "segment_lambda_destination" {
  description = "Toggle for the Segment Amazon Lambda destination path: when enabled the module creates the IAM role Segment assumes to invoke the function (requires `segment_external_ids`)."
  type = object({
    enabled = optional(bool, true)
  })
  default = {}
}

variable "segment_principal_arn" {
  description = "The AWS principal Segment assumes the role from. Defaults to the principal in Segment's current Amazon Lambda destination docs; older setups trusted arn:aws:iam::595280932656:root."
  type        = string
  default     = "arn:aws:iam::595280932656:role/customer-lambda-prod-destination-access"

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/[A-Za-z0-9+=,.@_/-]+)$", var.segment_principal_arn))
    error_message = "segment_principal_arn must be an IAM role ARN or an account root ARN."
  }
}

variable "segment_external_ids" {
  description = "External IDs Segment presents when assuming the role (your Segment workspace ID; older setups: source IDs). Required and non-empty when segment_lambda_destination.enabled."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.segment_external_ids : length(id) >= 2 && length(id) <= 1224 && can(regex("^[A-Za-z0-9+=,.@:/_-]+$", id))])
    error_message = "Each external ID must be 2-1224 characters of letters, digits and + = , . @ : / _ -."
  }
  validation {
    condition     = length(distinct(var.segment_external_ids)) == length(var.segment_external_ids)
    error_message = "segment_external_ids must not repeat a value."
  }
}

# ---------------------------------------------------------------------------------------------------
# Path 2: Segment's Amazon EventBridge destination
# ---------------------------------------------------------------------------------------------------

variable "eventbridge" {
  description = <<-EOT
    Segment's Amazon EventBridge destination. When enabled the module creates the partner event bus
    `aws.partner/segment.com/<segment_source_id>` (Segment must have created the partner event source
    first: the plan fails, before anything is created, when the source does not exist in the account
    and region, or was deleted) and one rule per entry of `rules`, keyed by a short name used in the
    rule name. Changing `segment_source_id` replaces the bus, its rules and targets; renaming a rule's
    key replaces that rule and its targets.
    A rule matches every event of the partner source, or, if given, only Segment messages whose own
    `type` (`detail.type`) is in `detail_types` and whose `detail.event` is in `events`. It never
    matches on the envelope's `detail-type`: Segment's Actions destination lets users remap it, after
    which such a rule would silently match nothing. `event_pattern` (a JSON string) replaces the
    generated pattern. `target` is `lambda` (invoke the function directly: retry policy + dead-letter
    queue) or `sqs` (the shared buffer queue, drained by the batch function) or `none` (extra targets
    only). `extra_targets` are SQS queue or SNS topic ARNs in the module's region that also receive the
    matched events (their resource policies must allow events.amazonaws.com; the rule ARNs are an
    output); a FIFO queue (`.fifo`) receives them in the message group `message_group_id`.
  EOT
  type = object({
    enabled           = optional(bool, false)
    segment_source_id = optional(string)
    rules = optional(map(object({
      description      = optional(string)
      detail_types     = optional(list(string))
      events           = optional(list(string), [])
      event_pattern    = optional(string)
      target           = optional(string, "lambda")
      extra_targets    = optional(list(string), [])
      message_group_id = optional(string)
      enabled          = optional(bool, true)
      retry_policy = optional(object({
        maximum_event_age_in_seconds = optional(number, 86400)
        maximum_retry_attempts       = optional(number, 185)
      }), {})
    })), { all = {} })
  })
  default = {}

  validation {
    condition     = !var.eventbridge.enabled || (var.eventbridge.segment_source_id != null && can(regex("^[A-Za-z0-9_-]{1,64}$", coalesce(var.eventbridge.segment_source_id, "-invalid-/"))))
    error_message = "eventbridge.segment_source_id is required when eventbridge.enabled and must be Segment's source ID (1-64 letters, digits, _ or -)."
  }
  validation {
    condition     = !var.eventbridge.enabled || length(var.eventbridge.rules) > 0
    error_message = "eventbridge.rules must hold at least one rule when eventbridge.enabled."
  }
  validation {
    condition     = alltrue([for key, _ in var.eventbridge.rules : can(regex("^[a-z0-9][a-z0-9_-]{0,39}$", key))])
    error_message = "eventbridge.rules keys must be 1-40 lower-case letters, digits, _ or - (they become part of the rule name, which may not contain /)."
  }
  validation {
    condition     = alltrue([for _, r in var.eventbridge.rules : contains(["lambda", "sqs", "none"], r.target)])
    error_message = "eventbridge.rules[*].target must be lambda, sqs or none."
  }
  validation {
    condition     = alltrue([for _, r in var.eventbridge.rules : r.target != "none" || length(r.extra_targets) > 0])
    error_message = "A rule with target = none needs at least one extra_targets ARN."
  }
  validation {
    condition = alltrue([for _, r in var.eventbridge.rules : r.detail_types == null ? true : (
      length(r.detail_types) > 0 && alltrue([for t in r.detail_types : contains(["track", "identify", "page", "screen", "group", "alias"], t)])
    )])
    error_message = "eventbridge.rules[*].detail_types must be a non-empty list of Segment call types: track, identify, page, screen, group, alias."
  }
  validation {
    condition     = alltrue([for _, r in var.eventbridge.rules : alltrue([for e in r.events : length(e) > 0 && length(e) <= 256])])
    error_message = "eventbridge.rules[*].events entries must be 1-256 characters."
  }
  validation {
    condition     = alltrue([for _, r in var.eventbridge.rules : r.event_pattern == null ? true : can(keys(jsondecode(r.event_pattern)))])
    error_message = "eventbridge.rules[*].event_pattern must be a JSON object string."
  }
  validation {
    condition = alltrue(flatten([for _, r in var.eventbridge.rules : [
      for arn in r.extra_targets : can(regex("^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$", arn))
    ]]))
    error_message = "eventbridge.rules[*].extra_targets must be SQS queue or SNS topic ARNs."
  }
  validation {
    condition = alltrue([for _, r in var.eventbridge.rules : r.message_group_id != null || !anytrue([
      for arn in r.extra_targets : can(regex("^arn:[^:]+:sqs:.*\\.fifo$", arn))
    ])])
    error_message = "eventbridge.rules[*].message_group_id is required when extra_targets holds a FIFO queue (.fifo): EventBridge cannot deliver to a FIFO queue without a message group."
  }
  validation {
    condition     = alltrue([for _, r in var.eventbridge.rules : r.message_group_id == null ? true : can(regex("^[!-~]{1,128}$", r.message_group_id))])
    error_message = "eventbridge.rules[*].message_group_id must be 1-128 printable ASCII characters without spaces."
  }
  validation {
    condition = alltrue(flatten([for _, r in var.eventbridge.rules : [
      for arn in r.extra_targets : !can(regex("^arn:[^:]+:sns:.*\\.fifo$", arn))
    ]]))
    error_message = "eventbridge.rules[*].extra_targets cannot hold an SNS FIFO topic (.fifo): EventBridge sets no message group for SNS targets."
  }
  validation {
    condition     = alltrue([for _, r in var.eventbridge.rules : length(r.extra_targets) <= 4])
    error_message = "A rule has at most 5 targets: the module's own plus at most 4 extra_targets."
  }
  validation {
    condition = alltrue([for _, r in var.eventbridge.rules :
      r.retry_policy.maximum_event_age_in_seconds >= 60 && r.retry_policy.maximum_event_age_in_seconds <= 86400 &&
    r.retry_policy.maximum_retry_attempts >= 0 && r.retry_policy.maximum_retry_attempts <= 185])
    error_message = "retry_policy.maximum_event_age_in_seconds must be 60-86400 and maximum_retry_attempts 0-185."
  }
}

variable "sqs_buffer" {
  description = "The SQS buffer queue (created when the Segment Lambda destination is enabled, where the direct path hands off messages it could not record, or when a rule targets sqs) and the batch function that drains it: event source mapping batch size (1-10000) and batching window (0-300 s; needed above a batch size of 10), the batch function's timeout (default 10 s + 0.1 s per message of a batch, at most 900), visibility timeout (default and minimum: 6x the batch function's timeout plus the batching window, AWS's guidance for SQS event sources), redrive max_receive_count, message retention, and an optional KMS key for every queue the module creates (SSE-SQS otherwise; the key policy must allow events.amazonaws.com)."
  type = object({
    batch_size                         = optional(number, 100)
    maximum_batching_window_in_seconds = optional(number, 5)
    maximum_concurrency                = optional(number)
    function_timeout                   = optional(number)
    visibility_timeout_seconds         = optional(number)
    max_receive_count                  = optional(number, 5)
    message_retention_seconds          = optional(number, 345600)
    dlq_message_retention_seconds      = optional(number, 1209600)
    kms_key_arn                        = optional(string)
  })
  default = {}

  validation {
    condition     = var.sqs_buffer.batch_size >= 1 && var.sqs_buffer.batch_size <= 10000
    error_message = "sqs_buffer.batch_size must be 1-10000."
  }
  validation {
    condition     = var.sqs_buffer.maximum_batching_window_in_seconds >= 0 && var.sqs_buffer.maximum_batching_window_in_seconds <= 300
    error_message = "sqs_buffer.maximum_batching_window_in_seconds must be 0-300."
  }
  validation {
    condition     = var.sqs_buffer.batch_size <= 10 || var.sqs_buffer.maximum_batching_window_in_seconds >= 1
    error_message = "A batch size above 10 needs maximum_batching_window_in_seconds >= 1."
  }
  validation {
    condition     = var.sqs_buffer.maximum_concurrency == null ? true : (var.sqs_buffer.maximum_concurrency >= 2 && var.sqs_buffer.maximum_concurrency <= 1000)
    error_message = "sqs_buffer.maximum_concurrency must be null or 2-1000."
  }
  validation {
    condition     = var.sqs_buffer.function_timeout == null ? true : (var.sqs_buffer.function_timeout >= 1 && var.sqs_buffer.function_timeout <= 900 && floor(var.sqs_buffer.function_timeout) == var.sqs_buffer.function_timeout)
    error_message = "sqs_buffer.function_timeout must be a whole number of seconds, 1-900 (Lambda's maximum)."
  }
  validation {
    condition     = var.sqs_buffer.visibility_timeout_seconds == null ? true : (var.sqs_buffer.visibility_timeout_seconds >= 0 && var.sqs_buffer.visibility_timeout_seconds <= 43200)
    error_message = "sqs_buffer.visibility_timeout_seconds must be 0-43200 (and at least 6x the batch function's timeout plus the batching window)."
  }
  validation {
    condition     = var.sqs_buffer.max_receive_count >= 1 && var.sqs_buffer.max_receive_count <= 1000
    error_message = "sqs_buffer.max_receive_count must be 1-1000."
  }
  validation {
    condition = (var.sqs_buffer.message_retention_seconds >= 60 && var.sqs_buffer.message_retention_seconds <= 1209600 &&
    var.sqs_buffer.dlq_message_retention_seconds >= 60 && var.sqs_buffer.dlq_message_retention_seconds <= 1209600)
    error_message = "Message retention must be 60-1209600 seconds."
  }
  validation {
    condition     = var.sqs_buffer.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$", var.sqs_buffer.kms_key_arn))
    error_message = "sqs_buffer.kms_key_arn must be a KMS key ARN."
  }
}

# ---------------------------------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------------------------------

variable "dynamodb" {
  description = "The table (named `<name>-<environment>`): billing mode (PAY_PER_REQUEST by default, or PROVISIONED with read/write capacity), optional customer-managed KMS key ARN (AWS-owned key otherwise), deletion protection and point-in-time recovery; `table_class` STANDARD (default) or STANDARD_INFREQUENT_ACCESS (cheaper storage, dearer requests: for tables whose storage costs more than their throughput); `stream_view_type` turns on a DynamoDB stream (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES; null, the default: none), whose ARN is the output table_stream_arn. The module writes the table only; a stream's consumers are yours. Changing the name (name, environment) replaces the table and its data."
  type = object({
    billing_mode = optional(string, "PAY_PER_REQUEST")
    provisioned_capacity = optional(object({
      read  = number
      write = number
    }))
    kms_key_arn            = optional(string)
    deletion_protection    = optional(bool, true)
    point_in_time_recovery = optional(bool, true)
    table_class            = optional(string, "STANDARD")
    stream_view_type       = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["STANDARD", "STANDARD_INFREQUENT_ACCESS"], var.dynamodb.table_class)
    error_message = "dynamodb.table_class must be STANDARD or STANDARD_INFREQUENT_ACCESS."
  }
  validation {
    condition     = var.dynamodb.stream_view_type == null ? true : contains(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"], var.dynamodb.stream_view_type)
    error_message = "dynamodb.stream_view_type must be null (no stream), KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES."
  }

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.dynamodb.billing_mode)
    error_message = "dynamodb.billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
  validation {
    condition     = (var.dynamodb.billing_mode == "PROVISIONED") == (var.dynamodb.provisioned_capacity != null)
    error_message = "dynamodb.provisioned_capacity is required with PROVISIONED and not allowed with PAY_PER_REQUEST."
  }
  validation {
    condition     = var.dynamodb.provisioned_capacity == null ? true : (var.dynamodb.provisioned_capacity.read >= 1 && var.dynamodb.provisioned_capacity.write >= 1)
    error_message = "dynamodb.provisioned_capacity read and write must be at least 1."
  }
  validation {
    condition     = var.dynamodb.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-zA-Z-]+$", var.dynamodb.kms_key_arn))
    error_message = "dynamodb.kms_key_arn must be a KMS key ARN."
  }
}

# ---------------------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------------------

variable "iam" {
  description = <<-EOT
    Settings for the IAM roles the module creates (the execution roles of the direct, batch and read
    functions, and the role Segment assumes): `path` (IAM path, default /; changing it replaces every
    role, the Segment role included, whose new ARN must then be pasted into Segment's Role Address),
    `permissions_boundary` (ARN of a managed policy that caps each role's permissions, as many
    organisations require; null for none), `additional_policy_arns` (managed policy ARNs attached to
    every execution role, for example an organisation's required deny policy) and
    `function_policy_arns` (more, per function: keys `direct`, `batch`, `read`). The role Segment
    assumes gets no extra policy: it may only invoke the direct function.
  EOT
  type = object({
    path                   = optional(string, "/")
    permissions_boundary   = optional(string)
    additional_policy_arns = optional(list(string), [])
    function_policy_arns   = optional(map(list(string)), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]{0,510}/)?$", var.iam.path)) && length(var.iam.path) <= 512
    error_message = "iam.path must be / or start and end with / (at most 512 printable ASCII characters), for example /segment-usage/."
  }
  validation {
    condition     = var.iam.permissions_boundary == null ? true : can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[A-Za-z0-9+=,.@_/-]{1,128}$", var.iam.permissions_boundary))
    error_message = "iam.permissions_boundary must be a managed IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
  validation {
    condition = alltrue([
      for arn in concat(var.iam.additional_policy_arns, flatten(values(var.iam.function_policy_arns))) :
      can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[A-Za-z0-9+=,.@_/-]{1,128}$", arn))
    ])
    error_message = "iam.additional_policy_arns and iam.function_policy_arns must hold managed IAM policy ARNs (arn:aws:iam::<account>:policy/<name>, or arn:aws:iam::aws:policy/... for AWS managed ones)."
  }
  validation {
    condition     = length(setsubtract(keys(var.iam.function_policy_arns), ["direct", "batch", "read"])) == 0
    error_message = "iam.function_policy_arns keys must be direct, batch or read, not ${join(", ", sort(setsubtract(keys(var.iam.function_policy_arns), ["direct", "batch", "read"])))}."
  }
  validation {
    condition = alltrue([
      for key in ["direct", "batch", "read"] :
      length(distinct(concat(var.iam.additional_policy_arns, lookup(var.iam.function_policy_arns, key, [])))) == length(concat(var.iam.additional_policy_arns, lookup(var.iam.function_policy_arns, key, []))) &&
      length(concat(var.iam.additional_policy_arns, lookup(var.iam.function_policy_arns, key, []))) <= 19
    ])
    error_message = "iam.additional_policy_arns plus a function's iam.function_policy_arns must not repeat an ARN and may hold at most 19 policies (IAM attaches at most 20 managed policies to a role; leave one for yourself)."
  }
}

# ---------------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------------

variable "vpc" {
  description = <<-EOT
    Places every function of the module (direct, batch, read) in your VPC: `subnet_ids` (1-16
    private subnets, in at least two Availability Zones for resilience) and `security_group_ids`
    (1-5). Null (the default): no VPC. The functions call only DynamoDB and SQS, so the subnets need a
    route to those two services: a NAT gateway, or a gateway endpoint (DynamoDB) and an interface
    endpoint (SQS). Each execution role then gets the EC2
    network-interface actions of AWS's AWSLambdaVPCAccessExecutionRole. A VPC adds cold-start time
    and cost; Segment still gives the direct function 5 seconds.
  EOT
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc == null ? true : length(var.vpc.subnet_ids) >= 1 && length(var.vpc.subnet_ids) <= 16 && alltrue([for id in var.vpc.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "vpc.subnet_ids must list 1-16 subnet IDs (subnet-0123456789abcdef0)."
  }
  validation {
    condition     = var.vpc == null ? true : length(var.vpc.security_group_ids) >= 1 && length(var.vpc.security_group_ids) <= 5 && alltrue([for id in var.vpc.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "vpc.security_group_ids must list 1-5 security group IDs (sg-0123456789abcdef0)."
  }
  validation {
    condition     = var.vpc == null ? true : length(distinct(var.vpc.subnet_ids)) == length(var.vpc.subnet_ids) && length(distinct(var.vpc.security_group_ids)) == length(var.vpc.security_group_ids)
    error_message = "vpc.subnet_ids and vpc.security_group_ids must not repeat an ID."
  }
}

# ---------------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------------

variable "alarms" {
  description = "CloudWatch alarms: errors and throttles of every function, every dead-letter queue holding a message, the buffer's oldest message older than `buffer_age_threshold_seconds`, the EventBridge path (rule deliveries that fail; Segment delivering while no rule matched anything for `unmatched_window_seconds`; events Lambda dropped or could not send to the failure queue). sns_topic_arn, if given, is notified on alarm and on recovery."
  type = object({
    enabled                      = optional(bool, true)
    sns_topic_arn                = optional(string)
    errors_threshold             = optional(number, 1)
    period_seconds               = optional(number, 300)
    buffer_age_threshold_seconds = optional(number, 900)
    unmatched_window_seconds     = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = var.alarms.sns_topic_arn == null ? true : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$", var.alarms.sns_topic_arn))
    error_message = "alarms.sns_topic_arn must be an SNS topic ARN."
  }
  validation {
    condition     = var.alarms.errors_threshold >= 1
    error_message = "alarms.errors_threshold must be at least 1."
  }
  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_seconds)
    error_message = "alarms.period_seconds must be 60, 300, 900 or 3600."
  }
  validation {
    condition     = var.alarms.buffer_age_threshold_seconds >= 60 && var.alarms.buffer_age_threshold_seconds <= 1209600
    error_message = "alarms.buffer_age_threshold_seconds must be 60-1209600 (SQS keeps a message at most 14 days)."
  }
  validation {
    condition     = contains([300, 900, 3600, 21600, 86400], var.alarms.unmatched_window_seconds)
    error_message = "alarms.unmatched_window_seconds must be 300, 900, 3600, 21600 or 86400."
  }
}

# ---------------------------------------------------------------------------------------------------
# Segments (issue 12): evaluated on read by the read API and the CLI, never by the handler
# ---------------------------------------------------------------------------------------------------

variable "segments" {
  description = <<-EOT
    Segments over each user's view, evaluated on read (a change needs no backfill), shown by the read
    API and `segment-usage traits`/`segments`. Map of segment name (^[a-z][a-z0-9_]{0,63}$) to
    { description, salt, all | any = [conditions] }. A condition is one of: usage, `trait` (or "*" for
    any) with `at_least`/`at_most` on its count over `in_last_days` (1-365 rolling UTC days; omitted:
    lifetime), regularity `active_days = { at_least/at_most, in_last_days }` (distinct days used),
    and/or `not_seen_for_days`, `seen_in_last_days`, `first_seen_in_last_days`; identify trait,
    `identify_trait` with `equals`, `in`, `exists`, `at_least`, `at_most`, `greater_than`,
    `less_than`; Engage audience, `audience` with `member` (default true); holdout or rollout,
    `percent = { from, to }` (the users whose stable bucket, 0-100 from SHA-256 of the segment's
    `salt` (default: its name) and the user id, is in [from, to)); another segment, `segment` with
    `member` (default true; a cycle is refused); or a nested `all`/`any` of such conditions (one
    level). A segment is true, false or unknown: unknown when a condition's window reaches before
    the deployment's coverage (`coverage_start`) and what was seen does not decide it. Every key and
    value is checked at plan time (segments.tf): an error names the segment, the condition's
    position and the field. Stored in the table (item CONFIG/SEGMENTS): no size limit from Lambda's
    4 KB environment.
  EOT
  # The grammar of a condition lives once, in segments.tf; here only the outer shape is checked.
  type     = any
  default  = {}
  nullable = false

  validation {
    condition     = can(keys(var.segments))
    error_message = "segments must be a map of segment name to { description, salt, all | any = [conditions] }."
  }
  validation {
    condition     = try(length([for name in keys(var.segments) : name if !can(regex("^[a-z][a-z0-9_]{0,63}$", name))]) == 0, true)
    error_message = "segments: ${try(join(", ", [for name in keys(var.segments) : name if !can(regex("^[a-z][a-z0-9_]{0,63}$", name))]), "")}: a segment name must match ^[a-z][a-z0-9_]{0,63}$."
  }
  validation {
    condition = !can(keys(var.segments)) ? true : try(length(flatten([for name, s in var.segments : can(keys(s)) ? concat(
      [for key in keys(s) : key if !contains(["description", "salt", "all", "any"], key)],
      try(s.description, null) == null || can(tostring(s.description)) ? [] : ["description"],
      try(s.salt, null) == null || try(length(tostring(s.salt)) >= 1 && length(tostring(s.salt)) <= 200, false) ? [] : ["salt"],
    ) : ["segment"]])) == 0, true)
    error_message = join("\n", try(flatten([for name, s in var.segments : can(keys(s)) ? concat(
      [for key in keys(s) : "segments: ${name}.${key}: not a field of a segment, which holds description, salt and one of all, any." if !contains(["description", "salt", "all", "any"], key)],
      try(s.description, null) == null || can(tostring(s.description)) ? [] : ["segments: ${name}.description: must be a string."],
      try(s.salt, null) == null || try(length(tostring(s.salt)) >= 1 && length(tostring(s.salt)) <= 200, false) ? [] : ["segments: ${name}.salt: must be a string of 1-200 characters (the holdout buckets' seed)."],
    ) : ["segments: ${name}: a segment must be an object { description, salt, all | any = [conditions] }."]]), []))
  }
  validation {
    condition     = !can(keys(var.segments)) ? true : try(length([for name, s in var.segments : name if can(keys(s)) && !(length([for group in ["all", "any"] : group if try(s[group], null) != null]) == 1 && try(length(concat(s.all, [])), 0) + try(length(concat(s.any, [])), 0) > 0)]) == 0, true)
    error_message = "segments: ${try(join(", ", [for name, s in var.segments : name if can(keys(s)) && !(length([for group in ["all", "any"] : group if try(s[group], null) != null]) == 1 && try(length(concat(s.all, [])), 0) + try(length(concat(s.any, [])), 0) > 0)]), "")}: set exactly one of all, any, with at least one condition."
  }
}

variable "read_api" {
  description = "The optional read API: a Lambda function URL with AWS_IAM (SigV4) auth serving GET /v1/users/{userId} ({traits, usage, segments}) and ?segment=NAME (yes/no), from its own function whose role may only GetItem/Query/BatchGetItem the table. `memory_size` (MB) and `timeout` (seconds, 1-30) of that function; `reserved_concurrency` caps it (and reserves that much of the account's concurrency; callers beyond it get a 429) so that a burst of reads cannot take the recorder's capacity (null, the default: unreserved); `cors_allow_origins` for browser callers (empty: no CORS)."
  type = object({
    enabled              = optional(bool, false)
    memory_size          = optional(number, 256)
    timeout              = optional(number, 10)
    reserved_concurrency = optional(number)
    cors_allow_origins   = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.read_api.memory_size >= 128 && var.read_api.memory_size <= 10240 && floor(var.read_api.memory_size) == var.read_api.memory_size
    error_message = "read_api.memory_size must be a whole number of MB, 128-10240."
  }
  validation {
    condition     = var.read_api.timeout >= 1 && var.read_api.timeout <= 30 && floor(var.read_api.timeout) == var.read_api.timeout
    error_message = "read_api.timeout must be 1-30 whole seconds: an app is waiting on the answer."
  }
  validation {
    condition     = var.read_api.reserved_concurrency == null ? true : (var.read_api.reserved_concurrency >= 1 && var.read_api.reserved_concurrency <= 1000 && floor(var.read_api.reserved_concurrency) == var.read_api.reserved_concurrency)
    error_message = "read_api.reserved_concurrency must be null (unreserved) or a whole number 1-1000 (0 would stop the read API)."
  }
  validation {
    condition     = alltrue([for o in var.read_api.cors_allow_origins : o == "*" || can(regex("^https?://[^/*]+$", o))])
    error_message = "read_api.cors_allow_origins must be origins such as https://app.example.com (scheme and host, no path) or \"*\"."
  }
}


# ---------------------------------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------------------------------

variable "dashboard" {
  description = "A CloudWatch dashboard named `<name>-<environment>` (dashboard.tf; docs/operations.md, Dashboard): per path the messages recorded, duplicates, rejected (and by reason), handed off and failed; every function's invocations, errors, throttles, duration and concurrency; the buffer's age and depth and every dead-letter queue's depth; the EventBridge rules' events; the table's throttles and latency. `enabled` (default true); `period_seconds` of every chart (60, 300, 900 or 3600; default 300)."
  type = object({
    enabled        = optional(bool, true)
    period_seconds = optional(number, 300)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([60, 300, 900, 3600], var.dashboard.period_seconds)
    error_message = "dashboard.period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "coverage_start" {
  description = "The first UTC day (YYYY-MM-DD) whose usage the table holds completely, when your history reaches back further than this module's first apply (you loaded it, or the product started recording with it). null: the day of the first apply, kept in item CONFIG/COVERAGE (`segment-usage backfill` lowers it). A segment condition whose window reaches before coverage answers unknown unless what was seen decides it. Changing it rewrites the item (a backfill's earlier day is then forgotten: re-run the backfill, or set this to that day)."
  type        = string
  default     = null

  validation {
    condition     = var.coverage_start == null ? true : can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.coverage_start)) && can(formatdate("YYYY-MM-DD", "${var.coverage_start}T00:00:00Z"))
    error_message = "coverage_start must be a UTC day as YYYY-MM-DD (a real date, such as \"2024-01-31\"), or null for the day of the first apply."
  }
}
