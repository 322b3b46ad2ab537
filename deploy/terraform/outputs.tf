output "kafka_bootstrap_brokers" {
  description = "SASL/SCRAM bootstrap brokers of MSK (TLS, port 9096)."
  value       = module.kafka.bootstrap_brokers_sasl_scram
}

output "kafka_cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = module.kafka.cluster_arn
}

output "kafka_scram_secret_arn" {
  description = "Secrets Manager secret with the SCRAM credentials of the Observatory programs."
  value       = module.kafka.scram_secret_arn
}

output "kafka_partitions" {
  description = "Partition count the events topic is created with (obsctl topics ensure --partitions) and the worker ceiling."
  value       = local.kafka_partitions
}

output "database_address" {
  description = "Host name of the RDS instance."
  value       = module.postgres.address
}

output "database_master_secret_arn" {
  description = "Secrets Manager secret RDS manages for the master user."
  value       = module.postgres.master_user_secret_arn
}

output "database_instance_id" {
  description = "Identifier of the RDS instance (for snapshots and point-in-time restores, ops/runbooks/backup-restore.md)."
  value       = module.postgres.instance_id
}

output "release_name" {
  description = "Name of the Helm release, or null when deploy_release is false."
  value       = try(module.release[0].release_name, null)
}

output "release_namespace" {
  description = "Namespace of the Helm release, or null when deploy_release is false."
  value       = try(module.release[0].namespace, null)
}

output "release_revision" {
  description = "Helm revision Terraform last applied, or null when deploy_release is false."
  value       = try(module.release[0].revision, null)
}

output "api_service" {
  description = "In-cluster address of the API, or null when deploy_release is false."
  value       = try(module.release[0].api_service, null)
}
