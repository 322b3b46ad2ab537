# modules/release - the observatory Helm chart, wired to the managed Kafka
# and PostgreSQL.
#
# Credentials never go into Helm values: they reach the pods through
# Kubernetes Secrets that the chart consumes as existingSecret, created
# either by External Secrets Operator (default: follows the RDS master
# password rotation) or by Terraform itself. The release is atomic: a failed
# migration hook or rollout rolls back to the previous revision
# (ops/runbooks/rollback.md).

locals {
  chart_path = var.chart_path != "" ? var.chart_path : "${path.module}/../../../helm/observatory"

  # The chart's fullname rule: the release name alone when it contains "observatory".
  fullname = strcontains(var.release_name, "observatory") ? var.release_name : "${var.release_name}-observatory"

  db_secret_name    = "${var.release_name}-database"
  kafka_secret_name = "${var.release_name}-kafka"
  sasl              = var.kafka_scram_secret_arn != null
  worker_max        = var.worker_max_replicas == null ? var.kafka_partitions : min(var.worker_max_replicas, var.kafka_partitions)

  values = {
    image = {
      repository = var.image_repository
      tag        = var.image_tag
    }
    externalDatabase = {
      existingSecret       = local.db_secret_name
      existingSecretUrlKey = "database-url"
    }
    externalKafka = merge(
      {
        bootstrap        = var.kafka_bootstrap
        partitions       = var.kafka_partitions
        securityProtocol = local.sasl ? "SASL_SSL" : "SSL"
      },
      local.sasl ? {
        sasl = {
          mechanisms                = "SCRAM-SHA-512"
          existingSecret            = local.kafka_secret_name
          existingSecretUsernameKey = "username"
          existingSecretPasswordKey = "password"
        }
      } : {}
    )
    worker = {
      autoscaling = {
        enabled     = true
        maxReplicas = local.worker_max
        minReplicas = min(2, local.worker_max)
        keda        = { enabled = var.keda_enabled }
      }
    }
    metrics = {
      serviceMonitor = { enabled = var.monitoring_enabled }
      prometheusRule = {
        enabled        = var.monitoring_enabled
        runbookBaseUrl = var.runbook_base_url
      }
    }
  }
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name = var.namespace
    labels = {
      "pod-security.kubernetes.io/enforce" = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
      "pod-security.kubernetes.io/warn"    = "restricted"
    }
  }
}

# --- secrets_mode = "external-secrets" -------------------------------------

resource "kubernetes_manifest" "database_secret" {
  count = var.secrets_mode == "external-secrets" ? 1 : 0

  manifest = {
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ExternalSecret"
    metadata = {
      name      = local.db_secret_name
      namespace = var.namespace
    }
    spec = {
      refreshInterval = "1h"
      secretStoreRef  = { kind = "ClusterSecretStore", name = var.secret_store_name }
      target = {
        name           = local.db_secret_name
        creationPolicy = "Owner"
        template = {
          engineVersion = "v2"
          data = {
            "database-url" = "postgres://{{ .username | urlquery }}:{{ .password | urlquery }}@${var.database_host}:${var.database_port}/${var.database_name}?sslmode=${var.database_sslmode}"
          }
        }
      }
      dataFrom = [{ extract = { key = var.database_secret_arn } }]
    }
  }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_manifest" "kafka_secret" {
  count = var.secrets_mode == "external-secrets" && local.sasl ? 1 : 0

  manifest = {
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ExternalSecret"
    metadata = {
      name      = local.kafka_secret_name
      namespace = var.namespace
    }
    spec = {
      refreshInterval = "1h"
      secretStoreRef  = { kind = "ClusterSecretStore", name = var.secret_store_name }
      target          = { name = local.kafka_secret_name, creationPolicy = "Owner" }
      dataFrom        = [{ extract = { key = var.kafka_scram_secret_arn } }]
    }
  }

  depends_on = [kubernetes_namespace_v1.this]
}

# --- secrets_mode = "kubernetes-secret" ------------------------------------

data "aws_secretsmanager_secret_version" "database" {
  count = var.secrets_mode == "kubernetes-secret" ? 1 : 0

  secret_id = var.database_secret_arn
}

data "aws_secretsmanager_secret_version" "kafka" {
  count = var.secrets_mode == "kubernetes-secret" && local.sasl ? 1 : 0

  secret_id = var.kafka_scram_secret_arn
}

resource "kubernetes_secret_v1" "database" {
  count = var.secrets_mode == "kubernetes-secret" ? 1 : 0

  metadata {
    name      = local.db_secret_name
    namespace = var.namespace
  }

  data = {
    "database-url" = format(
      "postgres://%s:%s@%s:%d/%s?sslmode=%s",
      urlencode(jsondecode(data.aws_secretsmanager_secret_version.database[0].secret_string)["username"]),
      urlencode(jsondecode(data.aws_secretsmanager_secret_version.database[0].secret_string)["password"]),
      var.database_host, var.database_port, var.database_name, var.database_sslmode,
    )
  }

  depends_on = [kubernetes_namespace_v1.this]
}

resource "kubernetes_secret_v1" "kafka" {
  count = var.secrets_mode == "kubernetes-secret" && local.sasl ? 1 : 0

  metadata {
    name      = local.kafka_secret_name
    namespace = var.namespace
  }

  data = {
    username = jsondecode(data.aws_secretsmanager_secret_version.kafka[0].secret_string)["username"]
    password = jsondecode(data.aws_secretsmanager_secret_version.kafka[0].secret_string)["password"]
  }

  depends_on = [kubernetes_namespace_v1.this]
}

# --- the release -----------------------------------------------------------

resource "helm_release" "this" {
  name      = var.release_name
  namespace = var.namespace
  chart     = local.chart_path

  atomic          = true
  cleanup_on_fail = true
  wait            = true
  wait_for_jobs   = true
  timeout         = var.timeout_seconds
  max_history     = 10

  values = concat([yamlencode(local.values)], var.extra_values)

  depends_on = [
    kubernetes_namespace_v1.this,
    kubernetes_manifest.database_secret,
    kubernetes_manifest.kafka_secret,
    kubernetes_secret_v1.database,
    kubernetes_secret_v1.kafka,
  ]
}
