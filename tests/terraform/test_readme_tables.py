"""README.md's module input/output tables match variables.tf and outputs.tf.

Regenerate with: .venv/bin/python tests/support/readme_tables.py --write
"""

from __future__ import annotations

from support.readme_tables import BEGIN, END, README, readme_block, render


def test_every_input_and_output_is_documented() -> None:
    text = render()
    assert "| `segment_external_ids` |" in text
    assert "| `segment_lambda_destination_settings` |" in text
    assert "n/a | yes |" in text  # environment has no default


def test_readme_tables_are_up_to_date() -> None:
    block = readme_block(README)
    assert block is not None, (
        f"README.md has no {BEGIN} ... {END} block; "
        "run .venv/bin/python tests/support/readme_tables.py --write"
    )
    assert block == render(), "README tables are stale: run tests/support/readme_tables.py --write"
