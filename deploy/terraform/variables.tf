variable "name" {
  description = "Name of this Observatory environment; prefixes the MSK cluster, the RDS instance and their companions."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 32 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "cluster_name" {
  description = "Name of the existing EKS cluster the release goes to; its VPC and security group are looked up from it."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "The cluster name must be a valid EKS cluster name: letters, digits, hyphens and underscores, at most 100 characters."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (two or three availability zones) for the MSK brokers and the RDS instance; they must be in the cluster's VPC."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && length(var.private_subnet_ids) <= 3 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Give two or three subnet ids of the form subnet-0123456789abcdef0, each in a different availability zone."
  }
}

variable "kafka" {
  description = "Amazon MSK settings: version, brokers, storage, authentication (scram for the Observatory programs) and the partition count of the events topic."
  type = object({
    kafka_version         = optional(string, "3.6.0")
    broker_count          = optional(number, 3)
    instance_type         = optional(string, "kafka.m7g.large")
    ebs_volume_size       = optional(number, 500)
    client_authentication = optional(set(string), ["scram"])
    partitions            = optional(number, 12)
    log_retention_hours   = optional(number, 168)
  })
  default = {}

  validation {
    condition     = contains(var.kafka.client_authentication, "scram")
    error_message = "The Kafka client authentication must include \"scram\": the Observatory programs use librdkafka, which cannot sign MSK IAM requests."
  }

  validation {
    condition     = var.kafka.partitions >= 1 && var.kafka.partitions <= 1000
    error_message = "The Kafka partition count must be between 1 and 1000."
  }
}

variable "postgres" {
  description = "Amazon RDS for PostgreSQL settings: version (15.x), size, availability and backups."
  type = object({
    engine_version        = optional(string, "15.8")
    instance_class        = optional(string, "db.r6g.large")
    allocated_storage     = optional(number, 100)
    max_allocated_storage = optional(number, 1000)
    multi_az              = optional(bool, true)
    backup_retention_days = optional(number, 14)
    deletion_protection   = optional(bool, true)
  })
  default = {}

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.postgres.engine_version))
    error_message = "The PostgreSQL engine version must be 15 or 15.x."
  }
}

variable "release" {
  description = "Helm release settings: image, namespace, how secrets are synced, autoscaling and monitoring."
  type = object({
    name                = optional(string, "observatory")
    namespace           = optional(string, "observatory")
    create_namespace    = optional(bool, true)
    image_repository    = string
    image_tag           = string
    secrets_mode        = optional(string, "external-secrets")
    secret_store_name   = optional(string, "aws-secrets-manager")
    worker_max_replicas = optional(number)
    keda_enabled        = optional(bool, true)
    monitoring_enabled  = optional(bool, true)
    runbook_base_url    = optional(string, "https://git.example.com/observatory/observatory/blob/main/ops/runbooks")
    extra_values        = optional(list(string), [])
  })

  validation {
    condition     = contains(["external-secrets", "kubernetes-secret"], var.release.secrets_mode)
    error_message = "The release secrets mode must be \"external-secrets\" or \"kubernetes-secret\"."
  }
}

variable "deploy_release" {
  description = "Install the Helm release; false provisions only Kafka and PostgreSQL (for example before the cluster add-ons exist)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every AWS resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Tag keys must be at most 128 characters and not start with \"aws:\", and tag values at most 256 characters."
  }
}
