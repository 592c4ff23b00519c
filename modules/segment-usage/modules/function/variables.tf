# One function of the segment-usage module, with everything that is its own: the function, its
# execution role and inline policy, its log group, its alarms, and optionally an alias and an
# asynchronous-invocation (on-failure) configuration. What differs between the direct, batch and
# read functions comes in as data; what the three share is written once, in main.tf.

variable "function_name" {
  description = "Name of the function; its log group is /aws/lambda/<function_name>."
  type        = string
}

variable "description" {
  description = "Description of the function."
  type        = string
}

variable "handler" {
  description = "Entry point in the code package (module.function)."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime (python3.12 or python3.13)."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null leaves the function unreserved."
  type        = number
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing mode (Active or PassThrough); null for none. The role is granted the two X-Ray write actions only when set."
  type        = string
  default     = null
}

variable "package" {
  description = "The code arguments of the function (the module's package.tf: the shipped artifacts and layer, or the caller's own zip)."
  type = object({
    filename          = optional(string)
    source_code_hash  = optional(string)
    s3_bucket         = optional(string)
    s3_key            = optional(string)
    s3_object_version = optional(string)
    layers            = optional(list(string), [])
  })
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
}

variable "alias_name" {
  description = "When set, every change publishes a version and this alias points at it; callers then invoke the alias (output target_arn)."
  type        = string
  default     = null
}

variable "async_invoke" {
  description = "Asynchronous invocations: where those that still fail after Lambda's retries go (an SQS queue ARN), and Lambda's retry limits. Null: no event invoke configuration (and no asynchronous-delivery alarms)."
  type = object({
    destination_arn              = string
    maximum_retry_attempts       = number
    maximum_event_age_in_seconds = number
  })
  default = null
}

variable "role" {
  description = "The execution role: its name (at most 64 characters), description, IAM path and permissions boundary, and the name of its inline policy."
  type = object({
    name                 = string
    description          = string
    path                 = string
    permissions_boundary = optional(string)
    policy_name          = string
  })

  validation {
    condition     = length(var.role.name) <= 64
    error_message = "The execution role name ${var.role.name} is over IAM's 64 characters: shorten name or environment."
  }
}

variable "account_id" {
  description = "The account the function runs in: the role trusts lambda.amazonaws.com on behalf of this account only (aws:SourceAccount)."
  type        = string
}

variable "policy_statements" {
  description = "What the function's code does (and what Lambda does with the role on its behalf, such as the on-failure destination), as IAM Allow statements. The module adds the function's own log stream actions and, with tracing, the X-Ray write actions."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
}

variable "key_statements" {
  description = "Statements on customer KMS keys, in a policy document of their own: it depends on inputs only, so the plan shows them."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
}

variable "logs" {
  description = "The log group's retention (days) and optional KMS key, and the function's application log level."
  type = object({
    retention_in_days = number
    kms_key_arn       = optional(string)
    log_level         = string
  })
}

variable "alarms" {
  description = "CloudWatch alarms on the function's metrics, named <name_prefix>-<key>: errors, throttles and, with async_invoke, async-events-dropped and destination-delivery-failures; `descriptions` holds each one's text (keyed the same). Null: no alarms."
  type = object({
    name_prefix      = string
    actions          = list(string)
    period_seconds   = number
    errors_threshold = number
    descriptions     = map(string)
  })
  default = null
}

variable "preconditions" {
  description = "Checks the caller makes on what it passes (for example the environment's size): the function is not planned while any condition is false, and the error lists the failing messages."
  type = list(object({
    condition     = bool
    error_message = string
  }))
  default = []
}

variable "wait_for" {
  description = "Anything the function must be created or updated after (for example the configuration items whose hashes its environment holds). Only its dependencies matter, not its value."
  type        = any
  default     = null
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}

variable "partition" {
  description = "The AWS partition (aws, aws-cn, aws-us-gov): with region and account_id it builds the ARNs the role's policy names, known at plan time."
  type        = string
}

variable "region" {
  description = "The region the function runs in (see partition)."
  type        = string
}

variable "vpc_config" {
  description = "Subnets and security groups to place the function in (a VPC); null: no VPC. The role then gets the EC2 network-interface actions Lambda needs (those of AWSLambdaVPCAccessExecutionRole)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "kms_key_arn" {
  description = "Customer KMS key that encrypts the function's environment variables; null: Lambda's AWS-managed key. The role may kms:Decrypt with it for this function only."
  type        = string
  default     = null
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration the function's code must satisfy; null: none."
  type        = string
  default     = null
}

variable "additional_policy_arns" {
  description = "Managed policy ARNs attached to the execution role besides its inline policy."
  type        = list(string)
  default     = []
}
