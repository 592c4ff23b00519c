"""The ``segment-usage`` command run in-process, as an operator runs it."""

from __future__ import annotations

import io
import json
from typing import Any

from segment_usage.cli import main


def run_json(*argv: str) -> tuple[int, Any]:
    """(exit code, parsed ``--json`` output) of one command."""
    out = io.StringIO()
    code = main([*argv, "--json"], out)
    return code, json.loads(out.getvalue())
