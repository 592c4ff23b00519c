"""Shared fixtures: one moto server per test session (a real HTTP endpoint), a fresh table per test."""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from segment_usage.handler import Runtime
from segment_usage.settings import Settings
from support import segment_messages as sm
from support.delivery import TODAY
from support.moto_server import FAKE_CREDENTIALS, boto3_client, moto_server
from support.tables import create_table

_names = itertools.count()

# These files take minutes, mostly waiting on the AWS provider's SQS waiters: collected first, so
# that `make test`'s workers (pytest-xdist, --dist loadfile) start them at once.
SLOW_FIRST = (
    "terraform/test_examples_apply.py",
    "test_end_to_end.py",
    "record/test_properties.py",
    "test_bench_smoke.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((i for i, s in enumerate(SLOW_FIRST) if path.endswith(s)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: the order within a file is kept


@pytest.fixture(autouse=True)
def _writer_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorder's "today" (which days are closed, rollup.py) is the day the fixed-date test
    messages are written against, not the wall clock: a CI run months from now behaves the same.
    Tests of the rollup pass a clock of their own."""
    monkeypatch.setattr("segment_usage.record.days.utc_today", lambda: TODAY)


@pytest.fixture(autouse=True)
def _few_rejection_shards(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept messages spread over ``rejected.SHARDS`` (256) partition keys, and listing them reads
    every one: 514 Queries, ~4 s against moto per ``segment-usage rejected``. Tests list often,
    so they use 4 shards (the same code, fewer keys), except those marked ``all_shards`` that
    measure the spread itself."""
    if request.node.get_closest_marker("all_shards") is None:
        monkeypatch.setattr("segment_usage.table.rejected.SHARDS", 4)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_environment() -> Iterator[None]:
    """No test may reach a real AWS account, whatever the developer's shell has set."""
    saved = dict(os.environ)
    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_PROFILE", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def dynamodb(moto_url: str) -> Any:
    return boto3_client("dynamodb", moto_url)


@pytest.fixture
def table(dynamodb: Any) -> str:
    name = f"segment-usage-test-{next(_names)}"
    create_table(dynamodb, name)
    return name


@pytest.fixture
def make_runtime(dynamodb: Any, table: str) -> Callable[..., Runtime]:
    """A Runtime on the test's table; keyword arguments become SEGMENT_USAGE_* variables. Like a
    deployment that configured its Engage space (``engage_space_ids``), unless a test says not."""

    def make(client: Any | None = None, **env: str) -> Runtime:
        variables = {
            "SEGMENT_USAGE_TABLE": table,
            "SEGMENT_USAGE_ENGAGE_SPACE_IDS": json.dumps([sm.ENGAGE_SPACE]),
        }
        variables.update({f"SEGMENT_USAGE_{k.upper()}": v for k, v in env.items()})
        return Runtime(Settings.from_env(variables), client or dynamodb)

    return make
