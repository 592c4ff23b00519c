"""The deployment zip: built twice, by lambda/build_package.py, into two temporary directories."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "lambda" / "build_package.py"
LIMIT_BYTES = 1_000_000  # "1 MB", read strictly (1 MiB would be 1,048,576)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure(arch: str = "arm64", runtime: str = "python3.13") -> dict[str, Any]:
    if not BUILDER.exists():
        return {
            "error": f"{BUILDER.relative_to(REPO)} is missing",
            "arch": arch,
            "runtime": runtime,
        }
    builds = []
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        for directory in (one, two):
            out = Path(directory) / f"segment-usage-{arch}-{runtime}.zip"
            done = subprocess.run(
                [
                    sys.executable,
                    str(BUILDER),
                    "--arch",
                    arch,
                    "--runtime",
                    runtime,
                    "--out",
                    str(out),
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0 or not out.exists():
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                return {
                    "error": "build failed: " + " | ".join(tail),
                    "arch": arch,
                    "runtime": runtime,
                }
            builds.append({"bytes": out.stat().st_size, "sha256": _sha256(out)})
    return {
        "arch": arch,
        "runtime": runtime,
        "bytes": builds[0]["bytes"],
        "sha256_build_1": builds[0]["sha256"],
        "sha256_build_2": builds[1]["sha256"],
        "identical": builds[0] == builds[1],
        "limit_bytes": LIMIT_BYTES,
    }
