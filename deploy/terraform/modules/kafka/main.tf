# modules/kafka - Amazon MSK for the Observatory.
#
# Encryption at rest with a customer-managed KMS key, TLS between clients and
# brokers and inside the cluster, no unauthenticated access. SASL/SCRAM is
# the default because obs-producer and obs-worker speak Kafka through
# librdkafka, which has no built-in MSK IAM signer; SASL/IAM can be enabled
# alongside for other clients. Topics are not created here: `obsctl topics
# ensure` creates them with the partition count the Helm release is told
# (ops/runbooks/deploy.md).

locals {
  scram        = contains(var.client_authentication, "scram")
  iam          = contains(var.client_authentication, "iam")
  create_kms   = var.kms_key_arn == ""
  kms_key_arn  = local.create_kms ? aws_kms_key.this[0].arn : var.kms_key_arn
  min_insync   = var.broker_count >= 3 ? 2 : 1
  replication  = var.broker_count >= 3 ? 3 : var.broker_count
  client_ports = concat(local.scram ? [9096] : [], local.iam ? [9098] : [])
}

resource "aws_kms_key" "this" {
  count = local.create_kms ? 1 : 0

  description             = "MSK ${var.name}: encryption at rest and SCRAM secret"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms ? 1 : 0

  name          = "alias/${var.name}-msk"
  target_key_id = aws_kms_key.this[0].key_id
}

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-msk-"
  description = "MSK brokers of ${var.name}"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-msk" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = {
    for pair in setproduct(var.allowed_security_group_ids, local.client_ports) :
    "${pair[0]}-${pair[1]}" => { sg = pair[0], port = pair[1] }
  }

  security_group_id            = aws_security_group.this.id
  description                  = "Kafka clients (TLS + SASL) from ${each.value.sg}"
  referenced_security_group_id = each.value.sg
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_vpc_security_group_ingress_rule" "brokers" {
  security_group_id            = aws_security_group.this.id
  description                  = "Broker to broker"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "-1"
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.this.id
  description       = "Brokers reach AWS services"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_msk_configuration" "this" {
  name           = "${var.name}-${replace(var.kafka_version, ".", "-")}"
  kafka_versions = [var.kafka_version]
  description    = "Observatory broker settings"

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=${local.replication}
    min.insync.replicas=${local.min_insync}
    num.partitions=${var.default_partitions}
    log.retention.hours=${var.log_retention_hours}
    unclean.leader.election.enable=false
    delete.topic.enable=true
  PROPERTIES

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/msk/${var.name}"
  retention_in_days = var.cloudwatch_log_retention_days
  tags              = var.tags
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = "PER_TOPIC_PER_PARTITION"
  tags                   = var.tags

  broker_node_group_info {
    instance_type   = var.instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.this.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.ebs_volume_size
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = local.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = false

    sasl {
      scram = local.scram
      iam   = local.iam
    }
  }

  open_monitoring {
    prometheus {
      jmx_exporter {
        enabled_in_broker = true
      }
      node_exporter {
        enabled_in_broker = true
      }
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.this.name
      }
    }
  }
}

# SCRAM credentials: MSK requires a Secrets Manager secret whose name starts
# with AmazonMSK_ and which is encrypted with a customer-managed KMS key.
resource "random_password" "scram" {
  count = local.scram ? 1 : 0

  length           = 32
  special          = true
  override_special = "_-."
}

resource "aws_secretsmanager_secret" "scram" {
  count = local.scram ? 1 : 0

  name_prefix             = "AmazonMSK_${var.name}_"
  description             = "SASL/SCRAM credentials of the Observatory programs on MSK ${var.name}"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "scram" {
  count = local.scram ? 1 : 0

  secret_id = aws_secretsmanager_secret.scram[0].id
  secret_string = jsonencode({
    username = var.scram_username
    password = random_password.scram[0].result
  })
}

resource "aws_secretsmanager_secret_policy" "scram" {
  count = local.scram ? 1 : 0

  secret_arn = aws_secretsmanager_secret.scram[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AWSKafkaResourcePolicy"
      Effect    = "Allow"
      Principal = { Service = "kafka.amazonaws.com" }
      Action    = "secretsmanager:getSecretValue"
      Resource  = aws_secretsmanager_secret.scram[0].arn
    }]
  })
}

resource "aws_msk_scram_secret_association" "this" {
  count = local.scram ? 1 : 0

  cluster_arn     = aws_msk_cluster.this.arn
  secret_arn_list = [aws_secretsmanager_secret.scram[0].arn]

  depends_on = [aws_secretsmanager_secret_version.scram]
}
