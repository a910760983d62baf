"""Reposts: the same notice on several units' sites, linked to the earliest original (step 5).

A branch that reposts a city notice changes little: its own header and footer, a "转载自 …" line,
a word here and there. Each item's body gets a MinHash sketch: the k smallest 63-bit hashes of the
character 3-grams of its normalized text (bylines and repost lines dropped). Two sketches estimate
the Jaccard similarity of the two bodies; at ``min_similarity`` or more they are one notice.
The few smallest hashes of each sketch are indexed (``item_fingerprint_keys``): two near-identical
bodies share their smallest shingles, so a lookup reads only items sharing one of those keys.

Why this and not SimHash: on 300-character notices a one-word edit moved a 64-bit SimHash by 4-9
bits while an unrelated notice of the same template was 4-5 bits away; Jaccard over 3-grams keeps
them apart (0.9 against 0.75). Why not ``datasketch``: a bottom-k sketch needs one hash per shingle
(~0.2 ms a notice in plain Python) and no numpy; k-permutation MinHash without numpy is ~50x slower.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.models import Item, ItemFingerprint, ItemFingerprintKey
from hub.timeutil import to_zone

SHINGLE = 3
SKETCH_SIZE = 128  # k: the estimate's standard error is about sqrt(J(1-J)/k), ~0.03 at J=0.85
LOOKUP_KEYS = 8  # smallest hashes indexed per item
# Shorter bodies say too little to tell a repost from a look-alike; they match by exact content hash.
MIN_FINGERPRINT_CHARS = 60
DEFAULT_MIN_SIMILARITY = 0.8
_MASK63 = (1 << 63) - 1  # BIGINT is signed on both backends
_SEED = 0x5EED1E57
# Lines that differ between an original and its reposts and say nothing about the notice itself.
_BOILERPLATE_LINE = re.compile(
    r"转载|转自|来源[:：】]|作者[:：】]|编辑[:：】]|审核[:：】]|校对[:：】]|发布(?:时间|日期)|浏览次数|点击[数量:：]|字号|打印|关闭"
)
_NOT_TEXT = re.compile(r"[^\w]|_", re.UNICODE)
_REPOST_MARK = re.compile(r"转载|转自")


@dataclass(frozen=True, slots=True)
class RepostPolicy:
    """How similar two bodies must be to count as one notice, and the zone that decides "same day"."""

    min_similarity: float = DEFAULT_MIN_SIMILARITY
    zone: str = "Asia/Shanghai"


def normalized_text(text: str) -> str:
    """Body text without bylines, repost lines, whitespace or punctuation (NFKC, lower case)."""
    lines = unicodedata.normalize("NFKC", text).lower().splitlines()
    kept = (line for line in lines if not _BOILERPLATE_LINE.search(line))
    return _NOT_TEXT.sub("", "".join(kept))


def sketch(text: str) -> list[int] | None:
    """The sorted SKETCH_SIZE smallest 63-bit hashes of ``text``'s 3-grams, or None if it is too short."""
    normalized = normalized_text(text)
    if len(normalized) < MIN_FINGERPRINT_CHARS:
        return None
    shingles = {normalized[i : i + SHINGLE] for i in range(len(normalized) - SHINGLE + 1)}
    # Two seeded CRC-32s make a stable 63-bit hash at a fraction of blake2b's cost in CPython.
    encoded = [shingle.encode() for shingle in shingles]
    hashes = {(zlib.crc32(data) << 31 ^ zlib.crc32(data, _SEED)) & _MASK63 for data in encoded}
    return heapq.nsmallest(SKETCH_SIZE, hashes)


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two bottom-k sketches."""
    union = sorted(set(a) | set(b))[: min(len(a), len(b))]
    if not union:
        return 0.0
    both = set(a) & set(b)
    return sum(1 for value in union if value in both) / len(union)


def _pack(values: Sequence[int]) -> bytes:
    return b"".join(value.to_bytes(8, "big") for value in values)


def _unpack(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), 8)]


def _age_key(item: Item, zone: str) -> tuple[str, int, int, datetime, int]:
    """Which of two copies is the original: earlier day, not marked as a repost, higher unit, earlier."""
    when = item.published_at or item.first_seen_at
    marked = 1 if _REPOST_MARK.search(item.text[:300]) else 0
    depth = item.unit.path.count("/") if item.unit is not None else 0
    return (to_zone(when, zone).date().isoformat(), marked, depth, when, item.id)


def _root(item: Item, session: Session) -> Item:
    if item.repost_of_id is None:
        return item
    original = session.get(Item, item.repost_of_id)
    return original if original is not None else item


def _candidates(session: Session, item: Item, values: list[int], min_similarity: float) -> list[Item]:
    ids = set(
        session.scalars(
            select(ItemFingerprintKey.item_id)
            .join(Item, Item.id == ItemFingerprintKey.item_id)
            .where(ItemFingerprintKey.key.in_(values[:LOOKUP_KEYS]))
            .where(Item.source_id != item.source_id, Item.id != item.id)
        )
    )
    if not ids:
        return []
    rows = session.execute(
        select(ItemFingerprint.item_id, ItemFingerprint.sketch).where(ItemFingerprint.item_id.in_(ids))
    )
    close = [item_id for item_id, data in rows if similarity(values, _unpack(data)) >= min_similarity]
    return list(session.scalars(select(Item).where(Item.id.in_(close)))) if close else []


def _exact_copies(session: Session, item: Item) -> list[Item]:
    return list(
        session.scalars(
            select(Item).where(
                Item.content_hash == item.content_hash, Item.source_id != item.source_id, Item.id != item.id
            )
        )
    )


def store_fingerprint(session: Session, item: Item) -> list[int] | None:
    """Compute and store (or replace) ``item``'s sketch and lookup keys; None when its text is too short."""
    values = sketch(item.text)
    session.execute(delete(ItemFingerprintKey).where(ItemFingerprintKey.item_id == item.id))
    existing = session.get(ItemFingerprint, item.id)
    if values is None:
        if existing is not None:
            session.delete(existing)
        return None
    if existing is None:
        session.add(ItemFingerprint(item_id=item.id, sketch=_pack(values)))
    else:
        existing.sketch = _pack(values)
    session.add_all(ItemFingerprintKey(item_id=item.id, key=key) for key in values[:LOOKUP_KEYS])
    return values


