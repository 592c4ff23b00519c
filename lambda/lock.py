#!/usr/bin/env python3
"""Write lambda/requirements.lock: the handler's runtime dependencies pinned with sha256 hashes.

    python lambda/lock.py          # or: make lock

The dependencies are ``[project].dependencies`` of pyproject.toml. pip resolves them once for each
Lambda target (x86_64 and arm64, python3.12 and python3.13: ``pip install --dry-run --report``,
wheels only), and the lock lists every version with the hash of each wheel a target uses, so
``pip download --require-hashes`` in build_package.py fetches those exact files and nothing else.
boto3 and botocore come with the Lambda runtime and are never locked or bundled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parent
REPO_ROOT = LAMBDA_DIR.parent
LOCK = LAMBDA_DIR / "requirements.lock"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
PYTHONS = {"python3.12": "3.12", "python3.13": "3.13"}
RUNTIME_PROVIDED = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python-dateutil",
    "six",
}


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def resolve(requirements: list[str], arch: str, runtime: str) -> dict[str, tuple[str, str]]:
    """name -> (version, wheel sha256) that pip installs for one target."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--dry-run", "--ignore-installed", "--report", str(report),
            "--target", str(Path(tmp) / "target"), "--only-binary=:all:",
            "--platform", PLATFORMS[arch], "--python-version", PYTHONS[runtime],
            "--implementation", "cp", *requirements,
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
        installs = json.loads(report.read_text())["install"]
    pinned = {}
    for item in installs:
        name = normalise(item["metadata"]["name"])
        digest = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest:
            raise SystemExit(f"lock: pip reported no sha256 for {name}: cannot pin it")
        pinned[name] = (item["metadata"]["version"], digest)
    return pinned


def main() -> int:
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        requirements = list(tomllib.load(fh)["project"].get("dependencies", []))
    targets = [(arch, runtime) for arch in PLATFORMS for runtime in PYTHONS]
    first = resolve(requirements, *targets[0])
    # Every target gets the versions the first one resolved, so all artifacts ship the same code.
    pins = [f"{name}=={version}" for name, (version, _) in sorted(first.items())]
    hashes: dict[str, set[str]] = {name: set() for name in first}
    for arch, runtime in targets:
        for name, (version, digest) in resolve(pins, arch, runtime).items():
            if name not in first or first[name][0] != version:
                raise SystemExit(f"lock: {arch}/{runtime} resolved {name}=={version} differently")
            hashes[name].add(digest)
    provided = sorted(set(first) & RUNTIME_PROVIDED)
    if provided:
        raise SystemExit(f"lock: {provided} come with the Lambda runtime; drop them from pyproject")
    lines = [
        "# The handler's runtime dependencies, pinned with the sha256 of every wheel that a",
        "# Lambda target (x86_64, arm64 x python3.12, python3.13) uses. Do not edit by hand:",
        "# lambda/lock.py (make lock) writes it from pyproject.toml [project].dependencies.",
    ]
    for name, (version, _) in sorted(first.items()):
        lines.append(f"{name}=={version} \\")
        digests = sorted(hashes[name])
        for i, digest in enumerate(digests):
            lines.append(f"    --hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else ""))
    LOCK.write_text("\n".join(lines) + "\n")
    print(f"{LOCK.relative_to(REPO_ROOT)}: {len(first)} packages for {len(targets)} targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
