#!/usr/bin/env python3
"""``make release``: check that the tree is ready to tag version X.Y.Z, then print the tag commands.

The version lives in one place, ``modules/segment-usage/VERSION`` (inside the module, so it travels
with a ``git::...//modules/segment-usage?ref=vX.Y.Z`` source). Everything else must agree with it:

- ``pyproject.toml`` reads it (``[tool.setuptools.dynamic] version = { file = ... }``);
- ``segment_usage.__version__`` (``lambda/segment_usage/__init__.py``) equals it;
- ``CHANGELOG.md`` (https://keepachangelog.com/en/1.1.0/) has a section ``## [X.Y.Z] - YYYY-MM-DD``
  with a real date, not in the future, and at least one entry;
- ``docs/upgrading.md`` has a section whose heading names X.Y.Z (what the plan shows, what to do);
- every ``?ref=v...`` in README.md, the module README and the examples' READMEs is ``vX.Y.Z``;
- the git tree is clean and the tag ``vX.Y.Z`` does not exist yet.

It never tags or pushes: on success it prints ``git tag -a vX.Y.Z -m ... && git push origin vX.Y.Z``
and exits 0; otherwise it prints every problem found (one per line, naming the file) and exits 1.

    python tools/release.py [--root DIR] [--today YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

VERSION_FILE = Path("modules/segment-usage/VERSION")
INIT_FILE = Path("lambda/segment_usage/__init__.py")
CHANGELOG = Path("CHANGELOG.md")
UPGRADING = Path("docs/upgrading.md")
REF_DOCS = ("README.md", "modules/segment-usage/README.md", "examples/*/README.md")

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
SECTION = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\S+))?[ \t]*$", re.MULTILINE)
REF = re.compile(r"\?ref=(v[0-9][^\s\"'`)>]*)")


@dataclass(frozen=True)
class Release:
    """What a successful check found: the version and its tag name (``v`` + version)."""

    version: str

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    def commands(self) -> str:
        """The commands that publish the release (printed, never run)."""
        return (
            f'git tag -a {self.tag} -m "segment-usage {self.version}" && git push origin {self.tag}'
        )


class ReleaseError(Exception):
    """The tree is not ready to tag; ``problems`` lists each reason (file: what is wrong)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def changelog_sections(text: str) -> dict[str, tuple[str | None, str]]:
    """``## [version] - date`` sections of a Keep a Changelog file: version -> (date, body)."""
    matches = list(SECTION.finditer(text))
    sections = {}
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections[m["version"]] = (m["date"], text[m.end() : end])
    return sections


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )


def check(root: Path, today: date) -> Release:
    """Check ``root`` (a git work tree) is ready to tag; raise ReleaseError with every problem."""
    problems: list[str] = []
    version_path = root / VERSION_FILE
    if not version_path.is_file():
        raise ReleaseError([f"{VERSION_FILE}: missing (it holds the version, X.Y.Z)"])
    version = version_path.read_text().strip()
    if not SEMVER.match(version):
        raise ReleaseError([f"{VERSION_FILE}: {version!r} is not a version X.Y.Z"])

    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    dynamic_file = (
        pyproject.get("tool", {}).get("setuptools", {}).get("dynamic", {}).get("version", {})
    ).get("file")
    if "version" in pyproject.get("project", {}):
        problems.append(
            f"pyproject.toml: project.version = {pyproject['project']['version']!r}: the version "
            f'is read from {VERSION_FILE} (dynamic = ["version"]), not written twice'
        )
    elif dynamic_file != str(VERSION_FILE):
        problems.append(
            f"pyproject.toml: [tool.setuptools.dynamic] version must be "
            f'{{ file = "{VERSION_FILE}" }}, found {dynamic_file!r}'
        )

    init = re.search(r'^__version__ = "([^"]*)"', (root / INIT_FILE).read_text(), re.MULTILINE)
    if init is None or init[1] != version:
        found = init[1] if init else "nothing"
        problems.append(f"{INIT_FILE}: __version__ is {found}, {VERSION_FILE} says {version}")

    changelog = root / CHANGELOG
    sections = changelog_sections(changelog.read_text()) if changelog.is_file() else {}
    if not changelog.is_file():
        problems.append(f"{CHANGELOG}: missing")
    elif version not in sections:
        problems.append(
            f"{CHANGELOG}: no section ## [{version}] - YYYY-MM-DD: rename ## [Unreleased] to it "
            f"(and start a new empty ## [Unreleased] above it)"
        )
    else:
        when, body = sections[version]
        try:
            released = date.fromisoformat(when or "")
        except ValueError:
            problems.append(
                f"{CHANGELOG}: ## [{version}] needs its release date (YYYY-MM-DD), found {when!r}"
            )
        else:
            if released > today:
                problems.append(f"{CHANGELOG}: ## [{version}] is dated {when}, after {today}")
        if not re.search(r"^- ", body, re.MULTILINE):
            problems.append(f"{CHANGELOG}: ## [{version}] lists no change")

    upgrading = root / UPGRADING
    headings = (
        re.findall(r"^## .*$", upgrading.read_text(), re.MULTILINE) if upgrading.is_file() else []
    )
    if not any(re.search(rf"(?<![\d.]){re.escape(version)}(?![\d.])", h) for h in headings):
        problems.append(
            f"{UPGRADING}: no ## section names {version}: say what an upgrade to it plans and "
            "what to do (even if nothing)"
        )

    for pattern in REF_DOCS:
        for doc in sorted(root.glob(pattern)):
            for ref in REF.findall(doc.read_text()):
                if ref != f"v{version}":
                    problems.append(
                        f"{doc.relative_to(root)}: ?ref={ref}, but this release is v{version}"
                    )

    status = _git(root, "status", "--porcelain", "--untracked-files=normal")
    if status.returncode != 0:
        problems.append(f"git: {root} is not a git work tree ({status.stderr.strip()})")
    elif status.stdout.strip():
        changed = ", ".join(line[3:] for line in status.stdout.splitlines()[:5])
        problems.append(f"git: the tree is not clean (commit or remove: {changed})")
    if _git(root, "rev-parse", "-q", "--verify", f"refs/tags/v{version}").returncode == 0:
        problems.append(f"git: tag v{version} exists already: bump {VERSION_FILE}")

    if problems:
        raise ReleaseError(problems)
    return Release(version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    args = parser.parse_args(argv)
    try:
        release = check(args.root, args.today)
    except ReleaseError as error:
        print("Not ready to release:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"segment-usage {release.version} is ready. To release it, run:\n")
    print(f"  {release.commands()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
