# The code every function of this module runs.
#
# By default: the artifacts committed under artifacts/ (see artifacts/manifest.json), so that the
# module applies from a git or registry source on a machine with no Python, pip or make:
#   - handler.zip: the pure-Python handler package, the same for every architecture and runtime;
#   - dependencies-<architecture>-<runtime>.zip: a layer with the locked runtime dependencies
#     (jsonschema; rpds-py is native code, hence one per architecture and runtime).
# lambda.package_path or lambda.package_s3 deploy your own self-contained zip instead
# (`lambda/build_package.py --bundle`): then no layer is created.
locals {
  artifacts_dir    = "${path.module}/artifacts"
  handler_zip      = "${local.artifacts_dir}/handler.zip"
  dependencies_zip = "${local.artifacts_dir}/dependencies-${var.lambda.architecture}-${var.lambda.runtime}.zip"
  own_package      = var.lambda.package_path != null || var.lambda.package_s3 != null

  # The code arguments of every aws_lambda_function in this module.
  package = {
    filename = local.own_package ? var.lambda.package_path : local.handler_zip
    source_code_hash = (
      var.lambda.package_path != null ? filebase64sha256(var.lambda.package_path) :
      var.lambda.package_s3 != null ? var.lambda.package_s3.source_code_hash :
      filebase64sha256(local.handler_zip)
    )
    s3_bucket         = try(var.lambda.package_s3.bucket, null)
    s3_key            = try(var.lambda.package_s3.key, null)
    s3_object_version = try(var.lambda.package_s3.object_version, null)
    layers            = local.own_package ? [] : [aws_lambda_layer_version.dependencies[0].arn]
  }
}

resource "aws_lambda_layer_version" "dependencies" {
  count = local.own_package ? 0 : 1

  layer_name               = "${local.prefix}-dependencies"
  description              = "segment-usage runtime dependencies for ${var.lambda.architecture}/${var.lambda.runtime}"
  filename                 = local.dependencies_zip
  source_code_hash         = filebase64sha256(local.dependencies_zip)
  compatible_runtimes      = [var.lambda.runtime]
  compatible_architectures = [var.lambda.architecture]
}
