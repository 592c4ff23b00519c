"""Run Terraform offline: provider from a filesystem mirror (no plugin cache), isolated workdirs.

Terraform itself is driven through tftest (init, apply, plan as JSON, outputs, destroy); this module
adds what tftest leaves to its caller: finding the provider mirror, a mirror-only CLI config, and
a throwaway copy of each example with the repository's layout.

Reused by the Terraform tests, the end-to-end test and ``examples/local/demo.py`` (with ``tests/``
on ``sys.path``, as pytest's rootdir conftest puts it):

    from support.terraform import Workspace
    with Workspace.copy_of("examples/local") as ws:
        ws.init()
        ws.apply({"aws_endpoint": url, "lambda_package_path": str(zip_path)})
        outputs = ws.outputs()
        ws.destroy({...})

Nothing here hard-codes a machine path: the provider mirror comes from ``TF_PROVIDER_MIRROR`` or a
bounded search of the usual plugin locations.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tftest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Everything Terraform writes on our behalf lives under .tf/ (gitignored): the CLI config.
TF_HOME = Path(os.environ.get("SEGMENT_USAGE_TF_HOME", REPO_ROOT / ".tf"))
PROVIDER_SOURCE = Path("registry.terraform.io") / "hashicorp" / "aws"
MIRROR_ENV = "TF_PROVIDER_MIRROR"
# Where terraform-provider-aws mirrors usually live; searched a few levels deep, in this order.
MIRROR_SEARCH_ROOTS = (
    "/opt",
    "/usr/share",
    "/usr/local/share",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)
MIRROR_SEARCH_DEPTH = 3


class TerraformError(RuntimeError):
    """A terraform command failed; ``output`` holds its stdout and stderr."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(f"{message}\n{output}" if output else message)
        self.output = output


def terraform_binary() -> str | None:
    """The terraform executable on PATH (or ``TERRAFORM_BIN``), or None."""
    explicit = os.environ.get("TERRAFORM_BIN")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("terraform")


def _is_mirror(path: Path) -> bool:
    return (path / PROVIDER_SOURCE).is_dir()


def find_provider_mirror() -> Path:
    """The filesystem mirror that holds hashicorp/aws.

    ``TF_PROVIDER_MIRROR`` wins (and must be a mirror); otherwise a breadth-first search at most
    ``MIRROR_SEARCH_DEPTH`` levels below each of ``MIRROR_SEARCH_ROOTS``.
    """
    explicit = os.environ.get(MIRROR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_mirror(path):
            raise TerraformError(f"{MIRROR_ENV}={explicit} does not contain {PROVIDER_SOURCE}/")
        return path
    for root in MIRROR_SEARCH_ROOTS:
        start = Path(root).expanduser()
        if not start.is_dir():
            continue
        level = [start]
        for _ in range(MIRROR_SEARCH_DEPTH + 1):
            nxt: list[Path] = []
            for directory in level:
                if _is_mirror(directory):
                    return directory
                try:
                    nxt.extend(
                        p for p in sorted(directory.iterdir()) if p.is_dir() and not p.is_symlink()
                    )
                except OSError:
                    continue
            level = nxt
    raise TerraformError(
        "no filesystem mirror holding registry.terraform.io/hashicorp/aws was found; "
        f"set {MIRROR_ENV} to the directory that contains registry.terraform.io/"
    )


def write_cli_config(directory: Path | None = None, mirror: Path | None = None) -> Path:
    """Write a CLI config that installs every provider from the mirror only; return its path."""
    directory = Path(directory or TF_HOME)
    directory.mkdir(parents=True, exist_ok=True)
    mirror = Path(mirror or find_provider_mirror()).resolve()
    config = directory / "terraformrc"
    text = (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )
    if not config.exists() or config.read_text() != text:
        # A name of this process's own: parallel workers writing the same config on a fresh clone
        # must not replace each other's temporary file (FileNotFoundError on the second replace).
        tmp = config.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text)
        tmp.replace(config)
    return config


