"""The module as a platform team uses it: sourced from git, applied with defaults, nothing built.

An empty root module outside the repository sources ``git::file://<bare clone>//modules/segment-usage``
(a bare clone of this repository at HEAD: what a ``git::https://...?ref=`` source fetches), and
``terraform init && terraform apply`` runs against moto on a machine state where nobody ran make.
Then the artifacts Terraform deployed for the x86_64/python3.13 function (identified by the code
sha256 Lambda stores, not by their names) are unpacked and the handler runs on CPython 3.13 with
only boto3 added, against the table Terraform created: one track message is recorded, its
redelivery is a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from support import lambda_runtime
from support.moto_server import aws_env, boto3_client, moto_server
from support.segment_messages import track
from support.terraform import REPO_ROOT, Workspace, terraform_binary
from support.tf_overrides import write_moto_override

pytestmark = pytest.mark.terraform

RUNTIME = "python3.13"


def lambda_sha256(path: Path) -> str:
    """CodeSha256 as Lambda reports it: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def bare_clone(directory: Path) -> Path:
    """A bare clone of this repository at HEAD: only what is committed travels."""
    target = directory / "segment-usage.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--no-local", str(REPO_ROOT), str(target)], check=True
    )
    return target


def consumer_root(directory: Path, repo: Path, endpoint: str) -> Path:
    root = directory / "platform-team"
    root.mkdir()
    (root / "main.tf").write_text(
        textwrap.dedent(f"""\
        terraform {{
          required_providers {{
            aws = {{ source = "hashicorp/aws", version = ">= 5.70, < 7" }}
          }}
        }}

        provider "aws" {{
          region = "us-east-1"
        }}

        module "segment_usage" {{
          source = "git::file://{repo}//modules/segment-usage"

          environment          = "consumer"
          segment_external_ids = ["ws-consumer"]
          lambda               = {{ architecture = "x86_64", runtime = "{RUNTIME}" }}
        }}

        output "segment_lambda_destination_settings" {{
          value = module.segment_usage.segment_lambda_destination_settings
        }}

        output "function_name" {{
          value = module.segment_usage.function_name
        }}

        output "table_name" {{
          value = module.segment_usage.table_name
        }}
        """)
    )
    write_moto_override(root, endpoint)
    return root


def test_module_from_git_applies_and_its_artifacts_record_exactly_once(tmp_path: Path) -> None:
    if terraform_binary() is None:
        pytest.fail("terraform is not on PATH")
    lambda_runtime.require_runtime(RUNTIME)
    repo = bare_clone(tmp_path)
    python = lambda_runtime.boto3_only_venv(RUNTIME, tmp_path / "py313")

    with moto_server() as url:
        ws = Workspace(root=consumer_root(tmp_path, repo, url))
        ws.init()
        ws.apply()
        outputs = ws.outputs()
        settings = outputs["segment_lambda_destination_settings"]
        assert settings["external_id"] == "ws-consumer"
        assert settings["role_address"].startswith("arn:aws:iam::")

        # The module as Terraform fetched it: the artifacts came with it, under its own directory.
        fetched = ws.root / ".terraform" / "modules" / "segment_usage" / "modules" / "segment-usage"
        artifacts = fetched / "artifacts"
        assert (artifacts / "manifest.json").is_file(), sorted(p.name for p in fetched.iterdir())

        awslambda = boto3_client("lambda", url)
        function = awslambda.get_function(FunctionName=outputs["function_name"])["Configuration"]
        assert function["Runtime"] == RUNTIME and function["Architectures"] == ["x86_64"]
        (layer,) = function["Layers"]
        *_, layer_name, layer_version = layer["Arn"].split(":")  # ...:layer:<name>:<version>
        layer_code = awslambda.get_layer_version(
            LayerName=layer_name, VersionNumber=int(layer_version)
        )["Content"]

        # The exact bytes Lambda holds, matched by the sha256 it computed on upload.
        by_hash = {lambda_sha256(p): p for p in artifacts.glob("*.zip")}
        handler_zip = by_hash[function["CodeSha256"]]
        layer_zip = by_hash[layer_code["CodeSha256"]]
        assert handler_zip.name == "handler.zip"
        assert layer_zip.name == f"dependencies-x86_64-{RUNTIME}.zip"

        task = lambda_runtime.unpack(handler_zip, tmp_path / "var-task")
        opt = lambda_runtime.unpack(layer_zip, tmp_path / "opt")
        env = {
            **function["Environment"]["Variables"],
            **aws_env(url),
            "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
        }
        message = track("Report Exported", {"format": "csv"}, user_id="consumer-user-1")
        responses, logs = lambda_runtime.invoke(python, task, opt, env, [message, message])
        assert [r["status"] for r in responses] == ["accepted", "duplicate"], logs

        table = outputs["table_name"]
        buckets = boto3_client("dynamodb", url).query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
            ExpressionAttributeValues={":pk": {"S": "U#consumer-user-1"}, ":d": {"S": "D#"}},
            ConsistentRead=True,
        )["Items"]
        assert buckets, f"nothing recorded in {table}: {logs}"
        recorded = sum(len(b.get("h", {}).get("BS", [])) for b in buckets)
        assert recorded == 1, json.dumps(buckets, default=str)

    # What ran was the shipped bytecode of both artifacts, not sources compiled on the fly.
    loaded = lambda_runtime.modules_loaded_from_bytecode(python, task, opt)
    assert any("segment_usage/__pycache__/handler.cpython-313.pyc" in line for line in loaded)
    assert any("jsonschema/__pycache__/validators.cpython-313.pyc" in line for line in loaded)
    assert not any(line.endswith(".py'") and str(tmp_path) in line for line in loaded), loaded
