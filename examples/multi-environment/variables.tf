variable "dev_region" {
  description = "Region of the dev environment."
  type        = string
  default     = "us-east-1"
}

variable "prod_region" {
  description = "Region of the prod environment."
  type        = string
  default     = "eu-west-1"
}

variable "segment_workspace_id" {
  description = "Segment workspace ID, the external ID of both Segment roles."
  type        = string
  default     = "my-segment-workspace-id"
}

variable "prod_segment_source_id" {
  description = "Segment source whose EventBridge destination sends to prod."
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
