"""Cold init: a fresh interpreter importing the handler module (whose init builds the runtime:
settings, a boto3 DynamoDB client, the Spec validators), against ``import boto3;
boto3.client("dynamodb")``. Timed inside the child with perf_counter around the statements;
the whole child process's wall time is kept too. Runs alternate between the two; median of N.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

PROLOGUE = "import time\nt0 = time.perf_counter()\n"
EPILOGUE = "\nt1 = time.perf_counter()\nimport json\nprint(json.dumps({'s': t1 - t0, 'ok': ok}))\n"
CHILDREN = {
    "handler": (
        "import segment_usage.handler as h\n"
        "ok = h._runtime is not None and h._runtime.store.client is not None"
    ),
    "boto3": "import boto3\nclient = boto3.client('dynamodb')\nok = client is not None",
    # Informational: where the handler's extra time goes.
    "jsonschema_import": "import jsonschema\nok = True",
    "validators": (
        "from segment_usage.validation import spec_validators\nok = len(spec_validators()) == 7"
    ),
}


def _run(code: str, env: dict[str, str]) -> tuple[float, float, bool]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PROLOGUE + code + EPILOGUE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["s"], wall, bool(result["ok"])


def measure(aws_env: dict[str, str], table: str, runs: int = 7) -> dict[str, Any]:
    env = {**os.environ, **aws_env, "SEGMENT_USAGE_TABLE": table}
    env.pop("AWS_PROFILE", None)
    for code in CHILDREN.values():  # warm the bytecode caches and the page cache
        _run(code, env)
    samples: dict[str, list[tuple[float, float, bool]]] = {name: [] for name in CHILDREN}
    for _ in range(runs):
        for name, code in CHILDREN.items():
            samples[name].append(_run(code, env))
    out: dict[str, Any] = {"runs": runs}
    for name, rows in samples.items():
        out[name] = {
            "init_ms_median": statistics.median(r[0] for r in rows) * 1000,
            "process_wall_ms_median": statistics.median(r[1] for r in rows) * 1000,
            "init_ms_all": [round(r[0] * 1000, 2) for r in rows],
            "built": all(r[2] for r in rows),
        }
    out["ratio"] = out["handler"]["init_ms_median"] / out["boto3"]["init_ms_median"]
    out["process_wall_ratio"] = (
        out["handler"]["process_wall_ms_median"] / out["boto3"]["process_wall_ms_median"]
    )
    return out
