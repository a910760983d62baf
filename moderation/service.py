"""Moderation decisions: the one place an item changes state (docs/architecture.md step 6).

Every transition checks the actor's role and unit scope (``permissions.py``) and any claim held by
someone else (``claims.py``), is versioned (optimistic locking), may be pinned to the content the
reviewer saw (``expected_hash``), takes its reason from a code of the reasons file (``reasons.py``)
and/or free text, is audited as a ModerationEvent with the revision's screening snapshot
(``audit.py``) and is mirrored to the index through an OutboxEntry written in the same transaction.
Where two-step review applies (``rules.py``) a first approval (初审, recorded as ``approve_first``)
moves the item to the final step (终审), which someone else must take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import Item, ItemRevision, ItemState, ModerationEvent, OutboxEntry, OutboxOp, Unit, User
from hub.reposts import relink_repost
from hub.timeutil import utcnow
from hub.websubhub import queue_publish
from moderation.audit import FIRST_APPROVAL, Snapshot, event_values, snapshot
from moderation.claims import check_claim
from moderation.errors import Conflict, Forbidden, InvalidTransition, NotFound
from moderation.permissions import DECIDING_ROLES, actor_name, check_permission
from moderation.policy import ACTION as AUTO_APPROVE
from moderation.policy import is_clean, is_policy_actor
from moderation.rules import ReviewRules

__all__ = [
    "DECIDING_ROLES",
    "RULES",
    "actor_name",
    "approve",
    "check_permission",
    "needs_changes",
    "reject",
    "transition",
    "withdraw",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """Which states an action applies to, where it leads, and whether it needs a reason."""

    sources: frozenset[ItemState]
    target: ItemState
    needs_reason: bool = False


RULES: dict[str, Rule] = {
    "approve": Rule(
        frozenset({ItemState.PENDING, ItemState.NEEDS_CHANGES, ItemState.REJECTED}), ItemState.APPROVED
    ),
    "reject": Rule(frozenset({ItemState.PENDING, ItemState.NEEDS_CHANGES}), ItemState.REJECTED),
    # The source is asked to change the item; its next revision puts it back to pending (hub/ingest.py).
    "needs_changes": Rule(frozenset({ItemState.PENDING}), ItemState.NEEDS_CHANGES, needs_reason=True),
    "withdraw": Rule(frozenset({ItemState.APPROVED}), ItemState.WITHDRAWN, needs_reason=True),
    # An auto-approve policy (moderation/policy.py) lets a clean item through where no reviewer spoke yet.
    AUTO_APPROVE: Rule(frozenset({ItemState.PENDING}), ItemState.APPROVED),
}
# Audit action of a reject aimed at a source's edit of a published item (the published content stays).
DECLINE_REVISION = "reject_revision"
# Actions that take the revision awaiting review of an approved item live.
_REVISION_APPROVALS = frozenset({"approve", AUTO_APPROVE})
_NO_FIRST_APPROVAL = {"first_reviewed_by": None, "first_reviewed_at": None, "first_reviewed_revision": None}


def _revision_values(session: Session, item: Item) -> dict[str, Any]:
    """Live-column values taken from the revision awaiting review (approving an edited approved item)."""
    revision = session.scalars(
        select(ItemRevision).where(
            ItemRevision.item_id == item.id, ItemRevision.number == item.pending_revision
        )
    ).one()
    return {
        "title": revision.title,
        "html": revision.html,
        "text": revision.text,
        "content_hash": revision.content_hash,
        "published_at": revision.published_at or item.published_at,
        "pending_revision": None,
    }


def _plan(session: Session, item: Item, action: str, reason: str | None) -> tuple[ItemState, dict[str, Any]]:
    rule = RULES.get(action)
    if rule is None:
        raise InvalidTransition(f"unknown action {action!r}; known: {', '.join(sorted(RULES))}")
    state = ItemState(item.state)
    if action in _REVISION_APPROVALS and state is ItemState.APPROVED and item.pending_revision is not None:
        return ItemState.APPROVED, _revision_values(session, item)
    if action == "reject" and state is ItemState.APPROVED and item.pending_revision is not None:
        # Declining a source's edit: the approved content stays live, the edit is archived unpublished.
        return ItemState.APPROVED, {"pending_revision": None}
    if state not in rule.sources:
        raise InvalidTransition(f"cannot {action} item {item.id} in state {state.value}")
    if rule.needs_reason and not (reason or "").strip():
        raise InvalidTransition(f"{action} needs a reason (a reason code or text)")
    return rule.target, {}


def _approval_step(session: Session, item: Item, name: str, rules: ReviewRules, revision_number: int) -> str:
    """ "single", "first" (初审) or "final" (终审) for a reviewer's approval of ``revision_number``."""
    level = session.scalar(select(Unit.level).where(Unit.id == item.unit_id))
    if not rules.two_steps(level, item.category):
        return "single"
    if item.first_reviewed_by is None or item.first_reviewed_revision != revision_number:
        return "first"
    if item.first_reviewed_by == name:
        raise Forbidden(
            f"item {item.id}: the final review (终审) must be taken by someone other than"
            f" the first reviewer {name!r}"
        )
    return "final"