def link_repost(session: Session, item: Item, policy: RepostPolicy | None = None) -> int | None:
    """Fingerprint a newly stored ``item`` and link it and its near-duplicates to the earliest original.

    Returns the id ``item`` now reposts, or None when it is an original. If ``item`` turns out to be
    older than the group it joins, it becomes the group's original and the others are re-pointed.
    """
    policy = policy or RepostPolicy()
    session.flush()  # item.id
    values = store_fingerprint(session, item)
    session.flush()
    found = (
        _candidates(session, item, values, policy.min_similarity)
        if values is not None
        else _exact_copies(session, item)
    )
    if not found:
        return None
    roots = {root.id: root for root in (_root(other, session) for other in found) if root.id != item.id}
    original = min([item, *roots.values()], key=lambda candidate: _age_key(candidate, policy.zone))
    _repoint(session, [*roots.values(), item], original)
    session.flush()
    return item.repost_of_id


def _repoint(session: Session, group: Iterable[Item], original: Item) -> None:
    """Make every item of ``group`` (and everything that reposted it) point at ``original``."""
    old_roots = [member.id for member in group if member.id != original.id]
    original.repost_of_id = None
    for member in group:
        if member.id != original.id:
            member.repost_of_id = original.id
    if old_roots:
        session.execute(
            update(Item)
            .where(Item.repost_of_id.in_(old_roots))
            .values(repost_of_id=original.id)
            .execution_options(synchronize_session="fetch")
        )


def link_reposts(session: Session, items: Iterable[Item], policy: RepostPolicy | None = None) -> None:
    """``link_repost`` for each new item of a batch, in order (for the batch ingest path)."""
    for item in items:
        link_repost(session, item, policy)


def link_reposts_by_id(session: Session, item_ids: Iterable[int], policy: RepostPolicy | None = None) -> None:
    """``link_repost`` for items inserted in bulk (the batch ingest path), in id order."""
    ids = sorted(item_ids)
    if ids:
        link_reposts(
            session, session.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.id)).all(), policy
        )
