output "kafka_bootstrap_brokers" {
  description = "SASL/SCRAM bootstrap brokers of MSK."
  value       = module.observatory.kafka_bootstrap_brokers
}

output "database_address" {
  description = "Host name of the RDS instance."
  value       = module.observatory.database_address
}

output "api_service" {
  description = "In-cluster address of the API."
  value       = module.observatory.api_service
}
