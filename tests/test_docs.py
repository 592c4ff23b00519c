"""Every relative markdown link in the README, docs/ and the module README resolves.

A link to a file or directory must name one that exists in the repository; a ``#fragment`` on a
markdown file must name one of its headings (GitHub's anchors). Links inside code blocks and
inline code are not links; absolute URLs (https:, mailto:) are not checked.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [
        REPO_ROOT / "README.md",
        REPO_ROOT / "modules" / "segment-usage" / "README.md",
        *(REPO_ROOT / "docs").glob("*.md"),
    ]
)

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\]\n]|\][^(\n])*?\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code spans."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    return LINK.findall(prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text("utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


def broken(doc: Path, root: Path = REPO_ROOT) -> list[str]:
    problems = []
    for target in links(doc.read_text("utf-8")):
        if EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (doc.parent / unquote(path_part)).resolve() if path_part else doc
        if not resolved.exists():
            problems.append(f"{target}: no such file or directory")
        elif not resolved.is_relative_to(root):
            problems.append(f"{target}: outside the repository")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            problems.append(f"{target}: no heading #{fragment} in {resolved.name}")
    return problems


def test_the_documents_are_found() -> None:
    names = {str(d.relative_to(REPO_ROOT)) for d in DOCS}
    assert {"README.md", "modules/segment-usage/README.md", "docs/architecture.md"} <= names
    assert all(d.is_file() for d in DOCS)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(REPO_ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    assert links(doc.read_text("utf-8")), f"{doc}: no links found (is the pattern right?)"
    assert broken(doc) == []


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    """The check itself can fail: a missing file, a missing heading, and code that is not a link."""
    (tmp_path / "other.md").write_text("# Other page\n\n## Read `API` (v1)\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Title\n\n[ok](other.md#read-api-v1) [self](#title) [web](https://example.com/x)\n"
        "[gone](missing.md) [no heading](other.md#nowhere)\n"
        "`[not a link](nowhere.md)`\n\n```\n[nor this](nowhere.md)\n```\n"
    )
    assert links(doc.read_text()) == [
        "other.md#read-api-v1",
        "#title",
        "https://example.com/x",
        "missing.md",
        "other.md#nowhere",
    ]
    assert broken(doc, root=tmp_path) == [
        "missing.md: no such file or directory",
        "other.md#nowhere: no heading #nowhere in other.md",
    ]
    assert (
        broken(doc, root=tmp_path / "elsewhere")[0]
        == "other.md#read-api-v1: outside the repository"
    )
