"""``segment-usage forget USER_ID`` and ``segment-usage unsuppress USER_ID``: erasure on request
(``record/erasure.py`` says what is removed, in which order, and what cannot be).

``forget`` is dry by default: it counts what it would remove. With ``apply`` it suppresses, then
deletes. The first erasure of a deployment makes the suppression key; functions running then learn
of it within ``KEY_PROPAGATION_SECONDS`` (they look it up every minute while there is none), so
that first ``forget`` waits that long after suppressing and before deleting, and a message of the
person that a function records meanwhile is deleted too.
"""

from __future__ import annotations

import time
from typing import Any

from ..record.erasure import Eraser, Erasure
from ..table import suppression

KEY_PROPAGATION_SECONDS = 65.0


def forget(client: Any, table: str, user_id: str, apply: bool = False) -> Erasure:
    """Erase ``user_id`` (see the module docstring); the report."""
    eraser = Eraser(client, table)
    result = eraser.forget(user_id, apply=apply)
    if apply and result.key_made:
        time.sleep(KEY_PROPAGATION_SECONDS)
        again = eraser.forget(user_id, apply=True)  # what a function recorded meanwhile
        result.items.update(again.items)
    return result


def unsuppress(client: Any, table: str, ids: list[str]) -> int:
    """Lift the suppression of ``ids`` (a userId and any anonymousIds); how many were lifted.
    Later messages for them are recorded again; nothing erased comes back."""
    key = suppression.load_key(client, table)
    if key is None:
        return 0
    return suppression.unmark(client, table, [suppression.token(key, i) for i in ids])
