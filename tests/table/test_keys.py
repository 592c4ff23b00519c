"""Key spaces no client value can cross (an attacker holds only the public write key)."""

from __future__ import annotations

import hashlib

from segment_usage.read.view import Reader
from segment_usage.table.keys import user_pk
from support import segment_messages as sm
from support.delivery import TODAY, deliver


def test_a_forged_hashed_id_cannot_reach_a_long_ids_partition(make_runtime, dynamodb, table):
    """Ids over 128 bytes are stored as ``h:<sha256>``; a userId that is literally that text is
    hashed again, so it lands in a partition of its own and cannot overwrite the victim."""
    victim = "v" * 200
    forged = "h:" + hashlib.sha256(victim.encode()).hexdigest()
    assert user_pk(victim) != user_pk(forged)
    runtime = make_runtime()
    deliver(runtime, [sm.identify({"email": "victim@example.com"}, user_id=victim)])
    deliver(runtime, [sm.identify({"email": "mallory@example.com"}, user_id=forged)])
    reader = Reader(dynamodb, table)
    assert reader.user(victim, today=TODAY).traits["email"] == "victim@example.com"
    assert reader.user(forged, today=TODAY).traits["email"] == "mallory@example.com"


def test_no_id_addresses_a_table_item_of_the_product():
    """Catalog, config, rollup and rejection items live under partition keys no user id maps to:
    every user partition key starts with ``U#``."""
    for uid in ("CATALOG#001", "CONFIG", "REJECTED#001", "ROLLUP", "", "h:", "U#x"):
        pk = user_pk(uid)
        assert pk.startswith("U#") and not pk.startswith(("CATALOG", "CONFIG", "REJECTED"))
