terraform {
  # optional() object attributes with defaults and check blocks need 1.5.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.70 added tags on event source mappings. Tested with 5.100; nothing used here is removed in 6.x.
      version = ">= 5.70, < 7"
    }
  }
}
