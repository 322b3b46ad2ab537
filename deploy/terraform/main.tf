# Observatory on AWS: Amazon MSK + Amazon RDS for PostgreSQL 15 + the Helm
# release on an existing EKS cluster.
#
# The cluster itself is out of scope: it is looked up by name, and its VPC
# and cluster security group decide where the brokers and the database live
# and who may reach them. Providers are configured by the caller (see
# examples/complete), as reusable modules should.

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

locals {
  vpc_id            = data.aws_eks_cluster.this.vpc_config[0].vpc_id
  cluster_sg_id     = data.aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  tags              = merge({ "app.kubernetes.io/part-of" = "observatory", Environment = var.name }, var.tags)
  kafka_partitions  = var.kafka.partitions
  kafka_bootstrap   = module.kafka.bootstrap_brokers_sasl_scram
  database_hostname = module.postgres.address
}

module "kafka" {
  source = "./modules/kafka"

  name                       = "${var.name}-kafka"
  kafka_version              = var.kafka.kafka_version
  broker_count               = var.kafka.broker_count
  instance_type              = var.kafka.instance_type
  ebs_volume_size            = var.kafka.ebs_volume_size
  client_authentication      = var.kafka.client_authentication
  default_partitions         = local.kafka_partitions
  log_retention_hours        = var.kafka.log_retention_hours
  vpc_id                     = local.vpc_id
  subnet_ids                 = var.private_subnet_ids
  allowed_security_group_ids = [local.cluster_sg_id]
  tags                       = local.tags
}

module "postgres" {
  source = "./modules/postgres"

  name                       = "${var.name}-db"
  engine_version             = var.postgres.engine_version
  instance_class             = var.postgres.instance_class
  allocated_storage          = var.postgres.allocated_storage
  max_allocated_storage      = var.postgres.max_allocated_storage
  multi_az                   = var.postgres.multi_az
  backup_retention_days      = var.postgres.backup_retention_days
  deletion_protection        = var.postgres.deletion_protection
  vpc_id                     = local.vpc_id
  subnet_ids                 = var.private_subnet_ids
  allowed_security_group_ids = [local.cluster_sg_id]
  tags                       = local.tags
}

module "release" {
  source = "./modules/release"
  count  = var.deploy_release ? 1 : 0

  release_name        = var.release.name
  namespace           = var.release.namespace
  create_namespace    = var.release.create_namespace
  image_repository    = var.release.image_repository
  image_tag           = var.release.image_tag
  secrets_mode        = var.release.secrets_mode
  secret_store_name   = var.release.secret_store_name
  worker_max_replicas = var.release.worker_max_replicas
  keda_enabled        = var.release.keda_enabled
  monitoring_enabled  = var.release.monitoring_enabled
  runbook_base_url    = var.release.runbook_base_url
  extra_values        = var.release.extra_values

  kafka_bootstrap        = local.kafka_bootstrap
  kafka_partitions       = local.kafka_partitions
  kafka_scram_secret_arn = module.kafka.scram_secret_arn

  database_host       = local.database_hostname
  database_port       = module.postgres.port
  database_name       = module.postgres.database_name
  database_secret_arn = module.postgres.master_user_secret_arn

  # The brokers must accept SCRAM logins before the migrations hook and the
  # workers start.
  depends_on = [module.kafka, module.postgres]
}
