variable "name" {
  description = "Name prefix for every resource; the Auto Scaling group is \"<name>-kong\"."
  type        = string
  default     = "kong"
}

variable "vpc_id" {
  description = "VPC for the load balancer, the Kong nodes and the database."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets for the load balancer, one per availability zone."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets for the Kong nodes and the database, in at least two availability zones, with a route to Secrets Manager and Auto Scaling (NAT or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets (multi-AZ)."
  }
}

variable "client_cidr" {
  description = "Who may reach the load balancer on ports 80 and 443."
  type        = string
  default     = "0.0.0.0/0"
}

variable "load_balancer_internal" {
  description = "Internal load balancer instead of internet-facing."
  type        = bool
  default     = false
}

variable "image_id" {
  description = "AMI with Kong and kong-bootstrap installed (contrib/packer)."
  type        = string
}

variable "instance_type" {
  type    = string
  default = "c6i.large"
}

variable "min_size" {
  type    = number
  default = 2
}

variable "max_size" {
  type    = number
  default = 6
}

variable "desired_capacity" {
  type    = number
  default = 2
}

variable "db_instance_class" {
  type    = string
  default = "db.m6g.large"
}

variable "db_engine_version" {
  description = "PostgreSQL major version RDS offers."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  type    = number
  default = 50
}

variable "db_backup_retention_days" {
  type    = number
  default = 14
}

variable "secret_kms_key_arn" {
  description = "Optional customer-managed KMS key for the database secret; null uses aws/secretsmanager (no kms:Decrypt grant needed)."
  type        = string
  default     = null
}

variable "kong_secrets" {
  description = "Kong's other secrets: Kong setting => Secrets Manager ARN, optionally #JSON-KEY (e.g. license_data = ARN, ssl_cert = ARN#cert, ssl_cert_key = ARN#key). Each becomes kong_secret.<setting> in user-data (KONG_<SETTING> in Kong's env file) and the instance role may read each ARN."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for s, ref in var.kong_secrets : can(regex("^[a-z0-9_]+$", s)) && can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^#]+(#.+)?$", ref))])
    error_message = "Keys are Kong setting names (lower case, digits, _); values full secret ARNs, optionally #JSON-KEY."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
