variable "region" {
  description = "AWS region of the EKS cluster."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as eu-west-1."
  }
}

variable "name" {
  description = "Name of the environment."
  type        = string
  default     = "observatory-prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 32 lower-case letters, digits or hyphens."
  }
}

variable "cluster_name" {
  description = "Name of the existing EKS cluster."
  type        = string

  validation {
    condition     = length(var.cluster_name) > 0
    error_message = "The cluster name must not be empty."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the cluster's VPC in two or three availability zones."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets."
  }
}

variable "image_repository" {
  description = "Image repository of the Observatory image."
  type        = string
  default     = "registry.example.com/platform/observatory"

  validation {
    condition     = length(var.image_repository) > 0
    error_message = "The image repository must not be empty."
  }
}

variable "image_tag" {
  description = "Image tag to deploy."
  type        = string

  validation {
    condition     = var.image_tag != "latest" && length(var.image_tag) > 0
    error_message = "The image tag must be set and must not be \"latest\"."
  }
}
