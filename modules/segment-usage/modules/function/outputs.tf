output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "ARN of the function (unqualified)."
  value       = aws_lambda_function.this.arn
}

output "version" {
  description = "Latest published version ($LATEST without an alias)."
  value       = aws_lambda_function.this.version
}

output "alias_name" {
  description = "Name of the alias, or null."
  value       = local.alias_enabled ? aws_lambda_alias.this[0].name : null
}

output "alias_arn" {
  description = "ARN of the alias, or null."
  value       = local.alias_enabled ? aws_lambda_alias.this[0].arn : null
}

output "target_arn" {
  description = "What callers invoke: the alias when there is one, else the function."
  value       = local.alias_enabled ? aws_lambda_alias.this[0].arn : aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "alarm_arns" {
  description = "The function's alarm ARNs by alarm name."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name => alarm.arn }
}
