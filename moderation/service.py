"""Moderation decisions: the one place an item changes state (docs/architecture.md step 6).

Every transition is checked, versioned (optimistic locking), audited as a ModerationEvent and
mirrored to the index through an OutboxEntry written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import Item, ItemRevision, ItemState, ModerationEvent, OutboxEntry, OutboxOp, Role, Unit, User
from hub.timeutil import utcnow
from moderation.errors import Conflict, Forbidden, InvalidTransition, NotFound
from moderation.policy import ACTION as AUTO_APPROVE
from moderation.policy import is_clean, is_policy_actor

DECIDING_ROLES = frozenset({Role.ADMIN.value, Role.MODERATOR.value})


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
    "withdraw": Rule(frozenset({ItemState.APPROVED}), ItemState.WITHDRAWN, needs_reason=True),
    # An auto-approve policy (moderation/policy.py) lets a clean item through where no reviewer spoke yet.
    AUTO_APPROVE: Rule(frozenset({ItemState.PENDING}), ItemState.APPROVED),
}
# Actions that take the revision awaiting review of an approved item live.
_REVISION_APPROVALS = frozenset({"approve", AUTO_APPROVE})


def actor_name(actor: User | str) -> str:
    """The name recorded as responsible for a decision."""
    return actor.username if isinstance(actor, User) else actor


def check_permission(session: Session, actor: User | str, item: Item) -> None:
    """Raise Forbidden unless ``actor`` may decide on ``item``; system actors (strings) may."""
    if isinstance(actor, str):
        if not actor.strip():
            raise Forbidden("an anonymous actor may not moderate")
        return
    if not actor.active or actor.role not in DECIDING_ROLES:
        raise Forbidden(f"user {actor.username!r} ({actor.role}) may not moderate")
    if actor.role == Role.MODERATOR.value and actor.unit_scope_id is not None:
        unit = session.get(Unit, item.unit_id)
        if unit is None or f"/{actor.unit_scope_id}/" not in unit.path:
            raise Forbidden(f"item {item.id} is outside the unit scope of {actor.username!r}")


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
    if state not in rule.sources:
        raise InvalidTransition(f"cannot {action} item {item.id} in state {state.value}")
    if rule.needs_reason and not (reason or "").strip():
        raise InvalidTransition(f"{action} needs a reason")
    return rule.target, {}


def transition(
    session: Session,
    item_id: int,
    action: str,
    actor: User | str,
    reason: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Item:
    """Apply ``action`` to an item: check, lock optimistically, audit, and queue the index update.

    Runs in the caller's transaction; the caller commits. Raises NotFound, Forbidden,
    InvalidTransition or Conflict (the item changed since ``expected_version``).
    """
    now = now or utcnow()
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise NotFound(f"no item {item_id}")
    check_permission(session, actor, item)
    version = item.version
    if expected_version is not None and expected_version != version:
        raise Conflict(f"item {item_id} is at version {version}, not {expected_version}")
    target, extra = _plan(session, item, action, reason)
    from_state = item.state
    revision_number = item.pending_revision or item.revision_count
    if action == AUTO_APPROVE:
        _check_policy(session, actor, item, revision_number)
    name = actor_name(actor)
    # The WHERE on version makes two concurrent reviewers race on one row: exactly one wins.
    result = session.execute(
        update(Item)
        .where(Item.id == item_id, Item.version == version)
        .values(
            state=target.value,
            version=version + 1,
            reviewed_by=name,
            reviewed_at=now,
            updated_at=now,
            **extra,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"item {item_id} was changed by someone else; reload and try again")
    session.add(
        ModerationEvent(
            item_id=item_id,
            revision_number=revision_number,
            actor=name,
            action=action,
            from_state=from_state,
            to_state=target.value,
            reason=reason,
            created_at=now,
        )
    )
    op = _outbox_op(from_state, target)
    if op is not None:
        session.add(OutboxEntry(item_id=item_id, op=op.value, created_at=now))
    session.flush()
    session.refresh(item)
    return item


def _check_policy(session: Session, actor: User | str, item: Item, revision_number: int) -> None:
    """Only a policy auto-approves, and only a revision without any screening hit."""
    if not isinstance(actor, str) or not is_policy_actor(actor):
        raise Forbidden(f"{AUTO_APPROVE} is taken by an auto-approve policy, not by {actor_name(actor)!r}")
    if not is_clean(session, item.id, revision_number):
        raise InvalidTransition(
            f"item {item.id} revision {revision_number} has screening hits: a reviewer decides"
        )


def _outbox_op(from_state: str, target: ItemState) -> OutboxOp | None:
    """Index update mirroring the transition: approved content is upserted, leaving approved deletes."""
    if target is ItemState.APPROVED:
        return OutboxOp.UPSERT
    if from_state == ItemState.APPROVED.value:
        return OutboxOp.DELETE
    return None


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


def withdraw(
    session: Session, item_id: int, actor: User | str, reason: str, expected_version: int | None = None
) -> Item:
    """Take an approved item off the portal; a reason is required."""
    return transition(session, item_id, "withdraw", actor, reason, expected_version)
