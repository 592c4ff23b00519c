"""Point an example's provider configurations at a moto server without editing the example.

Terraform merges ``*_override.tf`` files into the configuration: a ``provider "aws"`` block there
(matched by alias) adds endpoints, fake credentials and the skip flags to the example's own block,
which keeps its region.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


_EVENT_SOURCES_PATCHED = False


def patch_moto_list_event_sources() -> None:
    """Give moto 5.x EventBridge's ListEventSources, which it lacks.

    The module reads the Segment partner event source at plan time
    (``data "aws_cloudwatch_event_source"``, which the provider answers with ListEventSources and a
    NamePrefix), so that a source that does not exist fails the plan, not the apply. moto keeps the
    sources CreatePartnerEventSource shares with an account (what ``create_segment_partner_source``
    plays for Segment) and answers DescribeEventSource, but has no ListEventSources: without it every
    plan with EventBridge enabled would fail against moto. This adds it on moto's own data, as AWS
    documents it: the account's sources whose name starts with NamePrefix, each as DescribeEventSource
    returns it, in one page. The module is not changed for it.
    """
    global _EVENT_SOURCES_PATCHED
    if _EVENT_SOURCES_PATCHED:
        return
    from moto.events.responses import EventsHandler

    def list_event_sources(self: Any) -> str:
        prefix = self._get_param("NamePrefix") or ""
        sources = [
            source.to_dict()
            for name, source in sorted(self.events_backend.event_sources.items())
            if name.startswith(prefix)
        ]
        return json.dumps({"EventSources": sources})

    EventsHandler.list_event_sources = list_event_sources  # type: ignore[attr-defined]
    _EVENT_SOURCES_PATCHED = True


_TABLE_CLASS_PATCHED = False


def patch_moto_table_class() -> None:
    """Make moto 5.x keep a DynamoDB table's class, as DynamoDB does.

    moto ignores CreateTable's and UpdateTable's ``TableClass`` and never answers a
    ``TableClassSummary``, so the provider reads every table back as STANDARD: a table created
    STANDARD_INFREQUENT_ACCESS (the module's ``dynamodb.table_class``) would show a change in every
    later plan, which no real table does. This stores the class the request gave and describes it
    back the way DynamoDB does (no summary for a table never given a class). Only the answer
    changes; the module is not changed for it.
    """
    global _TABLE_CLASS_PATCHED
    if _TABLE_CLASS_PATCHED:
        return
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    def remembering(original: Any) -> Any:
        def handler(self: Any) -> Any:
            result = original(self)
            table_class = self.body.get("TableClass")
            if table_class:
                self.dynamodb_backend.get_table(self.body["TableName"]).table_class = table_class
                # The answer was built before the class was stored: describe the table again.
                return type(result)(
                    self.dynamodb_backend.get_table(self.body["TableName"]).describe()
                )
            return result

        return handler

    original_describe = Table.describe

    def describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original_describe(self, base_key)
        table_class = getattr(self, "table_class", None)
        if table_class and base_key in result:
            result[base_key]["TableClassSummary"] = {"TableClass": table_class}
        return result

    DynamoHandler.create_table = remembering(DynamoHandler.create_table)  # type: ignore[method-assign]
    DynamoHandler.update_table = remembering(DynamoHandler.update_table)  # type: ignore[method-assign]
    Table.describe = describe  # type: ignore[method-assign]
    _TABLE_CLASS_PATCHED = True
