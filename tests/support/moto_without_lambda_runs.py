"""moto cannot run a Lambda (that needs Docker). Two places where it tries anyway, and how the demo
and the end-to-end test stand in for them. Apply in the process that runs the ThreadedMotoServer.

- A rule with a Lambda target: PutEvents fails with a 500 (``NotImplementedError`` in
  ``moto.events.models.Rule.send_to_targets``). Patched to skip Lambda targets, so the rule's other
  targets still receive the event, as in AWS; the handler then gets what the Lambda target would
  have received from an SQS queue on the same rule.
- An SQS queue with an event source mapping: on every send moto receives a batch and tries to
  invoke the function, and messages are lost or hidden. Patched so sends leave the queue alone;
  the caller drains it into the handler the way the event source mapping would.

The Lambda target and the event source mapping are still created by Terraform and checked.
"""

from __future__ import annotations

from typing import Any

_PATCHED = False


def never_run_lambdas() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from moto.events.models import Rule
    from moto.sqs.models import Queue

    send_to_targets = Rule.send_to_targets
    add_message = Queue.add_message

    def send_to_runnable_targets(self: Any, event: Any, transform_input: bool = True) -> None:
        targets = self.targets
        self.targets = [t for t in targets if ":lambda:" not in t["Arn"]]
        try:
            send_to_targets(self, event, transform_input)
        finally:
            self.targets = targets

    def add_message_without_polling(self: Any, message: Any) -> None:
        mappings = self.lambda_event_source_mappings
        self.lambda_event_source_mappings = {}
        try:
            add_message(self, message)
        finally:
            self.lambda_event_source_mappings = mappings

    Rule.send_to_targets = send_to_runnable_targets  # type: ignore[method-assign]
    Queue.add_message = add_message_without_polling  # type: ignore[method-assign]
    _PATCHED = True
