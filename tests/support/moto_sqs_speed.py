"""moto's SQS with the cost shape of SQS's: a ReceiveMessage's time does not grow with the queue.

moto 5.x checks each message's retention period on receive by building the queue's *whole*
attribute map (``Queue.attributes``: ApproximateNumberOfMessages and the rest, each counting the
queue's messages), once per message it looks at: a receive from a queue holding n messages costs
O(n) attribute maps of O(n) each. Draining a backfill of a few thousand messages then measures
the emulator (minutes), not the code.

``patch_moto_sqs_receive()`` reads the one attribute the check needs, ``MessageRetentionPeriod``,
from the queue itself: the same number, so the same messages are received.
"""

from __future__ import annotations

from typing import Any

_PATCHED = False


def patch_moto_sqs_receive() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    _PATCHED = True