def transition(
    session: Session,
    item_id: int,
    action: str,
    actor: User | str,
    reason: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
    *,
    reason_code: str | None = None,
    expected_hash: str | None = None,
    rules: ReviewRules | None = None,
) -> Item:
    """Apply ``action`` to an item: check, lock optimistically, audit, and queue the index update.

    ``reason`` is free text, ``reason_code`` a code of the reasons file (its template is recorded,
    then the text). ``expected_hash`` is the content hash of the revision the reviewer saw: if the
    source changed the item since, the decision is a Conflict. Runs in the caller's transaction; the
    caller commits. Raises NotFound, Forbidden, Claimed, InvalidTransition (UnknownReason among them)
    or Conflict (the item changed since ``expected_version``).
    """
    now = now or utcnow()
    rules = rules or ReviewRules()
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise NotFound(f"no item {item_id}")
    check_permission(session, actor, item)
    name = actor_name(actor)
    check_claim(item, name, now)
    version = item.version
    if expected_version is not None and expected_version != version:
        raise Conflict(f"item {item_id} is at version {version}, not {expected_version}")
    reason = rules.reasons().resolve(action, reason_code, reason) if reason_code else reason
    target, extra = _plan(session, item, action, reason)
    from_state = item.state
    revision_number = item.pending_revision or item.revision_count
    found = snapshot(session, item_id, revision_number)
    if expected_hash is not None and expected_hash != found.content_hash:
        raise Conflict(
            f"item {item_id} changed at its source since you read it (revision {revision_number}); reload"
        )
    if action == AUTO_APPROVE:
        _check_policy(session, actor, item, revision_number)
    recorded = action
    values: dict[str, Any] = {"state": target.value, "reviewed_by": name, "reviewed_at": now, **extra}
    values.update(_NO_FIRST_APPROVAL)
    if action == "reject" and from_state == ItemState.APPROVED.value:
        # The live content keeps the reviewer who answers for it; only the edit is declined.
        recorded, values = DECLINE_REVISION, {"pending_revision": None, **_NO_FIRST_APPROVAL}
    if action == "approve":
        step = _approval_step(session, item, name, rules, revision_number)
        if step == "first":
            # 初审: the live content (and who answers for it) stays; the item waits for 终审.
            recorded = FIRST_APPROVAL
            stays = ItemState.APPROVED if from_state == ItemState.APPROVED.value else ItemState.PENDING
            target = stays
            values = {
                "state": stays.value,
                "first_reviewed_by": name,
                "first_reviewed_at": now,
                "first_reviewed_revision": revision_number,
            }
        elif step == "final":
            for key in _NO_FIRST_APPROVAL:
                values.pop(key)  # the published page names the first reviewer too
    _decide(session, item, version, now, values)
    _record(
        session, item, recorded, name, from_state, target, reason, reason_code, revision_number, found, now
    )
    session.refresh(item)
    if "content_hash" in values:  # an edit went live: its fingerprint and repost link follow the new text
        relink_repost(session, item)
    return item


def _decide(session: Session, item: Item, version: int, now: datetime, values: dict[str, Any]) -> None:
    # The WHERE on version makes two concurrent reviewers race on one row: exactly one wins.
    result = session.execute(
        update(Item)
        .where(Item.id == item.id, Item.version == version)
        .values(version=version + 1, updated_at=now, claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"item {item.id} was changed by someone else; reload and try again")


def _record(
    session: Session,
    item: Item,
    action: str,
    name: str,
    from_state: str,
    target: ItemState,
    reason: str | None,
    reason_code: str | None,
    revision_number: int,
    found: Snapshot,
    now: datetime,
) -> None:
    """The audit event and the index outbox row of a decision."""
    session.add(
        ModerationEvent(
            item_id=item.id,
            revision_number=revision_number,
            actor=name,
            action=action,
            from_state=from_state,
            to_state=target.value,
            reason=reason,
            reason_code=reason_code,
            created_at=now,
            **event_values(found),
        )
    )
    # Every decision changes what the index holds of the item (its state, its version, or both): staff
    # search every state, so the item is indexed again whatever the transition (index/outbox.py).
    session.add(OutboxEntry(item_id=item.id, op=OutboxOp.UPSERT.value, created_at=now))
    queue_publish(session, item.id, action, from_state, target.value, now)  # WebSub hub: hub/websubhub.py
    session.flush()


def _check_policy(session: Session, actor: User | str, item: Item, revision_number: int) -> None:
    """Only a policy auto-approves, and only a revision without any screening hit."""
    if not isinstance(actor, str) or not is_policy_actor(actor):
        raise Forbidden(f"{AUTO_APPROVE} is taken by an auto-approve policy, not by {actor_name(actor)!r}")
    if not is_clean(session, item.id, revision_number):
        raise InvalidTransition(
            f"item {item.id} revision {revision_number} has screening hits: a reviewer decides"
        )


def approve(
    session: Session,
    item_id: int,
    actor: User | str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Item:
    """Approve an item (or the revision of an approved item awaiting review)."""
    return transition(session, item_id, "approve", actor, reason, expected_version)


def reject(
    session: Session,
    item_id: int,
    actor: User | str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Item:
    """Reject a pending item."""
    return transition(session, item_id, "reject", actor, reason, expected_version)


def needs_changes(
    session: Session, item_id: int, actor: User | str, reason: str, expected_version: int | None = None
) -> Item:
    """Send a pending item back to its source for changes; a reason is required."""
    return transition(session, item_id, "needs_changes", actor, reason, expected_version)


def withdraw(
    session: Session, item_id: int, actor: User | str, reason: str, expected_version: int | None = None
) -> Item:
    """Take an approved item off the portal; a reason is required."""
    return transition(session, item_id, "withdraw", actor, reason, expected_version)
