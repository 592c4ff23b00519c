"""examples/local/README.md's steps by hand: ``emulator.py`` serves a moto that can hold a Segment
partner bus (unpatched moto 5 cannot tag it or put rules on it), the partner source already
exists, and what it prints to run next is what the README says. The apply itself is
test_examples_apply.py's (the same example against the same patched server).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from support.moto_server import boto3_client, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "local"
SOURCE = "aws.partner/segment.com/qSg3xMpL9a"


def readme_commands() -> list[str]:
    text = (EXAMPLE / "README.md").read_text()
    (block,) = re.findall(r"```sh\n(.*?)```", text, re.S)[:1]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_readme_steps_run_against_the_emulator() -> None:
    commands = readme_commands()
    assert commands[0] == ".venv/bin/python examples/local/emulator.py"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "emulator.py"), "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline() for _ in range(6)]
        url = f"http://127.0.0.1:{port}"
        assert printed[0].startswith(f"emulator listening on {url} (region us-east-1)"), printed
        # What it tells you to run is the README's apply, on the port it serves.
        readme_apply = next(c for c in commands if "terraform apply" in c)
        assert any(
            line.strip().startswith(readme_apply.replace("http://127.0.0.1:5000", url))
            for line in printed
        ), (readme_apply, printed)

        # What the module's apply does to the partner bus, which plain moto 5 refuses.
        events = boto3_client("events", url)
        arn = events.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)["EventBusArn"]
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "Module", "Value": "segment-usage"}])
        assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
            {"Key": "Module", "Value": "segment-usage"}
        ]
        events.put_rule(Name="segment-usage-local-all", EventBusName=SOURCE, EventPattern="{}")
        assert events.describe_rule(Name="segment-usage-local-all", EventBusName=SOURCE)["Arn"]
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "emulator stopped" in rest
