"""Claims: a reviewer holds an item (or a batch) for a limited time (docs/architecture.md step 6).

A claim is two columns on the item (``claimed_by``, ``claimed_until``) set by one conditional UPDATE,
so two reviewers claiming at once cannot both win. While a claim holds, ``service.transition`` refuses
every other person's decision with ``Claimed`` (naming the holder and the expiry); a lapsed claim is
simply ignored. A decision ends the claim. Claims do not change the item's version: the reviewer's
view stays current. Auto-approve policies are not held back (they act only on fresh revisions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hub.models import Item, ItemState, Role, User
from hub.timeutil import utcnow
from moderation.errors import Claimed, Forbidden, InvalidTransition, ModerationError, NotFound
from moderation.outcome import ItemOutcome
from moderation.permissions import actor_name, check_permission
from moderation.policy import is_policy_actor
from moderation.queue import QueueFilter, queue_entries


def holder(item: Item, now: datetime) -> str | None:
    """Who holds ``item`` right now (None: nobody, or the claim lapsed)."""
    if item.claimed_by and item.claimed_until is not None and item.claimed_until > now:
        return item.claimed_by
    return None


def check_claim(item: Item, name: str, now: datetime) -> None:
    """Raise Claimed if someone other than ``name`` holds ``item``."""
    held_by = holder(item, now)
    if held_by is not None and held_by != name and not is_policy_actor(name):
        until = item.claimed_until.isoformat(timespec="seconds") if item.claimed_until else "?"
        raise Claimed(item.id, held_by, until)


def awaits_review(item: Item) -> bool:
    """Whether a reviewer has something to decide on ``item`` (what may be claimed)."""
    return item.state == ItemState.PENDING.value or (
        item.state == ItemState.APPROVED.value and item.pending_revision is not None
    )


def claim_item(
    session: Session, item_id: int, actor: User | str, length: timedelta, now: datetime | None = None
) -> Item:
    """Claim one item for ``length`` (renewing one's own claim); raises Claimed if another holds it."""
    now = now or utcnow()
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise NotFound(f"no item {item_id}")
    check_permission(session, actor, item)
    if not awaits_review(item):
        raise InvalidTransition(f"item {item_id} ({item.state}) awaits no review: nothing to claim")
    name = actor_name(actor)
    result = session.execute(
        update(Item)
        .where(
            Item.id == item_id,
            or_(Item.claimed_by.is_(None), Item.claimed_by == name, Item.claimed_until <= now),
        )
        .values(claimed_by=name, claimed_until=now + length)
        .execution_options(synchronize_session=False)
    )
    session.refresh(item)
    if getattr(result, "rowcount", 0) != 1:
        check_claim(item, name, now)
    return item


def release_item(session: Session, item_id: int, actor: User | str, now: datetime | None = None) -> Item:
    """Give a claim back; only its holder or an admin may (an unheld item is left as it is)."""
    now = now or utcnow()
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise NotFound(f"no item {item_id}")
    check_permission(session, actor, item)
    name = actor_name(actor)
    held_by = holder(item, now)
    is_admin = isinstance(actor, User) and actor.role == Role.ADMIN.value
    if held_by is not None and held_by != name and not is_admin:
        raise Forbidden(f"item {item_id} is claimed by {held_by!r}; only they or an admin may release it")
    session.execute(
        update(Item)
        .where(Item.id == item_id)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(item)
    return item


def _each(session: Session, item_ids: Sequence[int], apply: Callable[[int], Item]) -> list[ItemOutcome]:
    outcomes: list[ItemOutcome] = []
    for item_id in dict.fromkeys(item_ids):
        try:
            with session.begin_nested():
                item = apply(item_id)
            outcomes.append(ItemOutcome.done(item))
        except ModerationError as error:
            outcomes.append(ItemOutcome.refused(item_id, error))
    return outcomes


def claim_items(
    session: Session,
    item_ids: Sequence[int],
    actor: User | str,
    length: timedelta,
    now: datetime | None = None,
) -> list[ItemOutcome]:
    """Claim a batch; each item is claimed or refused on its own (held by another, out of scope...)."""
    now = now or utcnow()
    return _each(session, item_ids, lambda item_id: claim_item(session, item_id, actor, length, now))


def release_items(
    session: Session, item_ids: Sequence[int], actor: User | str, now: datetime | None = None
) -> list[ItemOutcome]:
    """Release a batch of claims, item by item."""
    now = now or utcnow()
    return _each(session, item_ids, lambda item_id: release_item(session, item_id, actor, now))


def claim_next(
    session: Session,
    actor: User | str,
    count: int,
    length: timedelta,
    queue: QueueFilter | None = None,
    now: datetime | None = None,
) -> list[ItemOutcome]:
    """Claim the next ``count`` unclaimed pending items of the queue (riskiest first) in the actor's scope."""
    now = now or utcnow()
    scope = actor.unit_scope_id if isinstance(actor, User) else None
    base = queue or QueueFilter()
    wanted = QueueFilter(**{**base.as_dict(), "unit_subtree": base.unit_subtree or scope, "claim": "free"})
    candidates = [entry.item.id for entry in queue_entries(session, wanted, limit=count * 2, now=now)]
    outcomes: list[ItemOutcome] = []
    for item_id in candidates:
        outcome = claim_items(session, [item_id], actor, length, now)[0]
        if outcome.ok:
            outcomes.append(outcome)
        if len(outcomes) == count:
            break
    return outcomes


def claimed_by(session: Session, name: str, now: datetime | None = None) -> list[Item]:
    """The items ``name`` holds right now."""
    now = now or utcnow()
    query = select(Item).where(Item.claimed_by == name, Item.claimed_until > now).order_by(Item.claimed_until)
    return list(session.scalars(query))