def terraform_env(
    base: Mapping[str, str] | None = None, home: Path | None = None
) -> dict[str, str]:
    """Environment for a terraform subprocess: a mirror-only CLI config, and no plugin cache.

    From an unpacked filesystem mirror, ``terraform init`` links each working directory's provider
    straight to the mirror (about 1 s, nothing copied). A shared TF_PLUGIN_CACHE_DIR only adds an
    entry that every init without a lock file rewrites: a test applying in another worker then
    found its provider directory missing ("could not read package directory").
    """
    home = Path(home or TF_HOME)
    env = dict(os.environ if base is None else base)
    env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(home))
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def run_terraform(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``terraform <args>`` in ``cwd``; raise TerraformError unless the exit code is allowed."""
    binary = terraform_binary()
    if binary is None:
        raise TerraformError("terraform is not on PATH")
    proc = subprocess.run(
        [binary, *args],
        cwd=cwd,
        env=dict(env) if env is not None else terraform_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode not in ok_codes:
        raise TerraformError(
            f"terraform {' '.join(args)} exited {proc.returncode} in {cwd}",
            proc.stdout + proc.stderr,
        )
    return proc


def _tf_vars(variables: Mapping[str, Any] | None) -> dict[str, str]:
    """-var values as Terraform reads them: strings as they are, everything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in (variables or {}).items()}


@dataclass
class Workspace:
    """One Terraform root module in its own working directory.

    ``copy_of`` copies ``modules/`` and the example into a fresh directory with the repository's
    layout, so relative ``source = "../../modules/..."`` paths still resolve and no state, lock
    file or ``.terraform/`` ever lands in the work tree.
    """

    root: Path
    env: dict[str, str] = field(default_factory=terraform_env)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def copy_of(
        cls, example: str | Path, workdir: Path | None = None, env: dict[str, str] | None = None
    ) -> Workspace:
        example = Path(example)
        if not example.is_absolute():
            example = REPO_ROOT / example
        rel = example.resolve().relative_to(REPO_ROOT)
        tmp = None
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="segment-usage-tf-")
            workdir = Path(tmp.name)
        ignore = shutil.ignore_patterns(
            ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "*.tfplan", "__pycache__"
        )
        modules = workdir / "modules"
        shutil.copytree(REPO_ROOT / "modules", modules, ignore=ignore, dirs_exist_ok=True)
        shutil.copytree(example, workdir / rel, ignore=ignore, dirs_exist_ok=True)
        return cls(root=workdir / rel, env=env or terraform_env(), _tmp=tmp)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        return run_terraform(list(args), self.root, self.env, ok_codes)

    @property
    def tf(self) -> tftest.TerraformTest:
        return tftest.TerraformTest(
            str(self.root), binary=terraform_binary() or "terraform", env=self.env
        )

    def init(self) -> str:
        # Each working directory links the provider from the mirror itself: inits run in parallel.
        return self.tf.init(backend=False)

    def validate(self) -> dict[str, Any]:
        proc = self.run("validate", "-json", "-no-color", ok_codes=(0, 1))
        return json.loads(proc.stdout)

    def apply(self, variables: Mapping[str, Any] | None = None) -> str:
        return self.tf.apply(tf_vars=_tf_vars(variables))

    def plan(self, variables: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The resource changes a plan proposes, other than no-op and read (empty: up to date)."""
        plan = self.tf.plan(tf_vars=_tf_vars(variables), output=True)
        return [
            rc
            for rc in plan.get("resource_changes", [])
            if set(rc["change"]["actions"]) - {"no-op", "read"}
        ]

    def destroy(self, variables: Mapping[str, Any] | None = None) -> str:
        return self.tf.destroy(tf_vars=_tf_vars(variables))

    def outputs(self) -> dict[str, Any]:
        values = self.tf.output()
        return {key: values[key] for key in values}


@contextmanager
def applied(
    example: str | Path, variables: Mapping[str, Any], workdir: Path | None = None
) -> Iterator[tuple[Workspace, dict[str, Any]]]:
    """Init and apply ``example``, yield (workspace, outputs), destroy on the way out."""
    with Workspace.copy_of(example, workdir=workdir) as ws:
        ws.init()
        ws.apply(variables)
        try:
            yield ws, ws.outputs()
        finally:
            ws.destroy(variables)
