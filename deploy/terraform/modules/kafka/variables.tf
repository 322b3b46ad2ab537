variable "name" {
  description = "Name of the MSK cluster and prefix of its companion resources."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,45}$", var.name))
    error_message = "The name must start with a letter and contain only letters, digits and hyphens, at most 46 characters."
  }
}

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(\\.tiered)?$", var.kafka_version))
    error_message = "The Kafka version must look like 3.6.0 (optionally suffixed with .tiered)."
  }
}

variable "broker_count" {
  description = "Number of broker nodes; a multiple of the number of subnets (one broker per availability zone or more)."
  type        = number
  default     = 3

  validation {
    condition     = var.broker_count >= 2 && floor(var.broker_count) == var.broker_count
    error_message = "The broker count must be a whole number of at least 2 so that topics can be replicated."
  }
}

variable "instance_type" {
  description = "Instance type of each broker, for example kafka.m7g.large."
  type        = string
  default     = "kafka.m7g.large"

  validation {
    condition     = startswith(var.instance_type, "kafka.")
    error_message = "The instance type must be an MSK broker type, which starts with \"kafka.\"."
  }
}

variable "ebs_volume_size" {
  description = "EBS storage per broker in GiB."
  type        = number
  default     = 500

  validation {
    condition     = var.ebs_volume_size >= 1 && var.ebs_volume_size <= 16384
    error_message = "The EBS volume size must be between 1 and 16384 GiB."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the brokers, one per availability zone (two or three)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && length(var.subnet_ids) <= 3
    error_message = "Give two or three private subnets, each in a different availability zone."
  }
}

variable "vpc_id" {
  description = "VPC of the subnets; the broker security group is created in it."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The VPC id must look like vpc-0123456789abcdef0."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (for example the EKS cluster's) whose members may connect to the brokers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "Every allowed security group id must look like sg-0123456789abcdef0."
  }
}

variable "client_authentication" {
  description = "How clients authenticate: \"scram\" (SASL/SCRAM-SHA-512, what obs-producer and obs-worker use through librdkafka) or \"iam\" (SASL/IAM, for Java and other IAM-aware clients), or both."
  type        = set(string)
  default     = ["scram"]

  validation {
    condition     = length(var.client_authentication) > 0 && alltrue([for a in var.client_authentication : contains(["scram", "iam"], a)])
    error_message = "The client authentication must be a non-empty set of \"scram\" and/or \"iam\"; unauthenticated access is not offered."
  }
}

variable "scram_username" {
  description = "User name of the SCRAM credentials created for the Observatory programs."
  type        = string
  default     = "observatory"

  validation {
    condition     = can(regex("^[a-zA-Z0-9._-]{1,64}$", var.scram_username))
    error_message = "The SCRAM user name must be 1 to 64 letters, digits, dots, underscores or hyphens."
  }
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest and for the SCRAM secret; empty to let the module create a dedicated key."
  type        = string
  default     = ""

  validation {
    condition     = var.kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The KMS key must be empty or a KMS key ARN."
  }
}

variable "default_partitions" {
  description = "num.partitions of the broker configuration, used by topics created without an explicit count. The worker replica ceiling equals the partition count of the events topic."
  type        = number
  default     = 12

  validation {
    condition     = var.default_partitions >= 1 && var.default_partitions <= 1000
    error_message = "The default partition count must be between 1 and 1000."
  }
}

variable "log_retention_hours" {
  description = "How long Kafka keeps records; it bounds how far back a replay from Kafka can go."
  type        = number
  default     = 168

  validation {
    condition     = var.log_retention_hours >= 24
    error_message = "The log retention must be at least 24 hours so that a day-long outage of the workers loses nothing."
  }
}

variable "cloudwatch_log_retention_days" {
  description = "Retention of the broker logs in CloudWatch Logs, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_log_retention_days)
    error_message = "The CloudWatch log retention must be one of the values CloudWatch Logs accepts, such as 7, 30 or 90."
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
