"""The shipped artifacts: rebuilt from source byte for byte, lean, and failing loudly when the
toolchain is not the documented one; and the bring-your-own bundle, run as Lambda would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support import lambda_runtime
from support.moto_server import aws_env
from support.segment_messages import track
from support.terraform import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "lambda"))
import build_package

ARTIFACTS = build_package.ARTIFACTS
LIMIT_BYTES = 1_000_000  # the "1 MB", read strictly
LAMBDA_ZIP_LIMIT_BYTES = 50 * 1024 * 1024  # a zip uploaded directly to Lambda


def test_committed_artifacts_match_a_rebuild_from_source(tmp_path: Path) -> None:
    """A stale artifact can never land: any change under lambda/ needs `make package`."""
    build_package.build_all(tmp_path)
    assert build_package.differences(tmp_path, ARTIFACTS) == [], (
        "run `make package` and commit modules/segment-usage/artifacts/"
    )


def test_manifest_describes_the_committed_files() -> None:
    manifest = json.loads((ARTIFACTS / "manifest.json").read_text())
    assert sorted(manifest["artifacts"]) == sorted(build_package.shipped_artifacts())
    for name, entry in manifest["artifacts"].items():
        path = ARTIFACTS / name
        assert entry["bytes"] == path.stat().st_size, name
        assert entry["sha256"] == build_package.sha256_of(path), name
    assert manifest["dependencies"] == build_package.locked_versions()
    assert sorted(p.name for p in ARTIFACTS.iterdir()) == sorted(
        [*build_package.shipped_artifacts(), "manifest.json"]
    ), "nothing else may sit in the artifacts directory"


def _entries(name: str) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(ARTIFACTS / name) as zf:
        return zf.infolist()


@pytest.mark.parametrize("name", build_package.shipped_artifacts())
def test_every_artifact_is_small_and_normalised(name: str) -> None:
    assert (ARTIFACTS / name).stat().st_size <= LIMIT_BYTES
    infos = _entries(name)
    names = [i.filename for i in infos]
    assert names == sorted(names)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert (info.external_attr >> 16) & 0o777 == 0o644, info.filename
    tops = {n.split("/")[0].lower() for n in names}
    for banned in ("boto3", "botocore", "s3transfer", "bin"):
        assert not any(t == banned or t.startswith(f"{banned}-") for t in tops), banned
    for n in names:
        assert not n.endswith((".dist-info/RECORD", ".dist-info/INSTALLER", "direct_url.json")), n
        parts = n.split("/")
        if "segment_usage" not in parts:  # dependencies' own test suites and benchmarks are dropped
            assert not {"tests", "benchmarks"} & set(parts[:-1]), n


def test_handler_artifact_is_pure_python_for_both_runtimes() -> None:
    infos = _entries("handler.zip")
    # Deflated: stored, the package by flow passed the 1 MB budget (lambda/build_package.py).
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    names = {i.filename for i in infos}
    assert all(n.startswith("segment_usage/") for n in names), names
    sources = {n for n in names if n.endswith(".py")}
    assert "segment_usage/handler.py" in sources and any(n.endswith(".json") for n in names)
    for source in sources:
        folder, module = source.rsplit("/", 1)
        for tag in ("cpython-312", "cpython-313"):
            assert f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc" in names, (source, tag)
    assert not any(n.endswith(".so") for n in names), "the handler must stay architecture-free"


@pytest.mark.parametrize("arch", sorted(build_package.PLATFORMS))
@pytest.mark.parametrize("runtime", sorted(build_package.RUNTIMES))
def test_dependency_layer_targets_one_arch_and_runtime(arch: str, runtime: str) -> None:
    infos = _entries(build_package.dependencies_artifact(arch, runtime))
    names = [i.filename for i in infos]
    assert all(n.startswith("python/") for n in names), "a Python layer lives under python/"
    assert any(n.startswith("python/jsonschema/") for n in names)
    assert not any(n.startswith("python/segment_usage/") for n in names)
    tag = "cpython-" + build_package.RUNTIMES[runtime].replace(".", "")
    pycs = [n for n in names if n.endswith(".pyc")]
    assert pycs and all(n.endswith(f".{tag}.pyc") for n in pycs), runtime
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[arch]
    (native,) = [n for n in names if n.endswith(".so")]
    assert re.search(rf"\.{tag}-{machine}-linux-gnu\.so$", native), native


def test_a_missing_compiler_stops_the_build_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))  # no pyenv versions
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.13 on PATH
    monkeypatch.delenv("SEGMENT_USAGE_PYTHON313", raising=False)
    with pytest.raises(build_package.BuildError, match=r"CPython 3\.13\.0 is required.*pyenv"):
        build_package.compiler_for("python3.13")


def test_a_different_patch_release_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    other = build_package.runtime_python("python3.12")
    if other is None:
        pytest.fail("no python3.12 interpreter to play the wrong compiler")
    monkeypatch.setenv("SEGMENT_USAGE_PYTHON313", other)
    with pytest.raises(build_package.BuildError, match=r"is CPython 3\.12\.\d+, but .* 3\.13\.0"):
        build_package.compiler_for("python3.13")


def test_a_wheel_that_does_not_match_the_lock_stops_the_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lock = tmp_path / "requirements.lock"
    text = build_package.LOCK.read_text()
    digest = re.search(r"jsonschema==\S+ \\\n    --hash=sha256:([0-9a-f]{64})", text)
    assert digest, "the lock pins jsonschema with a hash"
    lock.write_text(text.replace(digest.group(1), "0" * 64))
    monkeypatch.setattr(build_package, "LOCK", lock)
    with pytest.raises(build_package.BuildError, match="pip download of the locked wheels"):
        build_package.download_wheels("x86_64", "python3.13", tmp_path / "wheels")


def test_target_options_without_bundle_are_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "lambda" / "build_package.py"), "--arch", "x86_64"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "go with --bundle" in proc.stderr


def test_readme_lists_each_shipped_artifact_with_its_size_and_sha256() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    manifest = json.loads((ARTIFACTS / "manifest.json").read_text())
    for name, entry in manifest["artifacts"].items():
        row = f"| `{name}` | {entry['bytes']:,} | `{entry['sha256']}` |"
        assert row in readme, f"README: no row {row}"


def test_own_bundle_runs_in_a_clean_python312(dynamodb: object, table: str, moto_url: str,
                                              tmp_path: Path) -> None:  # fmt: skip
    """Bring your own build: one zip, no layer, on CPython 3.12 with only boto3."""
    lambda_runtime.require_runtime("python3.12")
    bundle = build_package.build("x86_64", "python3.12", out=tmp_path / "bundle.zip")
    # Not shipped (the 1 MB goal is for the module's artifacts): Lambda's own limit applies.
    assert bundle.stat().st_size <= LAMBDA_ZIP_LIMIT_BYTES
    task = lambda_runtime.unpack(bundle, tmp_path / "task")
    opt = tmp_path / "opt"  # no layer
    opt.mkdir()
    python = lambda_runtime.boto3_only_venv("python3.12", tmp_path / "py312")
    env = {**aws_env(moto_url), "SEGMENT_USAGE_TABLE": table, "SEGMENT_USAGE_TRACKERS": "all"}
    message = track("Report Exported", {"format": "csv"}, user_id="bundle-user")
    responses, logs = lambda_runtime.invoke(python, task, opt, env, [message, message])
    assert [r["status"] for r in responses] == ["accepted", "duplicate"], logs
    loaded = lambda_runtime.modules_loaded_from_bytecode(python, task, opt)
    assert any("segment_usage/__pycache__/handler.cpython-312.pyc" in line for line in loaded)
    assert not any(line.endswith(".py'") and str(task) in line for line in loaded), loaded
    shutil.rmtree(task)
