variable "release_name" {
  description = "Name of the Helm release."
  type        = string
  default     = "observatory"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$", var.release_name))
    error_message = "The release name must be a DNS label of at most 53 characters: lower-case letters, digits and hyphens."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the release."
  type        = string
  default     = "observatory"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "The namespace must be a DNS label: lower-case letters, digits and hyphens, at most 63 characters."
  }
}

variable "create_namespace" {
  description = "Create the namespace (with the restricted Pod Security Standard enforced) instead of expecting it."
  type        = bool
  default     = true
}

variable "chart_path" {
  description = "Path of the observatory chart; defaults to the chart in this repository."
  type        = string
  default     = ""

  validation {
    condition     = var.chart_path == "" || can(regex("^(/|\\.|[A-Za-z0-9])", var.chart_path))
    error_message = "The chart path must be empty (the chart in this repository) or a path to a chart directory or archive."
  }
}

variable "image_repository" {
  description = "Image repository of the Observatory programs (registry host included)."
  type        = string

  validation {
    condition     = length(var.image_repository) > 0 && !can(regex("(:[^/]*|@.*)$", var.image_repository))
    error_message = "The image repository must be non-empty and carry no tag; give the tag in image_tag."
  }
}

variable "image_tag" {
  description = "Image tag to deploy (for example the git describe of the release)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "The image tag must be a valid Docker tag and not \"latest\": deploys must be reproducible."
  }
}

variable "kafka_bootstrap" {
  description = "Kafka bootstrap servers, host:port separated by commas."
  type        = string

  validation {
    condition     = can(regex("^[^,\\s]+:[0-9]+(,[^,\\s]+:[0-9]+)*$", var.kafka_bootstrap))
    error_message = "The Kafka bootstrap must be a comma-separated list of host:port."
  }
}

variable "kafka_partitions" {
  description = "Partition count of the events topic; the worker autoscaler never goes above it."
  type        = number

  validation {
    condition     = var.kafka_partitions >= 1 && floor(var.kafka_partitions) == var.kafka_partitions
    error_message = "The partition count must be a whole number of at least 1."
  }
}

variable "kafka_scram_secret_arn" {
  description = "Secrets Manager secret with the SASL/SCRAM user name and password (JSON keys username, password); null for a Kafka without SASL."
  type        = string
  default     = null

  validation {
    condition     = var.kafka_scram_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.kafka_scram_secret_arn))
    error_message = "The SCRAM secret must be null or a Secrets Manager secret ARN."
  }
}

variable "database_host" {
  description = "Host name of PostgreSQL."
  type        = string

  validation {
    condition     = length(var.database_host) > 0
    error_message = "The database host must not be empty."
  }
}

variable "database_port" {
  description = "Port of PostgreSQL."
  type        = number
  default     = 5432

  validation {
    condition     = var.database_port >= 1 && var.database_port <= 65535
    error_message = "The database port must be between 1 and 65535."
  }
}

variable "database_name" {
  description = "Name of the Observatory database."
  type        = string
  default     = "observatory"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_name))
    error_message = "The database name must be a lower-case SQL identifier."
  }
}

variable "database_secret_arn" {
  description = "Secrets Manager secret with the database user name and password (JSON keys username, password), such as the RDS-managed master secret."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.database_secret_arn))
    error_message = "The database secret must be a Secrets Manager secret ARN."
  }
}

variable "database_sslmode" {
  description = "libpq sslmode of the database URL."
  type        = string
  default     = "verify-full"

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.database_sslmode)
    error_message = "The sslmode must be require, verify-ca or verify-full: the database forces TLS."
  }
}

variable "secrets_mode" {
  description = "How credentials reach the cluster: \"external-secrets\" (External Secrets Operator syncs them from Secrets Manager and follows rotations) or \"kubernetes-secret\" (Terraform reads them and writes Kubernetes Secrets; they land in the Terraform state)."
  type        = string
  default     = "external-secrets"

  validation {
    condition     = contains(["external-secrets", "kubernetes-secret"], var.secrets_mode)
    error_message = "The secrets mode must be \"external-secrets\" or \"kubernetes-secret\"."
  }
}

variable "secret_store_name" {
  description = "Name of the External Secrets Operator ClusterSecretStore that reads AWS Secrets Manager (secrets_mode external-secrets)."
  type        = string
  default     = "aws-secrets-manager"

  validation {
    condition     = length(var.secret_store_name) > 0
    error_message = "The secret store name must not be empty."
  }
}

variable "worker_max_replicas" {
  description = "Highest worker replica count; null means one worker per partition."
  type        = number
  default     = null

  validation {
    condition     = var.worker_max_replicas == null || try(var.worker_max_replicas >= 1, false)
    error_message = "The worker maximum must be null or at least 1."
  }
}

variable "keda_enabled" {
  description = "Scale workers on consumer lag with KEDA (the KEDA operator must be installed in the cluster)."
  type        = bool
  default     = true
}

variable "monitoring_enabled" {
  description = "Create ServiceMonitors and the PrometheusRule (the Prometheus Operator CRDs must be installed)."
  type        = bool
  default     = true
}

variable "runbook_base_url" {
  description = "Base URL of ops/runbooks in the repository browser; alerts link <base>/<AlertName>.md."
  type        = string
  default     = "https://git.example.com/observatory/observatory/blob/main/ops/runbooks"

  validation {
    condition     = can(regex("^https?://", var.runbook_base_url))
    error_message = "The runbook base URL must start with http:// or https://."
  }
}

variable "extra_values" {
  description = "Additional values files (YAML strings) merged after the module's values, for anything the module does not expose."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for v in var.extra_values : can(yamldecode(v))])
    error_message = "Every entry of extra_values must be a YAML document, for example yamlencode({ api = { ... } })."
  }
}

variable "timeout_seconds" {
  description = "How long Helm waits for the migrations hook and the rollout before it rolls back (atomic)."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 60
    error_message = "The timeout must be at least 60 seconds: the migrations hook runs first."
  }
}
