output "load_balancer_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_elb.kong.dns_name
}

output "autoscaling_group_name" {
  value = aws_autoscaling_group.kong.name
}

output "database_endpoint" {
  value = aws_db_instance.kong.address
}

output "database_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master credentials in."
  value       = aws_db_instance.kong.master_user_secret[0].secret_arn
}

output "node_role_arn" {
  value = aws_iam_role.kong_node.arn
}
