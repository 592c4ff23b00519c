#!/usr/bin/env python3
"""The local AWS emulator this example applies to, for running its steps by hand.

A moto server on 127.0.0.1 with what ``make demo`` and the tests give theirs
(tests/support/moto_server.py): moto's partner event bus names fixed (a bus named
``aws.partner/segment.com/<id>`` contains "/", which unpatched moto 5 cannot tag or put rules on),
DynamoDB writes made atomic, and Lambda targets that are stored but never run (moto would need
Docker). Then it plays Segment's part once: the partner event source for ``--source-id``, which
must exist before Terraform can create the bus. It prints the ``terraform apply`` to run and serves
until Ctrl-C.

    .venv/bin/python examples/local/emulator.py [--port 5000] [--source-id qSg3xMpL9a]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1] / "tests")]

from support.moto_server import (  # noqa: E402
    FAKE_CREDENTIALS,
    create_segment_partner_source,
    moto_server,
)
from support.moto_without_lambda_runs import never_run_lambdas  # noqa: E402

REGION = "us-east-1"  # the example's default region (variable "region")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--source-id", default="qSg3xMpL9a")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    never_run_lambdas()
    with moto_server(port=args.port) as url:
        source = create_segment_partner_source(url, args.source_id, REGION)
        credentials = " ".join(f"{k}={v}" for k, v in FAKE_CREDENTIALS.items())
        print(
            f"emulator listening on {url} (region {REGION}); "
            f"partner event source {source} created\n"
            f"In examples/local, in another shell:\n"
            f"  terraform init && terraform apply -var aws_endpoint={url}"
            f" -var segment_source_id={args.source_id}\n"
            f"The AWS CLI against it:\n"
            f"  export AWS_ENDPOINT_URL={url} AWS_DEFAULT_REGION={REGION} {credentials}\n"
            "Ctrl-C stops it (everything in it is lost).",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
