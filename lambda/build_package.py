#!/usr/bin/env python3
"""Build the Lambda deployment zip, byte for byte the same on every run.

    python lambda/build_package.py --arch arm64 --runtime python3.13
    -> dist/segment-usage-arm64-python3.13.zip

The runtime dependencies of pyproject.toml ([project].dependencies) are installed for the target
platform with pip (--platform, --only-binary=:all:, --python-version, --implementation cp,
--no-compile), the segment_usage package is copied next to them, and everything is zipped with
sorted entries, a fixed timestamp, fixed permissions and a fixed compression level. boto3 and
botocore come with the Lambda runtime and are never bundled.

Every module is also byte-compiled by the runtime's own CPython (python3.12 / python3.13 from
pyenv or PATH) into unchecked-hash .pyc files: /var/task is read-only, so without them every cold
start compiles jsonschema and its dependencies from source again. If that interpreter is missing,
the zip is built without .pyc files and a warning says so (`--no-compile` does that on purpose).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "segment_usage"
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
RUNTIMES = {"python3.12": "3.12", "python3.13": "3.13"}
# Provided by the Lambda runtime: dropped if a dependency ever pulls them in (with a note).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
COMPRESS_LEVEL = 9
DIST_INFO_DROP = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
# Test suites and benchmarks that dependencies ship (~40% of jsonschema): never imported.
DEPENDENCY_DIRS_DROP = {"tests", "benchmarks"}
# Where Lambda unpacks the zip: the path compiled code objects name in tracebacks.
TASK_ROOT = "/var/task"


def runtime_dependencies(pyproject: Path) -> list[str]:
    with pyproject.open("rb") as fh:
        return list(tomllib.load(fh)["project"].get("dependencies", []))


def pip_install(requirements: list[str], target: Path, arch: str, runtime: str) -> None:
    if not requirements:
        return
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--platform",
        PLATFORMS[arch],
        "--only-binary=:all:",
        "--python-version",
        RUNTIMES[runtime],
        "--implementation",
        "cp",
        "--no-compile",
        "--no-warn-script-location",
        *requirements,
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(cmd, check=True, env=env)


def distribution_of(top: str) -> str:
    """The normalised distribution or package name a top-level zip entry belongs to."""
    name = top.split("-")[0] if top.endswith((".dist-info", ".data")) else top
    return name.lower().replace("_", "-").removesuffix(".py")


def runtime_python(runtime: str) -> str | None:
    """The CPython of the Lambda runtime: the newest pyenv 3.X, else a working python3.X on PATH."""
    version = RUNTIMES[runtime]
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(
        glob.glob(f"{root}/versions/{version}.*/bin/python{version}"),
        key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()],
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(f"python{version}")
    # A pyenv shim exists even when that version is not selected, and then fails: try it first.
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    return None


def compile_bytecode(staging: Path, runtime: str) -> bool:
    """Byte-compile staging with the runtime's CPython; False (with a warning) if it is missing."""
    python = runtime_python(runtime)
    if python is None:
        print(
            f"warning: no python{RUNTIMES[runtime]} found (PATH or pyenv): building without .pyc "
            "files, so cold starts compile the dependencies from source",
            file=sys.stderr,
        )
        return False
    cmd = [
        python,
        "-m",
        "compileall",
        "-q",
        "--invalidation-mode",
        "unchecked-hash",  # valid whatever mtime Lambda gives the unpacked files
        "-s",
        str(staging),
        "-p",
        TASK_ROOT,
        str(staging),
    ]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return True


def is_compiled_for(rel: Path, runtime: str) -> bool:
    tag = "cpython-" + RUNTIMES[runtime].replace(".", "")
    return rel.parent.name == "__pycache__" and rel.name.endswith(f".{tag}.pyc")


def is_excluded(rel: Path, runtime: str) -> bool:
    parts = rel.parts
    if parts[0] != PACKAGE and DEPENDENCY_DIRS_DROP.intersection(parts[1:-1]):
        return True
    if is_compiled_for(rel, runtime):
        return False
    if parts[0] == "bin" or "__pycache__" in parts or rel.suffix in (".pyc", ".pyo"):
        return True
    if parts[0].endswith(".dist-info") and len(parts) == 2 and parts[1] in DIST_INFO_DROP:
        return True
    return distribution_of(parts[0]) in RUNTIME_PROVIDED


def drop_runtime_provided(staging: Path) -> None:
    for entry in sorted(staging.iterdir()):
        if distribution_of(entry.name) in RUNTIME_PROVIDED:
            print(f"dropping {entry.name}: the Lambda runtime provides it", file=sys.stderr)
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def copy_package(source: Path, staging: Path) -> None:
    src = source / PACKAGE
    if not (src / "__init__.py").is_file():
        raise SystemExit(f"{src} is not a Python package")
    shutil.copytree(
        src,
        staging / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".*"),
    )


def write_zip(staging: Path, out: Path, runtime: str) -> None:
    files = sorted(
        (p for p in staging.rglob("*") if p.is_file()),
        key=lambda p: p.relative_to(staging).as_posix(),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(
        tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as zf:
        for path in files:
            rel = path.relative_to(staging)
            if is_excluded(rel, runtime):
                continue
            info = zipfile.ZipInfo(rel.as_posix(), date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (0o100000 | FILE_MODE) << 16
            zf.writestr(
                info,
                path.read_bytes(),
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=COMPRESS_LEVEL,
            )
    tmp.replace(out)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build(
    arch: str,
    runtime: str,
    out: Path | None = None,
    source: Path | None = None,
    compile_pyc: bool = True,
) -> Path:
    """Build the zip and return its path."""
    source = Path(source or REPO_ROOT / "lambda")
    out = Path(out or REPO_ROOT / "dist" / f"segment-usage-{arch}-{runtime}.zip")
    with tempfile.TemporaryDirectory(prefix="segment-usage-build-") as tmp:
        staging = Path(tmp) / "package"
        staging.mkdir()
        pip_install(runtime_dependencies(REPO_ROOT / "pyproject.toml"), staging, arch, runtime)
        drop_runtime_provided(staging)
        copy_package(source, staging)
        if compile_pyc:
            compile_bytecode(staging, runtime)
        write_zip(staging, out, runtime)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default="python3.13")
    parser.add_argument(
        "--out", type=Path, help="zip to write (default dist/segment-usage-<arch>-<runtime>.zip)"
    )
    parser.add_argument(
        "--source", type=Path, help="directory holding the segment_usage package (default lambda/)"
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="ship sources only, without .pyc files"
    )
    args = parser.parse_args(argv)
    out = build(args.arch, args.runtime, args.out, args.source, compile_pyc=not args.no_compile)
    print(f"{out}\t{out.stat().st_size} bytes\tsha256 {sha256_of(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
