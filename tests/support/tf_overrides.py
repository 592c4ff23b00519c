"""Point an example's provider configurations at a moto server without editing the example.

Terraform merges ``*_override.tf`` files into the configuration: a ``provider "aws"`` block there
(matched by alias) adds endpoints, fake credentials and the skip flags to the example's own block,
which keeps its region.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

SERVICES = (
    "cloudwatch",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "sns",
    "sqs",
    "sts",
)


def provider_block(endpoint: str, alias: str | None = None) -> str:
    lines = ['provider "aws" {']
    if alias:
        lines.append(f"  alias = {json.dumps(alias)}")
    lines += [
        '  access_key                  = "testing"',
        '  secret_key                  = "testing"',
        "  skip_credentials_validation = true",
        "  skip_metadata_api_check     = true",
        "  skip_region_validation      = true",
        "  endpoints {",
        *(f"    {service} = {json.dumps(endpoint)}" for service in SERVICES),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def write_moto_override(root: Path, endpoint: str, aliases: Iterable[str | None] = (None,)) -> Path:
    """Write ``moto_override.tf`` into ``root`` for the default provider and/or the given aliases."""
    path = Path(root) / "moto_override.tf"
    path.write_text("\n".join(provider_block(endpoint, alias) for alias in aliases))
    return path
