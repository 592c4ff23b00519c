"""The writer's "today" for every bench section, pinned (imported for that effect).

The bench's workloads are dated around ``support.segment_messages.BASE_TIME``. The recorder sends a
message for a day more than 32 days before its "today" down the late path (record/days.py), so
with the wall clock a run some weeks from now would measure transactions instead of the normal
path. Pinned to the workloads' own day (``support.delivery.TODAY``, as the tests pin it), every run
measures the same paths. bench/read_cost.py moves its own clock day by day on top of this.
"""

from __future__ import annotations

from segment_usage.record import days
from support.delivery import TODAY


def _today() -> object:
    return TODAY


days.utc_today = _today  # the Recorder's default clock looks it up on every call
