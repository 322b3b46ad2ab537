# examples/complete - a full Observatory environment on an existing EKS
# cluster: MSK (SCRAM), RDS PostgreSQL 15, the Helm release with KEDA and
# Prometheus Operator objects, secrets synced by External Secrets Operator.
#
# It doubles as the test of the root module: tests/deploy/run.sh runs
# `terraform fmt -check` and, where the provider registry is reachable,
# `terraform init -backend=false && terraform validate` on it.
#
#   terraform init
#   terraform apply -var cluster_name=prod-eks -var 'private_subnet_ids=["subnet-…","subnet-…","subnet-…"]' \
#                   -var image_tag=$(git describe --always)

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "observatory"
      ManagedBy = "terraform"
    }
  }
}

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

data "aws_eks_cluster_auth" "this" {
  name = var.cluster_name
}

provider "kubernetes" {
  host                   = data.aws_eks_cluster.this.endpoint
  cluster_ca_certificate = base64decode(data.aws_eks_cluster.this.certificate_authority[0].data)
  token                  = data.aws_eks_cluster_auth.this.token
}

provider "helm" {
  kubernetes {
    host                   = data.aws_eks_cluster.this.endpoint
    cluster_ca_certificate = base64decode(data.aws_eks_cluster.this.certificate_authority[0].data)
    token                  = data.aws_eks_cluster_auth.this.token
  }
}

module "observatory" {
  source = "../../"

  name               = var.name
  cluster_name       = var.cluster_name
  private_subnet_ids = var.private_subnet_ids

  kafka = {
    broker_count = 3
    partitions   = 24
  }

  postgres = {
    instance_class        = "db.r6g.large"
    backup_retention_days = 14
  }

  release = {
    image_repository = var.image_repository
    image_tag        = var.image_tag
    secrets_mode     = "external-secrets"
    keda_enabled     = true
    extra_values = [yamlencode({
      api = { autoscaling = { minReplicas = 3, maxReplicas = 12 } }
    })]
  }

  tags = {
    Team = "platform"
  }
}
