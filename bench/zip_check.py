"""The shipped artifacts: rebuilt twice from source into two temporary directories, each compared
with the other and with the committed modules/segment-usage/artifacts/."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lambda"))

import build_package  # noqa: E402

LIMIT_BYTES = 1_000_000  # "1 MB", read strictly (1 MiB would be 1,048,576)


def measure() -> dict[str, Any]:
    try:
        with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
            first = build_package.build_all(Path(one))["artifacts"]
            second = build_package.build_all(Path(two))["artifacts"]
            stale = build_package.differences(Path(one), build_package.ARTIFACTS)
    except build_package.BuildError as error:
        return {"error": str(error)}
    artifacts = {
        name: {
            "bytes": entry["bytes"],
            "sha256": entry["sha256"],
            "identical": second[name]["sha256"] == entry["sha256"],
        }
        for name, entry in first.items()
    }
    return {
        "artifacts": artifacts,
        "largest_bytes": max(a["bytes"] for a in artifacts.values()),
        "identical": all(a["identical"] for a in artifacts.values()),
        "matches_committed": not stale,
        "stale": stale,
        "limit_bytes": LIMIT_BYTES,
    }
