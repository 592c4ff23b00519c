"""Baseline: what a user would pick instead, Powertools for AWS Lambda (Python) 3.x.

The same ADD counter as ``plain_counter``, made idempotent on ``messageId`` with
``@idempotent_function`` and a ``DynamoDBPersistenceLayer`` (its own table, key ``id``), and on
the SQS path driven by ``BatchProcessor(EventType.SQS)`` + ``process_partial_response``.
Non-usage messages (identify...) are skipped before the idempotency check, as a user counting
usage would; Powertools' defaults are kept (idempotency records expire after 1 hour).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from . import plain_counter


def create_idempotency_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


class PowertoolsCounter:
    def __init__(self, client: Any, counter_table: str, idempotency_table: str) -> None:
        self.config = IdempotencyConfig(event_key_jmespath="messageId")
        persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=client)
        self.processor = BatchProcessor(event_type=EventType.SQS)

        @idempotent_function(
            data_keyword_argument="message", persistence_store=persistence, config=self.config
        )
        def count_once(message: dict[str, Any]) -> dict[str, Any]:
            plain_counter.count(client, counter_table, message)
            return {"counted": message["messageId"]}

        self._count_once = count_once

    def _count(self, message: dict[str, Any]) -> None:
        if message.get("type") in plain_counter.USAGE_TYPES:
            self._count_once(message=message)

    def _record(self, record: SQSRecord) -> None:
        self._count(plain_counter.message_of(record.json_body))

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.config.register_lambda_context(context)
        if "Records" in event:
            return process_partial_response(
                event=event, record_handler=self._record, processor=self.processor, context=context
            )
        self._count(plain_counter.message_of(event))
        return {"status": "ok"}
