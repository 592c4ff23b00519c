variable "aws_endpoint" {
  description = "URL of the local moto server, for example http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^https?://(127\\.[0-9.]+|localhost|\\[::1\\])(:[0-9]+)?/?$", var.aws_endpoint))
    error_message = "aws_endpoint must be a loopback URL such as http://127.0.0.1:5000: this example never talks to real AWS."
  }
}

variable "region" {
  description = "Region to create everything in on the emulator."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "Environment name passed to the module."
  type        = string
  default     = "local"
}

variable "lambda_package_path" {
  description = "Your own self-contained zip (`make bundle`); null deploys the artifacts the module ships."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Architecture the package was built for (arm64 or x86_64)."
  type        = string
  default     = "x86_64"
}

variable "lambda_runtime" {
  description = "Runtime the package was built for (python3.12 or python3.13)."
  type        = string
  default     = "python3.12"
}

variable "segment_source_id" {
  description = "Segment source ID whose partner event source (aws.partner/segment.com/<id>) exists on the emulator."
  type        = string
  default     = "qSg3xMpL9a"
}

variable "segment_external_ids" {
  description = "External IDs Segment presents (your workspace ID)."
  type        = list(string)
  default     = ["local-workspace-id"]
}

variable "tracking_plan" {
  description = "Optional tracking plan JSON string."
  type        = string
  default     = null
}

variable "tracking_plan_mode" {
  description = "warn or block."
  type        = string
  default     = "warn"
}
