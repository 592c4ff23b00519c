# Every service the module uses points at the local AWS emulator (moto server) at var.aws_endpoint.
# The credentials are moto's fake ones: nothing here can reach a real AWS account.
provider "aws" {
  region     = var.region
  access_key = "testing"
  secret_key = "testing"

  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false # moto's STS answers with account 123456789012

  endpoints {
    cloudwatch = var.aws_endpoint
    dynamodb   = var.aws_endpoint
    events     = var.aws_endpoint
    iam        = var.aws_endpoint
    kms        = var.aws_endpoint
    lambda     = var.aws_endpoint
    logs       = var.aws_endpoint
    sns        = var.aws_endpoint
    sqs        = var.aws_endpoint
    sts        = var.aws_endpoint
  }
}
