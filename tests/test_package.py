"""The Lambda zip: deterministic, lean, and working in a clean Python 3.12 with only boto3."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "lambda"))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import build_package  # noqa: E402
from support.moto_server import aws_env, boto3_client, in_ci, moto_server  # noqa: E402
from support.tables import create_table  # noqa: E402

MAX_BYTES = 1024 * 1024


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def x86_312(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pkg") / "segment-usage-x86_64-python3.12.zip"
    return build_package.build("x86_64", "python3.12", out=out)


def test_build_is_byte_identical(x86_312: Path, tmp_path: Path) -> None:
    again = build_package.build("x86_64", "python3.12", out=tmp_path / "again.zip")
    assert sha256(again) == sha256(x86_312)


def test_arm64_build_is_byte_identical_and_differs_from_x86(x86_312: Path, tmp_path: Path) -> None:
    first = build_package.build("arm64", "python3.13", out=tmp_path / "a.zip")
    second = build_package.build("arm64", "python3.13", out=tmp_path / "b.zip")
    assert sha256(first) == sha256(second)
    names = zipfile.ZipFile(first).namelist()
    # rpds-py is a compiled wheel: the arm64 build carries the aarch64 extension.
    assert any("rpds" in n and "aarch64" in n for n in names), names
    assert sha256(first) != sha256(x86_312)


def test_contents_are_lean_and_normalised(x86_312: Path) -> None:
    assert x86_312.stat().st_size < MAX_BYTES
    with zipfile.ZipFile(x86_312) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert "segment_usage/handler.py" in names
    assert "segment_usage/__init__.py" in names
    assert any(n.startswith("jsonschema/") for n in names)
    tops = {n.split("/")[0].lower() for n in names}
    for banned in ("boto3", "botocore", "s3transfer", "bin"):
        assert not any(t == banned or t.startswith(f"{banned}-") for t in tops), banned
    pycs = [n for n in names if n.endswith((".pyc", ".pyo"))]
    for name in pycs:  # bytecode only for the runtime's CPython, next to its source
        assert name.endswith(".cpython-312.pyc") and "/__pycache__/" in f"/{name}", name
        source = name.replace("__pycache__/", "").replace(".cpython-312.pyc", ".py")
        assert source in names, name
    if build_package.runtime_python("python3.12") is not None:
        assert "segment_usage/__pycache__/handler.cpython-312.pyc" in names
        assert "jsonschema/__pycache__/validators.cpython-312.pyc" in names
    for name in names:
        top, *rest = name.split("/")
        if top != "segment_usage":  # dependencies' own test suites and benchmarks are dropped
            assert not {"tests", "benchmarks"} & set(rest[:-1]), name
        assert not name.endswith((".dist-info/RECORD", ".dist-info/INSTALLER")), name
        assert not name.endswith(".dist-info/direct_url.json"), name
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert (info.external_attr >> 16) & 0o777 == 0o644, info.filename
        assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename


def test_handler_runs_from_the_zip_in_a_clean_python312(x86_312: Path, tmp_path: Path) -> None:
    interpreter = build_package.runtime_python("python3.12")
    if interpreter is None:
        if in_ci():
            pytest.fail("no Python 3.12 interpreter (pyenv 3.12 or python3.12 on PATH)")
        pytest.skip("no Python 3.12 interpreter")
    # A clean 3.12 virtualenv holding only boto3, as the Lambda runtime has it.
    env_dir = tmp_path / "py312"
    subprocess.run([interpreter, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3"],
        check=True,
    )
    task = tmp_path / "task"  # what Lambda unpacks to /var/task
    with zipfile.ZipFile(x86_312) as zf:
        zf.extractall(task)

    user_id = "user-zip-1"
    message = {
        "type": "track",
        "event": "Report Exported",
        "userId": user_id,
        "anonymousId": "anon-1",
        "messageId": "msg-zip-0001",
        "timestamp": "2026-11-20T09:30:00.000Z",
        "sentAt": "2026-11-20T09:30:00.100Z",
        "receivedAt": "2026-11-20T09:30:00.200Z",
        "originalTimestamp": "2026-11-20T09:29:59.900Z",
        "properties": {"format": "csv"},
        "context": {"library": {"name": "analytics.js", "version": "2.11.1"}},
        "integrations": {},
        "channel": "server",
        "version": 2,
    }
    script = (
        "import json, sys\n"
        "from segment_usage.handler import lambda_handler\n"
        "result = lambda_handler(json.loads(sys.argv[1]), None)\n"
        "print(json.dumps(result, default=str))\n"
        # The handler's client comes from botocore: boto3's import (s3transfer) is cold-start time.
        "assert 'boto3' not in sys.modules, 'the handler imported boto3'\n"
    )
    with moto_server() as url:
        ddb = boto3_client("dynamodb", url)
        table = "segment-usage-zip-test"
        create_table(ddb, table)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(task),
            "PYTHONNOUSERSITE": "1",
            **aws_env(url),
            "SEGMENT_USAGE_TABLE": table,
            "SEGMENT_USAGE_TRACKERS": "all",
        }
        proc = subprocess.run(
            [
                str(python),
                "-I",
                "-c",
                f"import sys; sys.path.insert(0, {str(task)!r}); exec({script!r})",
                json.dumps(message),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        items = ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"U#{user_id}"}},
            ConsistentRead=True,
        )["Items"]
    assert items, f"nothing recorded under U#{user_id}; handler said {proc.stdout} {proc.stderr}"

    # The shipped bytecode is what runs: nothing is compiled from source (as on read-only /var/task).
    verbose = subprocess.run(
        [
            str(python),
            "-I",
            "-v",
            "-c",
            f"import sys; sys.path.insert(0, {str(task)!r}); import segment_usage.handler",
        ],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    loaded = [line for line in verbose.splitlines() if line.startswith("# code object from")]
    assert any("segment_usage/__pycache__/handler.cpython-312.pyc" in line for line in loaded)
    assert any("jsonschema/__pycache__/validators.cpython-312.pyc" in line for line in loaded)
    assert not any(str(task) in line and line.endswith(".py'") for line in loaded), loaded
