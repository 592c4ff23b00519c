"""A test double for the Lambda context object (the AWS side of every bench is moto)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    function_name: str = "segment-usage-bench"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:segment-usage-bench"
    memory_limit_in_mb: int = 256
    log_group_name: str = "/aws/lambda/segment-usage-bench"
    log_stream_name: str = "2026/11/20/[$LATEST]bench"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 300_000
