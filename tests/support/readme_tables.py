"""Render the module's input and output tables (markdown) from variables.tf and outputs.tf.

    .venv/bin/python tests/support/readme_tables.py            # print the block
    .venv/bin/python tests/support/readme_tables.py --write    # replace it in the module README

The block sits in modules/segment-usage/README.md between the BEGIN_TF_DOCS comment (which names
this command) and <!-- END_TF_DOCS -->; tests/terraform/test_readme_tables.py fails when it is out
of date. variables.tf and outputs.tf are read each time, never cached.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE = REPO_ROOT / "modules" / "segment-usage"
README = MODULE / "README.md"
REGENERATE = ".venv/bin/python tests/support/readme_tables.py --write"
BEGIN = (
    "<!-- BEGIN_TF_DOCS: generated from variables.tf and outputs.tf; "
    f"regenerate with `{REGENERATE}` (tests/terraform/test_readme_tables.py fails when stale) -->"
)
END = "<!-- END_TF_DOCS -->"


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL quoting and ${} around expressions; undo both, recursively."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _text(description: str) -> str:
    description = _unquote(description)
    heredoc = re.match(r"^<<-?(\w+)\n(.*)\n\s*\1$", description, re.S)
    if heredoc:
        description = textwrap.dedent(heredoc.group(2))
    return " ".join(description.split()).replace("|", "\\|")


def _code(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return f"`{text}`"


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    with path.open() as fh:
        parsed = hcl2.load(fh)
    return [
        (_unquote(name), body) for block in parsed.get(kind, []) for name, body in block.items()
    ]


def render(module: Path = MODULE) -> str:
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|---|---|---|---|:---:|",
    ]
    for name, body in _blocks(module / "variables.tf", "variable"):
        type_expr = _unquote(body.get("type", "any"))
        if "default" in body:
            default = _code(json.dumps(_unquote(body["default"])))
            required = "no"
        else:
            default, required = "n/a", "yes"
        lines.append(
            f"| `{name}` | {_text(body.get('description', ''))} | {_code(str(type_expr))} | {default} | {required} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in _blocks(module / "outputs.tf", "output"):
        lines.append(f"| `{name}` | {_text(body.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def readme_block(readme: Path = README) -> str | None:
    text = readme.read_text() if readme.is_file() else ""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write(readme: Path = README) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} block to fill")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{render()}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write", action="store_true", help=f"replace the block in {README.relative_to(REPO_ROOT)}"
    )
    args = parser.parse_args(argv)
    if args.write:
        write()
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
