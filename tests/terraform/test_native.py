"""Terraform's native tests of the module (``modules/segment-usage/tests/*.tftest.hcl``) under
``make test``: ``terraform test`` with a mocked hashicorp/aws provider, so no AWS and no emulator.

The module is copied to a temporary directory (no ``.terraform/`` in the work tree, and parallel
workers never share one), initialised offline from the provider mirror (support/terraform.py), and
every ``.tftest.hcl`` file runs: plan-time refusals (validation.tftest.hcl), the check blocks'
warnings and their silence (checks.tftest.hcl), and any other file beside them.

The trait names checks.tf derives for explicit trackers must be the handler's
(``segment_usage.ingest.trackers.default_trait``): Hypothesis draws tracker names, the handler's
names for them are written into a generated run as the expected values, and Terraform compares.
"""

from __future__ import annotations

import json
import re
import shutil
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from segment_usage.ingest.trackers import USAGE_TYPES, default_trait
from support.terraform import REPO_ROOT, run_terraform, terraform_env

pytestmark = pytest.mark.terraform

MODULE = REPO_ROOT / "modules" / "segment-usage"
TESTS = MODULE / "tests"
OWN_FILES = {"validation.tftest.hcl", "checks.tftest.hcl"}
GENERATED = "generated_tests"  # -test-directory of the generated runs, inside the module copy


@pytest.fixture(scope="module")
def module_copy(terraform_ready: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module in a directory of its own, ``terraform init``-ed from the provider mirror."""
    root = tmp_path_factory.mktemp("native") / "segment-usage"
    shutil.copytree(
        MODULE,
        root,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "terraform.tfstate*"),
    )
    run_terraform(["init", "-backend=false", "-no-color"], root, terraform_env())
    return root


def runs_in(files: list[Path]) -> int:
    return sum(len(re.findall(r'^run "', f.read_text(), re.MULTILINE)) for f in files)


def test_native_terraform_tests_pass(module_copy: Path) -> None:
    files = sorted(TESTS.glob("*.tftest.hcl"))
    assert {f.name for f in files} >= OWN_FILES
    proc = run_terraform(["test", "-no-color"], module_copy, terraform_env(), ok_codes=(0, 1))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # Every run of every file ran and passed (none skipped after an earlier failure).
    assert f"Success! {runs_in(files)} passed, 0 failed." in proc.stdout, output


def hcl_string(text: str) -> str:
    """``text`` as an HCL string literal: JSON's escapes, and no template interpolation."""
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


def hcl_list(values: list[str]) -> str:
    return "[" + ", ".join(hcl_string(v) for v in values) + "]"


# Event, page and screen names as senders spell them: Title Case, camelCase, snake_case, digits
# first, punctuation, and any printable ASCII at all.
WORD = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
SEPARATOR = st.sampled_from([" ", "_", "-", ".", "/", ":", "  ", " - ", "", "'", "(", ")"])
SPELLED = st.builds(
    lambda words, seps: "".join(w + s for w, s in zip(words, seps, strict=False)),
    st.lists(WORD, min_size=1, max_size=5),
    st.lists(SEPARATOR, min_size=5, max_size=5),
)
PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30)
SHORT_NAMES = st.one_of(SPELLED, PRINTABLE).filter(lambda name: name.strip() != "")
# (At most 20 short and 2 long names, so the trackers stay well inside Lambda's 4 KB environment even
# when every character needs escaping: the module's precondition would refuse the plan otherwise.)
# Past 100 bytes the handler cuts the name and appends a hash: the check says it cannot derive it.
LONG_NAMES = st.text(string.ascii_letters + " ", min_size=100, max_size=130).filter(
    lambda name: len(default_trait("track", name)) >= 99
)


@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # each example is a `terraform test`: no shrinking
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    # Each call name once: the module refuses a call counted towards more than 4 traits.
    short=st.lists(
        st.tuples(st.sampled_from(USAGE_TYPES), SHORT_NAMES),
        min_size=15,
        max_size=20,
        unique_by=lambda tracker: tracker,
    ),
    long=st.lists(LONG_NAMES, min_size=1, max_size=2, unique=True),
)
def test_checks_derive_tracker_traits_as_the_handler_does(
    module_copy: Path, short: list[tuple[str, str]], long: list[str]
) -> None:
    trackers = [*short, *(("track", name) for name in long)]
    expected = [default_trait(kind, name) for kind, name in trackers]
    listed = ",\n".join(
        f"      {{ type = {hcl_string(kind)}, name = {hcl_string(name)} }}"
        for kind, name in trackers
    )
    directory = module_copy / GENERATED
    directory.mkdir(exist_ok=True)
    (directory / "trait_names.tftest.hcl").write_text(
        f"""
mock_provider "aws" {{
  source = "./tests/mocks"
}}

run "derived_trait_names_are_the_handlers" {{
  command = plan

  variables {{
    environment          = "test"
    segment_external_ids = ["ws-test"]
    trackers = [
{listed}
    ]
  }}

  assert {{
    condition     = alltrue([for i, t in local.tracker_traits : t.derivable == (i < {len(short)})])
    error_message = "Short ASCII names are derived, long ones are not: ${{jsonencode([for t in local.tracker_traits : t.derivable])}}"
  }}
  assert {{
    condition     = [for i, t in local.tracker_traits : t.produced if t.derivable] == {hcl_list(expected[: len(short)])}
    error_message = "Derived: ${{jsonencode([for t in local.tracker_traits : t.produced if t.derivable])}}"
  }}
}}
"""
    )
    proc = run_terraform(
        ["test", "-no-color", f"-test-directory={GENERATED}"],
        module_copy,
        terraform_env(),
        ok_codes=(0, 1),
    )
    assert proc.returncode == 0, f"{trackers}\nhandler: {expected}\n{proc.stdout}{proc.stderr}"
    assert "1 passed, 0 failed" in proc.stdout
