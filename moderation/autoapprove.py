"""Applying the auto-approve policy on ingest, one item or a batch (docs/architecture.md step 6).

hub.ingest calls ``auto_approve`` after screening a new item or a new revision; the batch path calls
``auto_approve_new`` for its bulk-inserted items. Both write what ``service.transition`` writes for the
``auto_approve`` action — state approved, version + 1, the policy as reviewer, an audit event and an
index outbox row in the caller's transaction — the single path by calling it, the batch path with three
bulk statements (the items were inserted by the same transaction a moment ago: no concurrent reviewer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from hub.models import Item, ItemState, ModerationEvent, OutboxEntry, OutboxOp, core_table
from hub.websubhub import queue_publish_many
from moderation.audit import Snapshot, event_values, snapshots
from moderation.policy import (
    ACTION,
    POLICY_STATES,
    hit_counts,
    is_clean,
    policies_for_sources,
    policy_for_source,
)
from moderation.screen import ScreeningResult
from moderation.service import transition


def auto_approve(
    session: Session, item: Item, revision_number: int, before: str | None, now: datetime
) -> bool:
    """Approve revision ``revision_number`` of ``item`` if its source's policy allows; True if it did.

    ``before`` is the item's state before this ingest (None for a new item): a policy never overrides
    a reviewer who rejected an item or asked for changes.
    """
    if (before or ItemState.PENDING.value) not in POLICY_STATES:
        return False
    policy = policy_for_source(session, item.source_id)
    if policy is None or not is_clean(session, item.id, revision_number):
        return False
    transition(session, item.id, ACTION, policy.actor, now=now)
    return True


@dataclass(frozen=True, slots=True)
class FirstScreening:
    """What the caller already knows of each new item's first revision: its content hash and its
    screening as just stored (``moderation.screening.screen_revisions``), so nothing is read back."""

    content_hashes: Mapping[int, str]
    results: Mapping[int, ScreeningResult]

    def covers(self, item_ids: Iterable[int]) -> bool:
        return all(i in self.results and i in self.content_hashes for i in item_ids)

    def snapshot(self, item_id: int) -> Snapshot:
        """The audit snapshot ``moderation.audit.snapshots`` would read for a clean first revision."""
        result = self.results[item_id]
        version = max((hit.lexicon_version for hit in result.hits), default=None)
        return Snapshot(self.content_hashes[item_id], len(result.hits), float(result.risk_score), version)


def auto_approve_new(
    session: Session,
    items: Sequence[tuple[int, int]],
    now: datetime,
    first: FirstScreening | None = None,
) -> list[int]:
    """Approve the clean ones of just-inserted pending items ``(item id, source id)``; returns their ids.

    Same rows as ``auto_approve`` on each, in id order: items, moderation events, outbox entries.
    ``first``: their screening, known to the caller; without it (or when it lacks an item) the hits and
    snapshots are read from the store.
    """
    policies = policies_for_sources(session, {source_id for _, source_id in items})
    candidates = sorted((item_id, policy) for item_id, source_id in items if (policy := policies[source_id]))
    if not candidates:
        return []
    known = first if first is not None and first.covers(item_id for item_id, _ in candidates) else None
    if known is not None:
        chosen = [
            (item_id, policy.actor) for item_id, policy in candidates if not known.results[item_id].hits
        ]
    else:
        dirty = hit_counts(session, [(item_id, 1) for item_id, _ in candidates])
        chosen = [(item_id, policy.actor) for item_id, policy in candidates if (item_id, 1) not in dirty]
    if not chosen:
        return []
    connection = session.connection()
    items_table = core_table(Item)
    by_actor: dict[str, list[int]] = defaultdict(list)
    for item_id, actor in chosen:
        by_actor[actor].append(item_id)
    for actor, ids in by_actor.items():
        connection.execute(
            update(items_table)
            .where(
                items_table.c.id.in_(ids),
                items_table.c.state == ItemState.PENDING.value,
                items_table.c.version == 1,
            )
            .values(
                state=ItemState.APPROVED.value,
                version=items_table.c.version + 1,
                reviewed_by=actor,
                reviewed_at=now,
                updated_at=now,
                # as service.transition writes them: no claim, no first approval left over
                claimed_by=None,
                claimed_until=None,
                first_reviewed_by=None,
                first_reviewed_at=None,
                first_reviewed_revision=None,
            )
        )
        for item_id in ids:  # loaded copies (screening, reposts) would still say "pending"
            loaded = session.identity_map.get(identity_key(Item, item_id))
            if loaded is not None:
                session.expire(loaded)
    # The audit's screening snapshot of each approved revision.
    if known is not None:
        found = {(item_id, 1): known.snapshot(item_id) for item_id, _ in chosen}
    else:
        found = snapshots(session, [(item_id, 1) for item_id, _ in chosen])
    connection.execute(
        insert(core_table(ModerationEvent)),
        [
            {
                "item_id": item_id,
                "revision_number": 1,
                "actor": actor,
                "action": ACTION,
                "from_state": ItemState.PENDING.value,
                "to_state": ItemState.APPROVED.value,
                "reason": None,
                "reason_code": None,
                "created_at": now,
                **event_values(found[(item_id, 1)]),
            }
            for item_id, actor in chosen
        ],
    )
    connection.execute(
        insert(core_table(OutboxEntry)),
        [
            {"item_id": item_id, "op": OutboxOp.UPSERT.value, "created_at": now, "attempts": 0}
            for item_id, _ in chosen
        ],
    )
    queue_publish_many(session, [item_id for item_id, _ in chosen], now)  # WebSub hub: hub/websubhub.py
    return [item_id for item_id, _ in chosen]
