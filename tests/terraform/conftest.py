"""Fixtures for the Terraform tests: terraform itself, the built zip, a moto server."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # `support` also when run with --confcutdir or from elsewhere
    sys.path.insert(0, str(TESTS))

from support.moto_server import in_ci, moto_server  # noqa: E402
from support.terraform import REPO_ROOT, find_provider_mirror, terraform_binary  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "lambda"))
import build_package  # noqa: E402

PACKAGE_ARCH = "x86_64"
PACKAGE_RUNTIME = "python3.12"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Terraform tests run whenever terraform exists; they never skip in CI (they fail instead)."""
    if terraform_binary() is not None or in_ci():
        return
    skip = pytest.mark.skip(reason="terraform is not on PATH (and CI is not set)")
    for item in items:
        if "terraform" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def terraform_ready() -> Path:
    """The provider mirror; fails (never skips) if terraform or the mirror is missing."""
    if terraform_binary() is None:
        pytest.fail("terraform is not on PATH")
    return find_provider_mirror()


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The handler package, built once per session by lambda/build_package.py."""
    out = tmp_path_factory.mktemp("dist") / f"segment-usage-{PACKAGE_ARCH}-{PACKAGE_RUNTIME}.zip"
    return build_package.build(PACKAGE_ARCH, PACKAGE_RUNTIME, out=out)


@pytest.fixture(scope="module")
def tf_moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def handler_calls(moto_url: str) -> dict:
    """What the handler really calls on AWS, per function, recorded from real runs (see
    handler_calls.py): the execution roles are checked against this, not against a copy of the
    policy."""
    from handler_calls import recorded_runs

    return recorded_runs(moto_url)
