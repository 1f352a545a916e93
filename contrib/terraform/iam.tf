# The instance role grants exactly the AWS calls kong-bootstrap makes
# (docs/operations.md, "AWS API calls"); tests/packaging checks it.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "ec2_assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "kong_node" {
  statement {
    sid       = "ReadKongDatabaseSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.kong.master_user_secret[0].secret_arn]
  }

  # Kong's other secrets: exactly the ones user-data maps (kong_secret.*).
  dynamic "statement" {
    for_each = length(local.kong_secret_arns) == 0 ? [] : [local.kong_secret_arns]
    content {
      sid       = "ReadKongSecrets"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }

  statement {
    sid    = "CompleteKongLifecycleHooks"
    effect = "Allow"
    actions = [
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.asg_name}",
    ]
  }

  # migrations_finish = after-rollout: the instances of this group and of the
  # groups the fleet registry names (blue/green). Auto Scaling's Describe
  # actions take no resource-level permission.
  statement {
    sid       = "DescribeKongGroup"
    effect    = "Allow"
    actions   = ["autoscaling:DescribeAutoScalingGroups"]
    resources = ["*"]
  }

  # Only with a customer-managed key; aws/secretsmanager needs no grant.
  dynamic "statement" {
    for_each = var.secret_kms_key_arn == null ? [] : [var.secret_kms_key_arn]
    content {
      sid       = "DecryptKongDatabaseSecret"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "kong_node" {
  name_prefix        = "${var.name}-kong-node-"
  description        = "Kong nodes - kong-bootstrap reads the database secret and completes lifecycle hooks"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume_role.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "kong_node" {
  name   = "kong-bootstrap"
  role   = aws_iam_role.kong_node.id
  policy = data.aws_iam_policy_document.kong_node.json
}

resource "aws_iam_instance_profile" "kong_node" {
  name_prefix = "${var.name}-kong-node-"
  role        = aws_iam_role.kong_node.name
  tags        = var.tags
}
