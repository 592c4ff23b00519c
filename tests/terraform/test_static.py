"""Offline checks: terraform fmt, init + validate of every example, checkov over modules/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.moto_server import in_ci
from support.terraform import REPO_ROOT, Workspace, run_terraform, terraform_env

pytestmark = pytest.mark.terraform

EXAMPLES = sorted(p.name for p in (REPO_ROOT / "examples").iterdir() if (p / "main.tf").is_file())


def test_every_example_is_covered() -> None:
    assert EXAMPLES == ["eventbridge", "lambda-destination", "local", "multi-environment"]


# What hashicorp/aws 6.x deprecates or removes, from its 6.0 upgrade guide
# (website/docs/guides/version-6-upgrade.html.markdown): (mode, type) -> attributes. `versions.tf`
# allows >= 5.70, < 7, so any of these warns (or fails) on 6.x. data.aws_region is the one that
# bit this module: 6.x deprecates `name` (and `id`) in favour of `region`, which 5.x does not
# have, so the region must not come from it at all.
DEPRECATED_IN_6: dict[tuple[str, str], tuple[str, ...]] = {
    ("data", "aws_region"): ("name", "id"),
    ("data", "aws_s3_bucket"): ("region",),
    ("data", "aws_servicequotas_templates"): ("region",),
    ("data", "aws_ssmincidents_replication_set"): ("region",),
    ("data", "aws_vpc_endpoint_service"): ("region",),
    ("data", "aws_vpc_peering_connection"): ("region",),
    ("data", "aws_identitystore_group"): ("filter",),
    ("data", "aws_identitystore_user"): ("filter",),
    ("data", "aws_opensearch_domain"): ("kibana_endpoint",),
    ("data", "aws_launch_template"): (
        "elastic_gpu_specifications",
        "elastic_inference_accelerator",
    ),
    ("resource", "aws_s3_bucket"): ("region",),
    ("resource", "aws_cloudformation_stack_set_instance"): ("region",),
    ("resource", "aws_config_aggregate_authorization"): ("region",),
    ("resource", "aws_dx_hosted_connection"): ("region",),
    ("resource", "aws_servicequotas_template"): ("region",),
    ("resource", "aws_ssmincidents_replication_set"): ("region",),
    ("resource", "aws_guardduty_detector"): ("datasources",),
    ("resource", "aws_guardduty_organization_configuration"): ("datasources", "auto_enable"),
    ("resource", "aws_eip"): ("vpc",),
    ("resource", "aws_eks_addon"): ("resolve_conflicts",),
    ("resource", "aws_flow_log"): ("log_group_name",),
    ("resource", "aws_instance"): ("cpu_core_count", "cpu_threads_per_core"),
    ("resource", "aws_api_gateway_deployment"): ("stage_name", "invoke_url", "execution_arn"),
    # Deprecated in 5.x and still so in 6.x.
    ("resource", "aws_iam_role"): ("inline_policy", "managed_policy_arns"),
}
# Types 6.x deprecates as a whole.
DEPRECATED_TYPES_IN_6 = (
    "aws_elastictranscoder_pipeline",
    "aws_elastictranscoder_preset",
    "aws_evidently_feature",
    "aws_evidently_launch",
    "aws_evidently_project",
    "aws_evidently_segment",
    "aws_kinesis_analytics_application",
    "aws_media_store_container",
    "aws_media_store_container_policy",
    "aws_kms_secret",
)


def terraform_files() -> list[Path]:
    return sorted(
        p
        for root in ("modules", "examples")
        for p in (REPO_ROOT / root).rglob("*.tf")
        if ".terraform" not in p.parts
    )


def deprecated_references(text: str) -> list[str]:
    """Every use of a deprecated attribute: as a reference, or as an argument of such a block."""
    found = []
    for (mode, kind), attributes in DEPRECATED_IN_6.items():
        prefix = r"\bdata\." if mode == "data" else r"(?<![\w.])"
        for attribute in attributes:
            reference = rf"{prefix}{kind}\.[\w-]+(\[[^\]]*\])?\.{attribute}\b"
            if re.search(reference, text):
                found.append(f"{mode}.{kind}.{attribute}")
        for block in re.finditer(rf'^{mode}\s+"{kind}"\s+"[^"]+"\s*{{(.*?)^}}', text, re.S | re.M):
            for attribute in attributes:
                if re.search(rf"^\s*{attribute}\s*(=|{{)", block.group(1), re.M):
                    found.append(f"{mode} {kind} {{ {attribute} }}")
    found += [
        t for t in DEPRECATED_TYPES_IN_6 if re.search(rf'^(resource|data)\s+"{t}"', text, re.M)
    ]
    return found


def test_deprecation_check_catches_what_6x_deprecates() -> None:
    """The check itself: each form it must catch, and the form the module uses instead."""
    assert deprecated_references("x = data.aws_region.current.id")
    assert deprecated_references('x = "${data.aws_region.current.name}"')
    assert deprecated_references("x = data.aws_region.this[0].name")
    assert deprecated_references('resource "aws_iam_role" "r" {\n  managed_policy_arns = []\n}')
    assert deprecated_references(
        'data "aws_s3_bucket" "b" {\n  bucket = "x"\n}\ny = data.aws_s3_bucket.b.region'
    )
    assert deprecated_references('resource "aws_media_store_container" "c" {\n}')
    assert not deprecated_references('region = split(":", data.aws_cloudwatch_event_bus.d.arn)[3]')
    assert not deprecated_references("x = aws_sqs_queue.buffer[0].name")


def test_no_attribute_deprecated_in_provider_6() -> None:
    found = {
        str(tf.relative_to(REPO_ROOT)): refs
        for tf in terraform_files()
        if (refs := deprecated_references(tf.read_text()))
    }
    assert found == {}


def test_provider_range_is_the_same_everywhere() -> None:
    """versions.tf of the module and of every example, and the README, state one range."""
    expected = ">= 5.70, < 7"
    for versions in [REPO_ROOT / "modules/segment-usage/versions.tf"] + [
        REPO_ROOT / "examples" / e / "versions.tf" for e in EXAMPLES
    ]:
        (found,) = re.findall(r'^\s*version\s*=\s*"([^"]+)"', versions.read_text(), re.M)
        assert found == expected, versions
    assert f"`{expected}`" in (REPO_ROOT / "README.md").read_text()


def test_fmt(terraform_ready: Path) -> None:
    proc = run_terraform(
        ["fmt", "-check", "-recursive", "-diff", "modules", "examples"],
        REPO_ROOT,
        terraform_env(),
        ok_codes=(0, 3),
    )
    assert proc.returncode == 0, f"terraform fmt would change:\n{proc.stdout}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_validate(terraform_ready: Path, example: str) -> None:
    with Workspace.copy_of(f"examples/{example}") as ws:
        ws.init()
        result = ws.validate()
    assert result["valid"], json.dumps(result["diagnostics"], indent=2)
    assert result["warning_count"] == 0, json.dumps(result["diagnostics"], indent=2)


def checkov_binary() -> str | None:
    explicit = os.environ.get("CHECKOV_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    local = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(local) if local.is_file() else shutil.which("checkov")


def test_checkov_modules_has_no_failed_checks() -> None:
    binary = checkov_binary()
    if binary is None:
        message = "checkov not found (set CHECKOV_BIN, or run `make venv`)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    proc = subprocess.run(
        [binary, "-d", "modules", "--framework", "terraform", "--quiet", "--compact", "-o", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})"
        for report in reports
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == [], "checkov failed checks:\n" + "\n".join(failed)
    # A file checkov cannot parse is a file it did not check.
    unparsed = sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports)
    assert unparsed == 0, f"checkov could not parse {unparsed} file(s) under modules/"
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 0 or proc.stdout.strip() == "[]"
    # Every skip carries a justification in the code.
    for tf in (REPO_ROOT / "modules").rglob("*.tf"):
        for number, line in enumerate(tf.read_text().splitlines(), 1):
            if "checkov:skip=" in line:
                _, _, rest = line.partition("checkov:skip=")
                check_id, _, reason = rest.partition(":")
                assert check_id.startswith("CKV") and len(reason.strip()) > 20, f"{tf}:{number}"
