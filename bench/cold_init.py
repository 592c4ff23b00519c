"""Cold init: a fresh interpreter importing the handler module (whose init builds the runtime:
settings, a boto3 DynamoDB client, the Spec validators), and the read API's module (settings and a
client: nothing of the write side), each against ``import boto3; boto3.client("dynamodb")``.
Timed inside the child with perf_counter around the statements; the whole child process's wall
time is kept too. Runs alternate between them; median of N.

Both children run the way Lambda runs them: the Lambda runtime's Python (3.13 from pyenv when
present), a virtualenv holding only boto3 (what the runtime provides), and the unpacked deployment
zip on ``PYTHONPATH`` (what /var/task holds). The dev virtualenv would flatter nobody: it carries
optional format libraries (idna, rfc3339-validator, ...) that ``import jsonschema`` then loads too.
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LAMBDA_PYTHON = "3.13"
LAMBDA_VENV = REPO / f".venv-lambda-py{LAMBDA_PYTHON.replace('.', '')}"


def lambda_like_python() -> tuple[str, str]:
    """(interpreter, description): a venv of the Lambda runtime's Python with boto3 only."""
    python = LAMBDA_VENV / "bin" / "python"
    if not python.exists():
        root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
        found = sorted(glob.glob(f"{root}/versions/{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}"))
        if not found:
            return sys.executable, f"dev virtualenv (no Python {LAMBDA_PYTHON} found)"
        subprocess.run([found[-1], "-m", "venv", str(LAMBDA_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "boto3"]
        subprocess.run(pip, check=True)
    version = subprocess.run([str(python), "-V"], capture_output=True, text=True).stdout.strip()
    return str(python), f"{version}, boto3 only + the unpacked zip (as on Lambda)"


def unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into


PROLOGUE = "import time\nt0 = time.perf_counter()\n"
EPILOGUE = "\nt1 = time.perf_counter()\nimport json\nprint(json.dumps({'s': t1 - t0, 'ok': ok}))\n"
CHILDREN = {
    "handler": (
        "import segment_usage.handler as h\n"
        "ok = h._runtime is not None and h._runtime.store.client is not None"
    ),
    "read_api": (
        "import segment_usage.read_api as r\nok = r._api is not None and r._api.client is not None"
    ),
    "boto3": "import boto3\nclient = boto3.client('dynamodb')\nok = client is not None",
    # Informational: where the handler's extra time goes.
    "jsonschema_import": "import jsonschema\nok = True",
    "validators": (
        "from segment_usage.ingest.spec import spec_validators\nok = len(spec_validators()) == 7"
    ),
}


def _run(code: str, env: dict[str, str], python: str) -> tuple[float, float, bool]:
    start = time.perf_counter()
    out = subprocess.run(
        [python, "-c", PROLOGUE + code + EPILOGUE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["s"], wall, bool(result["ok"])


def measure(
    aws_env: dict[str, str],
    table: str,
    runs: int = 7,
    python: str = sys.executable,
    package_dir: Path | None = None,
    interpreter: str = "dev virtualenv",
) -> dict[str, Any]:
    env = {**os.environ, **aws_env, "SEGMENT_USAGE_TABLE": table}
    env.pop("AWS_PROFILE", None)
    if package_dir is not None:
        env["PYTHONPATH"] = str(package_dir)
        env["PYTHONNOUSERSITE"] = "1"
    for code in CHILDREN.values():  # warm the bytecode caches and the page cache
        _run(code, env, python)
    samples: dict[str, list[tuple[float, float, bool]]] = {name: [] for name in CHILDREN}
    for _ in range(runs):
        for name, code in CHILDREN.items():
            samples[name].append(_run(code, env, python))
    out: dict[str, Any] = {"runs": runs, "interpreter": interpreter}
    for name, rows in samples.items():
        out[name] = {
            "init_ms_median": statistics.median(r[0] for r in rows) * 1000,
            "process_wall_ms_median": statistics.median(r[1] for r in rows) * 1000,
            "init_ms_all": [round(r[0] * 1000, 2) for r in rows],
            "built": all(r[2] for r in rows),
        }
    out["ratio"] = out["handler"]["init_ms_median"] / out["boto3"]["init_ms_median"]
    out["read_ratio"] = out["read_api"]["init_ms_median"] / out["boto3"]["init_ms_median"]
    out["process_wall_ratio"] = (
        out["handler"]["process_wall_ms_median"] / out["boto3"]["process_wall_ms_median"]
    )
    return out
