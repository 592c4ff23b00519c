"""Run shipped Lambda code the way the Lambda runtime does, without Docker.

The runtime's CPython (pyenv 3.12 / 3.13) in a virtualenv holding only boto3 and its dependencies
(as the managed runtime provides them), the function's zip unpacked as /var/task, its layers as
/opt, ``sys.path`` in the runtime's order, and the function's own environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "lambda"))

import build_package  # noqa: E402

from .moto_server import in_ci  # noqa: E402


class RuntimeMissing(RuntimeError):
    """The runtime's CPython is not on this machine."""


def runtime_interpreter(runtime: str) -> str:
    """Any CPython of the runtime's minor version (running code needs no exact patch release)."""
    python = build_package.runtime_python(runtime)
    if python is None:
        raise RuntimeMissing(f"no {runtime} interpreter (pyenv {runtime[6:]} or {runtime} on PATH)")
    return python


def boto3_only_venv(runtime: str, directory: Path) -> Path:
    """A virtualenv of the runtime's CPython with boto3 alone; returns its python."""
    python = directory / "bin" / "python"
    if not python.exists():
        subprocess.run([runtime_interpreter(runtime), "-m", "venv", str(directory)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "boto3",
            ],
            check=True,
        )
    return python


def unpack(zip_path: Path, directory: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(directory)
    return directory


_RUNNER = """
import json, sys
task, opt = sys.argv[1], sys.argv[2]
sys.path[:0] = [task, opt + "/python"]  # the runtime's order: function code, then layers
from segment_usage.handler import lambda_handler
for line in sys.stdin:
    print("RESPONSE " + json.dumps(lambda_handler(json.loads(line), None), default=str), flush=True)
# The handler's client comes from botocore: boto3's import (s3transfer) is cold-start time.
assert "boto3" not in sys.modules, "the handler imported boto3"
"""


def invoke(
    python: Path, task: Path, opt: Path, env: dict[str, str], events: list[Any]
) -> tuple[list[dict[str, Any]], str]:
    """Invoke ``segment_usage.handler.lambda_handler`` once per event in one process (one warm
    container); returns the responses and the stdout log lines."""
    proc = subprocess.run(
        [str(python), "-I", "-c", _RUNNER, str(task), str(opt)],
        input="".join(json.dumps(e) + "\n" for e in events),
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"the handler failed:\n{proc.stdout}\n{proc.stderr}")
    lines = proc.stdout.splitlines()
    responses = [json.loads(line[9:]) for line in lines if line.startswith("RESPONSE ")]
    return responses, "\n".join(line for line in lines if not line.startswith("RESPONSE "))


def modules_loaded_from_bytecode(python: Path, task: Path, opt: Path) -> list[str]:
    """The code objects ``import segment_usage.handler`` loaded (python -v), shipped .pyc or not."""
    verbose = subprocess.run(
        [str(python), "-I", "-v", "-c",
         f"import sys; sys.path[:0] = [{str(task)!r}, {str(opt / 'python')!r}]; "
         "import segment_usage.handler"],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr  # fmt: skip
    return [line for line in verbose.splitlines() if line.startswith("# code object from")]


def require_runtime(runtime: str) -> None:
    """Fail in CI, skip elsewhere, when the runtime's CPython is missing."""
    import pytest

    try:
        runtime_interpreter(runtime)
    except RuntimeMissing as error:
        if in_ci():
            pytest.fail(str(error))
        pytest.skip(str(error))
