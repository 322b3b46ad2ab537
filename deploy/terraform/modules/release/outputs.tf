output "release_name" {
  description = "Name of the Helm release."
  value       = helm_release.this.name
}

output "namespace" {
  description = "Namespace of the release."
  value       = helm_release.this.namespace
}

output "revision" {
  description = "Revision of the release that Terraform last applied (the one to give ops/scripts/rollback.sh)."
  value       = helm_release.this.metadata[0].revision
}

output "chart_version" {
  description = "Version of the chart that is deployed."
  value       = helm_release.this.metadata[0].version
}

output "api_service" {
  description = "In-cluster address of the API Service."
  value       = "http://${local.fullname}-api.${var.namespace}.svc:8080"
}

output "worker_max_replicas" {
  description = "Worker ceiling the release uses (never above the partition count)."
  value       = local.worker_max
}
