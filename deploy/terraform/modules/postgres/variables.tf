variable "name" {
  description = "Identifier of the RDS instance and prefix of its companion resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,50}[a-z0-9]$", var.name))
    error_message = "The name must start with a lower-case letter, contain only lower-case letters, digits and hyphens, not end with a hyphen, and be at most 52 characters."
  }
}

variable "engine_version" {
  description = "PostgreSQL engine version; a 15.x release (the version the migrations are tested against)."
  type        = string
  default     = "15.8"

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.engine_version))
    error_message = "The engine version must be PostgreSQL 15, for example 15 or 15.8."
  }
}

variable "instance_class" {
  description = "Instance class, for example db.r6g.large."
  type        = string
  default     = "db.r6g.large"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "The instance class must be an RDS class, which starts with \"db.\"."
  }
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "The allocated storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Ceiling for storage autoscaling in GiB; 0 disables autoscaling."
  type        = number
  default     = 1000

  validation {
    condition     = var.max_allocated_storage == 0 || var.max_allocated_storage >= 20
    error_message = "The storage ceiling must be 0 (no autoscaling) or at least 20 GiB."
  }
}

variable "database_name" {
  description = "Name of the database the Observatory uses."
  type        = string
  default     = "observatory"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_name))
    error_message = "The database name must be a lower-case SQL identifier of at most 63 characters."
  }
}

variable "master_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager; Terraform never sees it."
  type        = string
  default     = "observatory_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "admin", "rdsadmin"], var.master_username)
    error_message = "The master user name must be a lower-case identifier and not a reserved name such as postgres, admin or rdsadmin."
  }
}

variable "multi_az" {
  description = "Run a synchronous standby in a second availability zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery (ops/runbooks/backup-restore.md)."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "The backup retention must be between 7 and 35 days; fewer than 7 leaves too short a window to notice a bad write."
  }
}

variable "backup_window" {
  description = "Daily backup window in UTC, hh24:mi-hh24:mi."
  type        = string
  default     = "02:00-03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_window))
    error_message = "The backup window must look like 02:00-03:00 (UTC)."
  }
}

variable "maintenance_window" {
  description = "Weekly maintenance window in UTC, ddd:hh24:mi-ddd:hh24:mi; must not overlap the backup window."
  type        = string
  default     = "sun:04:00-sun:05:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):[0-2][0-9]:[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):[0-2][0-9]:[0-5][0-9]$", var.maintenance_window))
    error_message = "The maintenance window must look like sun:04:00-sun:05:00 (UTC)."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance until this is turned off."
  type        = bool
  default     = true
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group, in at least two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two private subnets in different availability zones."
  }
}

variable "vpc_id" {
  description = "VPC of the subnets; the database security group is created in it."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The VPC id must look like vpc-0123456789abcdef0."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (for example the EKS cluster's) whose members may connect on port 5432."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "Every allowed security group id must look like sg-0123456789abcdef0."
  }
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the master secret; empty to let the module create a dedicated key."
  type        = string
  default     = ""

  validation {
    condition     = var.kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The KMS key must be empty or a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be at most 128 characters and not start with \"aws:\", and tag values at most 256 characters."
  }
}
