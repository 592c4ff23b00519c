#!/usr/bin/env python3
"""Build the Lambda artifacts, byte for byte the same on any machine with the documented toolchain.

    python lambda/build_package.py                  # every shipped artifact (make package)
    python lambda/build_package.py --check          # rebuild in a temp dir, compare with committed
    python lambda/build_package.py --bundle --arch arm64 --runtime python3.13 --out my.zip
                                                    # one self-contained zip: bring your own build

Shipped artifacts (modules/segment-usage/artifacts/, committed, read by the Terraform module):
- ``handler.zip``: the pure-Python ``segment_usage`` package for every target (it has no native
  code), with bytecode for both runtimes' CPython. Deflated: stored uncompressed it passed the
  1 MB budget (1.09 MB) once the package grew by flow; deflate costs git ~18 KiB per change
  instead of ~2 KiB, measured when this was stored.
- ``dependencies-<arch>-<runtime>.zip``: a Lambda layer (``python/``) with the locked runtime
  dependencies (jsonschema and what it needs; rpds-py is native code, hence one per arch and
  runtime). It changes only when lambda/requirements.lock does.
- ``manifest.json``: size and sha256 of each, the toolchain and the locked versions.

Reproducibility: wheels come from ``pip download --require-hashes`` of lambda/requirements.lock and
are unpacked by this script (no pip install step); entries are sorted, timestamps and permissions
fixed; bytecode is compiled by the exact CPython versions in ``COMPILERS`` as unchecked-hash .pyc
(Lambda's /var/task and /opt are read-only, so without them every cold start compiles from
source). A missing or different interpreter stops the build with a message naming it: it never
builds different bytes quietly.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

LAMBDA_DIR = Path(__file__).resolve().parent
REPO_ROOT = LAMBDA_DIR.parent
LOCK = LAMBDA_DIR / "requirements.lock"
ARTIFACTS = REPO_ROOT / "modules" / "segment-usage" / "artifacts"
README = REPO_ROOT / "README.md"
README_BLOCK = ("<!-- BEGIN_ARTIFACTS -->", "<!-- END_ARTIFACTS -->")
PACKAGE = "segment_usage"
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
RUNTIMES = {"python3.12": "3.12", "python3.13": "3.13"}
# The exact CPython that byte-compiles each runtime's .pyc: bytes may differ between patch releases.
# Any 3.12.x / 3.13.x Lambda runtime loads them (same magic number within a minor version).
COMPILERS = {"python3.12": "3.12.1", "python3.13": "3.13.0"}
# Provided by the Lambda runtime: never bundled, even if a dependency pulls them in.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
COMPRESS_LEVEL = 9
DIST_INFO_DROP = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
# Test suites and benchmarks that dependencies ship (~40% of jsonschema): never imported.
DEPENDENCY_DIRS_DROP = {"tests", "benchmarks"}
TASK_ROOT = "/var/task"  # where Lambda unpacks the function's zip
LAYER_ROOT = "/opt"  # where Lambda unpacks layers; Python ones under /opt/python


class BuildError(RuntimeError):
    """Something the build needs is missing or different; the message names it."""


def handler_artifact() -> str:
    return "handler.zip"


def dependencies_artifact(arch: str, runtime: str) -> str:
    return f"dependencies-{arch}-{runtime}.zip"


def shipped_artifacts() -> list[str]:
    names = [handler_artifact()]
    names += [dependencies_artifact(a, r) for a in sorted(PLATFORMS) for r in sorted(RUNTIMES)]
    return names


# -- toolchain ---------------------------------------------------------------------------------
def _version_of(python: str) -> str | None:
    proc = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def runtime_python(runtime: str) -> str | None:
    """The interpreter that compiles for ``runtime``: $SEGMENT_USAGE_PYTHON312/313, else the pyenv
    version named in COMPILERS, else python3.X on PATH. None if none of them exists and works."""
    explicit = os.environ.get("SEGMENT_USAGE_PYTHON" + RUNTIMES[runtime].replace(".", ""))
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [explicit] if explicit else []
    candidates += glob.glob(f"{root}/versions/{COMPILERS[runtime]}/bin/python{RUNTIMES[runtime]}")
    candidates += [shutil.which(f"python{RUNTIMES[runtime]}") or ""]
    for candidate in filter(None, candidates):
        if _version_of(candidate) is not None:
            return candidate
    return None


def compiler_for(runtime: str) -> str:
    """The interpreter for ``runtime``, checked to be exactly COMPILERS[runtime], or BuildError."""
    wanted = COMPILERS[runtime]
    python = runtime_python(runtime)
    if python is None:
        raise BuildError(
            f"CPython {wanted} is required to byte-compile the {runtime} artifacts and was not "
            f"found (pyenv {wanted}, python{RUNTIMES[runtime]} on PATH, or "
            f"SEGMENT_USAGE_PYTHON{RUNTIMES[runtime].replace('.', '')}): `pyenv install {wanted}`"
        )
    found = _version_of(python)
    if found != wanted:
        raise BuildError(
            f"{python} is CPython {found}, but the {runtime} artifacts are compiled with exactly "
            f"{wanted} (bytecode may differ between patch releases): `pyenv install {wanted}`, "
            f"or point SEGMENT_USAGE_PYTHON{RUNTIMES[runtime].replace('.', '')} at one"
        )
    return python


def locked_versions() -> dict[str, str]:
    if not LOCK.is_file():
        raise BuildError(f"{LOCK.relative_to(REPO_ROOT)} is missing: run `make lock`")
    versions = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            versions[name.strip()] = rest.split()[0]
    return versions


# -- dependencies ------------------------------------------------------------------------------
def download_wheels(arch: str, runtime: str, dest: Path) -> list[Path]:
    """The locked wheels for one target, each checked against the lock's sha256."""
    locked_versions()  # names the lock if it is missing
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--require-hashes", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
        "--platform", PLATFORMS[arch], "--python-version", RUNTIMES[runtime],
        "--implementation", "cp", "--requirement", str(LOCK),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(
            f"pip download of the locked wheels for {arch}/{runtime} failed:\n{proc.stderr}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != len(locked_versions()):
        raise BuildError(
            f"expected {len(locked_versions())} wheels for {arch}/{runtime}, got {wheels}"
        )
    return wheels


def _distribution_of(top: str) -> str:
    name = top.split("-")[0] if top.endswith((".dist-info", ".data")) else top
    return name.lower().replace("_", "-").removesuffix(".py")


def unpack_wheel(wheel: Path, target: Path) -> None:
    """Install a wheel the simple way: its files, minus RECORD, scripts and dependency tests."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if info.is_dir() or not parts:
                continue
            if parts[0].endswith(".data"):  # purelib/platlib go to the root; scripts are dropped
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            top = parts[0]
            if _distribution_of(top) in RUNTIME_PROVIDED:
                continue
            if top.endswith(".dist-info") and parts[-1] in DIST_INFO_DROP:
                continue
            if DEPENDENCY_DIRS_DROP.intersection(parts[1:-1]):
                continue
            out = target.joinpath(*parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(info))


def install_dependencies(arch: str, runtime: str, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="segment-usage-wheels-") as tmp:
        for wheel in download_wheels(arch, runtime, Path(tmp)):
            unpack_wheel(wheel, target)


# -- the package and bytecode ------------------------------------------------------------------
def copy_package(source: Path, target: Path) -> None:
    src = source / PACKAGE
    if not (src / "__init__.py").is_file():
        raise BuildError(f"{src} is not a Python package")
    shutil.copytree(
        src,
        target / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".*"),
    )


def compile_bytecode(tree: Path, runtime: str, strip: Path, prefix: str) -> None:
    """Unchecked-hash .pyc beside every module of ``tree``; tracebacks name ``prefix`` + path."""
    cmd = [
        compiler_for(runtime), "-m", "compileall", "-q",
        "--invalidation-mode", "unchecked-hash",  # valid whatever mtime Lambda gives the files
        "-s", str(strip), "-p", prefix, str(tree),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})


def write_zip(tree: Path, out: Path, stored: bool = False) -> Path:
    files = sorted(
        (p for p in tree.rglob("*") if p.is_file()), key=lambda p: p.relative_to(tree).as_posix()
    )
    compression = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), date_time=ZIP_DATE)
            info.compress_type = compression
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (0o100000 | FILE_MODE) << 16
            level = None if stored else COMPRESS_LEVEL
            zf.writestr(info, path.read_bytes(), compress_type=compression, compresslevel=level)
    tmp.replace(out)
    return out


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- artifacts ---------------------------------------------------------------------------------
def build_handler(out: Path, source: Path = LAMBDA_DIR) -> Path:
    with tempfile.TemporaryDirectory(prefix="segment-usage-handler-") as tmp:
        tree = Path(tmp)
        copy_package(source, tree)
        for runtime in sorted(RUNTIMES):
            compile_bytecode(tree / PACKAGE, runtime, tree, TASK_ROOT)
        return write_zip(tree, out)


def build_dependencies(arch: str, runtime: str, out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="segment-usage-layer-") as tmp:
        tree = Path(tmp)
        install_dependencies(arch, runtime, tree / "python")
        compile_bytecode(tree / "python", runtime, tree, LAYER_ROOT)
        return write_zip(tree, out)


def build(arch: str, runtime: str, out: Path | None = None, source: Path | None = None) -> Path:
    """One self-contained zip (package + dependencies at the root) for one arch and runtime:
    what a user deploys with ``lambda.package_path`` or ``lambda.package_s3``."""
    out = Path(out or REPO_ROOT / "dist" / f"segment-usage-{arch}-{runtime}.zip")
    with tempfile.TemporaryDirectory(prefix="segment-usage-bundle-") as tmp:
        tree = Path(tmp)
        install_dependencies(arch, runtime, tree)
        copy_package(Path(source or LAMBDA_DIR), tree)
        compile_bytecode(tree, runtime, tree, TASK_ROOT)
        return write_zip(tree, out)


def build_all(directory: Path, source: Path = LAMBDA_DIR) -> dict[str, dict[str, object]]:
    """Every shipped artifact into ``directory``, plus manifest.json; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, dict[str, object]] = {}
    path = build_handler(directory / handler_artifact(), source)
    artifacts[path.name] = {"kind": "handler", "runtimes": sorted(RUNTIMES)}
    for arch in sorted(PLATFORMS):
        for runtime in sorted(RUNTIMES):
            path = build_dependencies(
                arch, runtime, directory / dependencies_artifact(arch, runtime)
            )
            artifacts[path.name] = {"kind": "dependencies", "arch": arch, "runtime": runtime}
    for name, entry in artifacts.items():
        entry.update(bytes=(directory / name).stat().st_size, sha256=sha256_of(directory / name))
    manifest = {
        "artifacts": artifacts,
        "dependencies": locked_versions(),
        "toolchain": {f"cpython ({runtime})": version for runtime, version in COMPILERS.items()},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def readme_table(manifest: dict[str, Any]) -> str:
    rows = ["| Artifact | Bytes | sha256 |", "|---|---:|---|"]
    for name, entry in sorted(manifest["artifacts"].items()):
        rows.append(f"| `{name}` | {entry['bytes']:,} | `{entry['sha256']}` |")
    return "\n".join(rows)


def update_readme(manifest: dict[str, Any]) -> None:
    """Rewrite the artifact table between the README's markers (make package keeps it current)."""
    begin, end = README_BLOCK
    text = README.read_text()
    if begin not in text or end not in text:
        raise BuildError(f"README.md has no {begin} ... {end} block for the artifact table")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{begin}\n{readme_table(manifest)}\n{end}{tail}")


def differences(built: Path, committed: Path) -> list[str]:
    """Files of the shipped set that differ between two artifact directories."""
    problems = []
    for name in [*shipped_artifacts(), "manifest.json"]:
        a, b = built / name, committed / name
        if not b.is_file():
            problems.append(f"{name}: not committed under {committed}")
        elif a.read_bytes() != b.read_bytes():
            problems.append(
                f"{name}: committed sha256 {sha256_of(b)[:12]} != rebuilt {sha256_of(a)[:12]}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="rebuild and compare with the committed artifacts"
    )
    parser.add_argument(
        "--bundle", action="store_true", help="build one self-contained zip instead"
    )
    parser.add_argument("--arch", choices=sorted(PLATFORMS), help="--bundle: default arm64")
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), help="--bundle: default python3.13")
    parser.add_argument(
        "--out",
        type=Path,
        help="--bundle: zip to write (default dist/segment-usage-<arch>-<runtime>.zip)",
    )
    args = parser.parse_args(argv)
    if not args.bundle and (args.arch or args.runtime or args.out):
        parser.error(
            "--arch, --runtime and --out go with --bundle (the shipped set covers every target)"
        )
    try:
        if args.bundle:
            out = build(args.arch or "arm64", args.runtime or "python3.13", args.out)
            print(f"{out}\t{out.stat().st_size} bytes\tsha256 {sha256_of(out)}")
            return 0
        if args.check:
            with tempfile.TemporaryDirectory(prefix="segment-usage-check-") as tmp:
                build_all(Path(tmp))
                problems = differences(Path(tmp), ARTIFACTS)
            for problem in problems:
                print(f"stale: {problem}", file=sys.stderr)
            if problems:
                print(
                    "run `make package` and commit modules/segment-usage/artifacts/",
                    file=sys.stderr,
                )
                return 1
            print("artifacts match the source byte for byte")
            return 0
        manifest = build_all(ARTIFACTS)
        update_readme(manifest)
    except BuildError as error:
        print(f"build_package: {error}", file=sys.stderr)
        return 2
    for name, entry in manifest["artifacts"].items():
        where = ARTIFACTS.relative_to(REPO_ROOT) / name
        print(f"{where}\t{entry['bytes']} bytes\tsha256 {entry['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
