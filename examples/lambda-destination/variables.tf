variable "region" {
  description = "AWS region of the function (Segment's destination settings name it)."
  type        = string
  default     = "us-west-2"
}

variable "environment" {
  description = "Environment name."
  type        = string
  default     = "prod"
}

variable "segment_external_ids" {
  description = "Your Segment workspace ID (Segment shows it, read-only, as the destination's External ID)."
  type        = list(string)
  default     = ["my-segment-workspace-id"]
}

variable "lambda_package_path" {
  description = "Your own self-contained zip (`make bundle`); null deploys the artifacts the module ships."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Architecture the zip was built for."
  type        = string
  default     = "arm64"
}

variable "lambda_runtime" {
  description = "Runtime the zip was built for."
  type        = string
  default     = "python3.13"
}
