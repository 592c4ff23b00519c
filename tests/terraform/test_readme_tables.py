"""modules/segment-usage/README.md's input/output tables match variables.tf and outputs.tf.

Regenerate with: .venv/bin/python tests/support/readme_tables.py --write
"""

from __future__ import annotations

from support.readme_tables import BEGIN, END, README, REGENERATE, REPO_ROOT, readme_block, render


def test_every_input_and_output_is_documented() -> None:
    text = render()
    assert "| `segment_external_ids` |" in text
    assert "| `segment_lambda_destination_settings` |" in text
    assert "n/a | yes |" in text  # environment has no default


def test_readme_tables_are_up_to_date() -> None:
    block = readme_block(README)
    assert block is not None, (
        f"{README.relative_to(REPO_ROOT)} has no {BEGIN} ... {END} block; run {REGENERATE}"
    )
    assert block == render(), f"module README tables are stale: run {REGENERATE}"


def test_the_tables_live_in_the_module_readme_only() -> None:
    """One copy: the root README links to the module README instead of repeating the tables."""
    root = (REPO_ROOT / "README.md").read_text()
    assert "BEGIN_TF_DOCS" not in root and "## Inputs" not in root
    assert "modules/segment-usage/README.md" in root
