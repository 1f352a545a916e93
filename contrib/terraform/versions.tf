terraform {
  required_version = ">= 1.3"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.32: instance_refresh's max_healthy_percentage (main.tf).
      version = ">= 5.32"
    }
  }
}
