# One provider configuration per region; each module call gets its own.
provider "aws" {
  alias  = "dev"
  region = var.dev_region
}

provider "aws" {
  alias  = "prod"
  region = var.prod_region
}
