variable "region" {
  description = "Region you gave Segment for the EventBridge destination (Segment's default is us-west-2)."
  type        = string
  default     = "us-west-2"
}

variable "environment" {
  description = "Environment name."
  type        = string
  default     = "prod"
}

variable "segment_source_id" {
  description = "Segment source ID: the partner event source is aws.partner/segment.com/<this>."
  type        = string
  default     = "qSg3xMpL9a"
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
