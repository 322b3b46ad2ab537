output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster."
  value       = aws_msk_cluster.this.cluster_name
}

output "bootstrap_brokers_sasl_scram" {
  description = "Bootstrap brokers for SASL/SCRAM over TLS (port 9096); empty when SCRAM is off."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
}

output "bootstrap_brokers_sasl_iam" {
  description = "Bootstrap brokers for SASL/IAM over TLS (port 9098); empty when IAM is off."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "scram_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the SCRAM user name and password (JSON keys username, password); null when SCRAM is off."
  value       = try(aws_secretsmanager_secret.scram[0].arn, null)
}

output "scram_username" {
  description = "SCRAM user name of the Observatory programs."
  value       = var.scram_username
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.this.id
}

output "kms_key_arn" {
  description = "KMS key that encrypts the brokers' storage and the SCRAM secret."
  value       = local.kms_key_arn
}

output "default_partitions" {
  description = "num.partitions of the broker configuration."
  value       = var.default_partitions
}
