# Kong Gateway on EC2 with kong-bootstrap: Auto Scaling group across
# availability zones behind a Classic ELB (PROXY protocol on the traffic
# ports, health check on the status port), multi-AZ encrypted RDS
# PostgreSQL with the master password kept by RDS in Secrets Manager, and
# an instance role granting exactly the AWS calls kong-bootstrap makes
# (iam.tf). Uses an existing VPC.
# See docs/operations.md.

locals {
  asg_name = "${var.name}-kong"
  kong_ports = {
    http  = 8000
    https = 8443
  }
  status_port = 8100
  # kong_secret.<setting> lines for user-data ('\#' before a JSON key: '#'
  # starts a comment in kong-bootstrap's config format) and the distinct
  # secret ARNs the instance role may read for them.
  kong_secret_lines = join("", [for setting, ref in var.kong_secrets : "kong_secret.${setting} = ${replace(ref, "#", "\\#")}\n"])
  kong_secret_arns  = distinct([for ref in values(var.kong_secrets) : split("#", ref)[0]])
}

# ---- Security groups (Kong's AWS guide, narrowed to what the nodes use) ----

# Only the load balancer may reach the proxy and status ports: Kong trusts
# the PROXY protocol header from trusted_ips (the VPC's CIDR), so a workload
# elsewhere in the VPC that could connect directly would choose its own
# client address.
resource "aws_security_group" "kong_node" {
  name_prefix = "${var.name}-kong-nodes-"
  description = "Kong nodes - proxy 8000/8443 and status 8100 from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-kong-nodes" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "kong_proxy" {
  for_each                     = local.kong_ports
  security_group_id            = aws_security_group.kong_node.id
  description                  = "Kong proxy (${each.key}, PROXY protocol from the load balancer)"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.load_balancer.id
}

resource "aws_vpc_security_group_ingress_rule" "kong_status" {
  security_group_id            = aws_security_group.kong_node.id
  description                  = "Kong status listener, load balancer health checks"
  ip_protocol                  = "tcp"
  from_port                    = local.status_port
  to_port                      = local.status_port
  referenced_security_group_id = aws_security_group.load_balancer.id
}

# IMDS is link-local and not subject to security groups; the nodes reach
# Secrets Manager and Auto Scaling (HTTPS), PostgreSQL and the upstream
# services Kong proxies to.
resource "aws_vpc_security_group_egress_rule" "kong_all" {
  security_group_id = aws_security_group.kong_node.id
  description       = "AWS APIs, PostgreSQL, upstream services"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "database" {
  name_prefix = "${var.name}-kong-db-"
  description = "Kong database - PostgreSQL 5432 from the Kong nodes"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-kong-db" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_kong" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Kong nodes"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.kong_node.id
}

# ---- Database: multi-AZ, encrypted, password managed by RDS in Secrets Manager ----

resource "aws_db_subnet_group" "kong" {
  name_prefix = "${var.name}-kong-"
  description = "Kong database subnets"
  subnet_ids  = var.private_subnet_ids
  tags        = var.tags
}

resource "aws_db_instance" "kong" {
  identifier_prefix = "${var.name}-kong-"
  engine            = "postgres"
  engine_version    = var.db_engine_version
  instance_class    = var.db_instance_class
  allocated_storage = var.db_allocated_storage
  storage_type      = "gp3"
  storage_encrypted = true
  multi_az          = true

  db_name                       = "kong"
  username                      = "kong"
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.secret_kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.kong.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false

  backup_retention_period      = var.db_backup_retention_days
  backup_window                = "03:00-04:00"
  maintenance_window           = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot        = true
  deletion_protection          = true
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${var.name}-kong-final"
  auto_minor_version_upgrade   = true
  performance_insights_enabled = true

  tags = var.tags
}

# ---- Load balancer: Classic ELB, PROXY protocol on the traffic ports only,
# health check on the status port ----
# Not an NLB: an NLB target group with PROXY protocol v2 sends the PROXY
# header on health-check connections too, also to a separate health check
# port (istio/istio#39868, kubernetes/ingress-nginx#10982), and Kong's
# status listener (which kong-bootstrap polls locally, without a header)
# does not take one. A Classic ELB applies the ProxyProtocol policy per
# instance port, so 8100 gets plain HTTP.

resource "aws_security_group" "load_balancer" {
  name_prefix = "${var.name}-kong-lb-"
  description = "Kong load balancer - HTTP and HTTPS from the clients"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-kong-lb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "load_balancer" {
  for_each          = { http = 80, https = 443 }
  security_group_id = aws_security_group.load_balancer.id
  description       = "Clients (${each.key})"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
  cidr_ipv4         = var.client_cidr
}

resource "aws_vpc_security_group_egress_rule" "load_balancer" {
  for_each                     = merge(local.kong_ports, { status = local.status_port })
  security_group_id            = aws_security_group.load_balancer.id
  description                  = "Kong ${each.key} port"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.kong_node.id
}

resource "aws_elb" "kong" {
  name_prefix     = substr(var.name, 0, 6)
  internal        = var.load_balancer_internal
  subnets         = var.public_subnet_ids
  security_groups = [aws_security_group.load_balancer.id]

  cross_zone_load_balancing   = true
  connection_draining         = true
  connection_draining_timeout = 30
  idle_timeout                = 60

  listener {
    lb_port           = 80
    lb_protocol       = "tcp"
    instance_port     = local.kong_ports.http
    instance_protocol = "tcp"
  }

  listener {
    lb_port           = 443
    lb_protocol       = "tcp"
    instance_port     = local.kong_ports.https
    instance_protocol = "tcp"
  }

  health_check {
    target              = "HTTP:${local.status_port}/status/ready"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

# Kong's proxy_listen carries proxy_protocol (kong-bootstrap's default).
resource "aws_proxy_protocol_policy" "kong" {
  load_balancer  = aws_elb.kong.name
  instance_ports = [for port in values(local.kong_ports) : tostring(port)]
}

# ---- Launch template: IMDSv2 only, instance tags in IMDS, #kong-bootstrap user-data ----

resource "aws_launch_template" "kong" {
  name_prefix   = "${var.name}-kong-"
  image_id      = var.image_id
  instance_type = var.instance_type

  iam_instance_profile {
    arn = aws_iam_instance_profile.kong_node.arn
  }

  vpc_security_group_ids = [aws_security_group.kong_node.id]

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = 20
      encrypted             = true
      delete_on_termination = true
    }
  }

  # kong-bootstrap's config (same format as kong-bootstrap.conf). The
  # RDS-managed secret holds only username and password, so the endpoint
  # comes from here. No secret value is in user-data: kong_secret.* lines
  # name secrets (var.kong_secrets).
  # secret_id: Kong logs in as the RDS master user with the RDS-managed
  # master secret. That is for a first trial: RDS changes that password at
  # once on every rotation, and Kong's new connections fail until
  # kong-bootstrap's next poll. For production create a dedicated kong user
  # with its own secret rotated with alternating users, and put that
  # secret's ARN here and in iam.tf's ReadKongDatabaseSecret statement
  # (docs/operations.md, "Rotation without a window").
  user_data = base64encode(<<-EOT
    #kong-bootstrap
    secret_id = ${aws_db_instance.kong.master_user_secret[0].secret_arn}
    pg_host = ${aws_db_instance.kong.address}
    pg_port = ${aws_db_instance.kong.port}
    pg_database = kong
    lifecycle_hook = kong-launch
    autoscaling_group = ${local.asg_name}
    ${local.kong_secret_lines}
  EOT
  )

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-kong" })
  }

  tags = var.tags
}

# ---- Auto Scaling group across AZs with a launch lifecycle hook ----

resource "aws_autoscaling_group" "kong" {
  # A fixed name, so the instance role can be scoped to the group without
  # a dependency cycle (iam.tf).
  name                      = local.asg_name
  vpc_zone_identifier       = var.private_subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  load_balancers            = [aws_elb.kong.name]
  health_check_type         = "ELB"
  health_check_grace_period = 300

  launch_template {
    id      = aws_launch_template.kong.id
    version = aws_launch_template.kong.latest_version
  }

  # kong-bootstrap completes this hook with CONTINUE once Kong answers
  # /status/ready, or ABANDON on a fatal error; an instance that never
  # reports is abandoned after the heartbeat timeout.
  initial_lifecycle_hook {
    name                 = "kong-launch"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    heartbeat_timeout    = 1800
    default_result       = "ABANDON"
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 100
      max_healthy_percentage = 150
    }
  }

  tag {
    key                 = "Application"
    value               = "kong"
    propagate_at_launch = true
  }
}
