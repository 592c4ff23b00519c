"""``make release`` (tools/release.py): ready only when every place agrees on the version.

Each case copies the files the script reads, as they are in this work tree, into a fresh git
repository, makes it ready (the Unreleased notes dated as the release), breaks one thing and runs
the script as ``make release`` does: it must exit 1 and name what is wrong and where, or, with
nothing broken, exit 0 and print the tag command without running it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "tools" / "release.py"
sys.path.insert(0, str(SCRIPT.parent))
import release  # noqa: E402

FILES = [
    "modules/segment-usage/VERSION",
    "modules/segment-usage/README.md",
    "pyproject.toml",
    "lambda/segment_usage/__init__.py",
    "CHANGELOG.md",
    "docs/upgrading.md",
    "README.md",
    *(str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob("examples/*/README.md")),
]
VERSION = (REPO_ROOT / "modules/segment-usage/VERSION").read_text().strip()
TODAY = "2026-12-01"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def dated(changelog: str) -> str:
    """The changelog as a release commit has it: the Unreleased notes under ## [VERSION] - date."""
    if VERSION in release.changelog_sections(changelog):
        return changelog
    return changelog.replace("## [Unreleased]", f"## [Unreleased]\n\n## [{VERSION}] - {TODAY}", 1)


def edit(path: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        file = root / path
        file.write_text(change(file.read_text()))

    return apply


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "change")


@pytest.fixture
def ready(tmp_path: Path) -> Path:
    """A git repository holding this tree's release files, ready to release VERSION."""
    root = tmp_path / "repo"
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    edit("CHANGELOG.md", dated)(root)
    git(root, "init", "-q")
    commit_all(root)
    return root


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root), "--today", TODAY],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_ready_tree_prints_the_tag_to_push_and_pushes_nothing(ready: Path) -> None:
    proc = run(ready)
    assert proc.returncode == 0, proc.stderr
    command = f'git tag -a v{VERSION} -m "segment-usage {VERSION}" && git push origin v{VERSION}'
    assert command in proc.stdout
    assert git(ready, "tag", "--list") == ""  # nothing tagged


BROKEN = {
    "no changelog section": (
        edit("CHANGELOG.md", lambda t: t.replace(f"## [{VERSION}] - {TODAY}", "")),
        f"CHANGELOG.md: no section ## [{VERSION}] - YYYY-MM-DD",
    ),
    "changelog section without a date": (
        edit("CHANGELOG.md", lambda t: t.replace(f"## [{VERSION}] - {TODAY}", f"## [{VERSION}]")),
        f"CHANGELOG.md: ## [{VERSION}] needs its release date",
    ),
    "changelog dated in the future": (
        edit("CHANGELOG.md", lambda t: t.replace(f"] - {TODAY}", "] - 2027-01-01")),
        "is dated 2027-01-01, after 2026-12-01",
    ),
    "no upgrade notes": (
        edit(
            "docs/upgrading.md",
            lambda t: re.sub(rf"^## .*{re.escape(VERSION)}.*$", "", t, flags=re.M),
        ),
        f"docs/upgrading.md: no ## section names {VERSION}",
    ),
    "package version out of step": (
        edit("lambda/segment_usage/__init__.py", lambda t: t.replace(VERSION, "9.9.9")),
        f"lambda/segment_usage/__init__.py: __version__ is 9.9.9, modules/segment-usage/VERSION says {VERSION}",
    ),
    "version written into pyproject": (
        edit(
            "pyproject.toml", lambda t: t.replace("[project]\n", '[project]\nversion = "0.0.1"\n')
        ),
        "pyproject.toml: project.version = '0.0.1'",
    ),
    "README pins another release": (
        edit("README.md", lambda t: t.replace(f"?ref=v{VERSION}", "?ref=v0.1.9")),
        f"README.md: ?ref=v0.1.9, but this release is v{VERSION}",
    ),
    "not a version": (
        edit("modules/segment-usage/VERSION", lambda t: "0.2\n"),
        "modules/segment-usage/VERSION: '0.2' is not a version X.Y.Z",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_promise_is_named(ready: Path, case: str) -> None:
    breaking, message = BROKEN[case]
    breaking(ready)
    commit_all(ready)
    proc = run(ready)
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr
    assert "git tag" not in proc.stdout


def test_an_uncommitted_change_or_an_existing_tag_blocks_the_release(ready: Path) -> None:
    (ready / "notes.txt").write_text("draft")
    proc = run(ready)
    assert proc.returncode == 1
    assert "git: the tree is not clean (commit or remove: notes.txt)" in proc.stderr
    (ready / "notes.txt").unlink()
    git(ready, "tag", f"v{VERSION}")
    proc = run(ready)
    assert proc.returncode == 1
    assert f"git: tag v{VERSION} exists already" in proc.stderr


def test_this_tree_agrees_on_its_version() -> None:
    """Here, only what the release commit itself does may be missing: the dated changelog
    section, a clean tree (while working), the tag not being there yet."""
    try:
        release.check(REPO_ROOT, release.date.fromisoformat(TODAY))
    except release.ReleaseError as error:
        allowed = (f"{release.CHANGELOG}: no section ## [{VERSION}]", "git: the tree is not clean")
        assert [p for p in error.problems if not p.startswith(allowed)] == []
