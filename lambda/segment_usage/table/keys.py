"""Table keys: one table, string ``pk``/``sk``. The README's data model has the access patterns."""

from __future__ import annotations

import hashlib

MAX_ID_BYTES = 128  # longer ids are hashed so key sizes (and so write costs) stay bounded

PROFILE_SK = "PROFILE"
CATALOG_PK = "CATALOG"  # the unsharded catalog of earlier versions, still read (never written)
REJECTED_PK = "REJECTED"
VIOLATION_PK = "VIOLATION"
CONFIG_PK = "CONFIG"
TRACKING_PLAN_SK = "TRACKING_PLAN"


HASHED = "h:"  # marks a hashed id in a key
PERSON_PREFIXES = ("U#", "A#")  # partitions that hold one person's data (user_pk, anonymous_pk)
TTL_ATTRIBUTE = "expires_at"  # the table's TTL attribute (epoch seconds; dynamodb.tf)


def _bounded(value: str) -> str:
    """An id as it stands in a key: itself, or ``h:<sha256>`` when it is over MAX_ID_BYTES or
    itself starts with ``h:``. So no id a client sends can be read as another id's hash: a userId
    that is literally ``h:<sha256 of a victim's long id>`` is hashed again and lands elsewhere."""
    encoded = value.encode("utf-8")
    if len(encoded) <= MAX_ID_BYTES and not value.startswith(HASHED):
        return value
    return HASHED + hashlib.sha256(encoded).hexdigest()


def user_pk(user_id: str) -> str:
    """Partition of a user, by userId."""
    return "U#" + _bounded(user_id)


def anonymous_pk(anonymous_id: str) -> str:
    """Partition of an anonymous visitor, by anonymousId: a key space of its own, so that no
    anonymousId (or alias previousId) a sender chooses can name a user's partition."""
    return "A#" + _bounded(anonymous_id)


OWNERS_SK = "OWNERS"  # in an anonymous partition: the userIds it is linked to (record/identity.py)


def day_prefix(day: str) -> str:
    return f"D#{day}#"


def day_end_sk(day: str) -> str:
    """A sort key after every bucket of ``day`` and before the next day's ("$" sorts after "#")."""
    return f"D#{day}$"


ROLLUP_SK = "ROLLUP"  # per-user totals of folded days (rollup.py); sorts after every D# bucket


DAY_SHARDS = 4  # independent bucket chains per user-day, so concurrent writers rarely collide


def bucket_sk(day: str, shard: int, index: int) -> str:
    """A user-day has DAY_SHARDS chains; a chain's buckets are numbered as each fills to ~1 KB."""
    return f"D#{day}#{shard}#{index:04d}"


def bucket_day(sk: str) -> str:
    """The day (yyyy-mm-dd) of a ``bucket_sk``."""
    return sk[2:12]


def is_first_bucket(sk: str) -> bool:
    """Whether a bucket key is the first (index 0) of its chain: ``bucket_sk(day, shard, 0)``."""
    return sk.endswith("#0000")


def chain_prefix(day: str, shard: int) -> str:
    return f"D#{day}#{shard}#"


def day_shard(digest: bytes) -> int:
    """The chain of a message: fixed by its messageId, so every retry lands on the same one."""
    return digest[0] % DAY_SHARDS


def group_sk(group_id: str) -> str:
    return "G#" + _bounded(group_id)


# The catalog counts every message, so one item per event name would be a hot key: a page that is
# 40% of traffic would put 40% of the catalog's writes on one item, and DynamoDB serves one item or
# partition key at ~1,000 WCU/s. Each name is split over CATALOG_SHARDS partition keys; the reader
# sums them (one Query each). 128: the hottest key of a realistic stream stays under 1% of writes.
CATALOG_SHARDS = 128


def catalog_pk(shard: int) -> str:
    return f"{CATALOG_PK}#{shard:03d}"


def catalog_shard(digest: bytes) -> int:
    """A messageId digest's catalog shard (bytes other than ``day_shard``'s, so independent)."""
    return int.from_bytes(digest[1:3], "big") % CATALOG_SHARDS


def catalog_sk(call_type: str, name: str) -> str:
    return f"{call_type}#{name[:200]}"


def message_hash(message_id: str) -> bytes:
    """8-byte digest of a messageId: the dedup ledger entry (2^-64 collision odds per pair)."""
    return hashlib.blake2b(message_id.encode("utf-8"), digest_size=8).digest()
