"""What a reviewer looks at for one item (docs/architecture.md step 6).

The revision under review with its screening hits (positions in the original text, for
highlighting), the live revision beside it when an approved item was edited at its source, a
line diff of the two, who holds a claim, the two-step review state, and the audit trail.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Item, ItemRevision, ModerationEvent, ScreeningHit, Unit
from moderation.audit import history
from moderation.claims import holder
from moderation.rules import ReviewRules


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a side-by-side diff: equal, delete (live only), insert (new only)."""

    op: str
    live: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class ReviewView:
    """Everything the review screen shows for one item."""

    item: Item
    revision: ItemRevision | None  # the revision under review
    live: ItemRevision | None  # the approved revision still live while ``revision`` waits (else None)
    hits: list[ScreeningHit]
    diff: list[DiffLine]
    claimed_by: str | None
    claimed_until: datetime | None
    two_steps: bool
    step: str  # "first" or "final" (two-step review); "single" otherwise
    events: list[ModerationEvent]


def line_diff(live: str, new: str) -> list[DiffLine]:
    """Side-by-side line diff of the live text and the new one."""
    old_lines, new_lines = live.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            lines += [DiffLine("equal", line, line) for line in old_lines[a1:a2]]
            continue
        lines += [DiffLine("delete", line, None) for line in old_lines[a1:a2]]
        lines += [DiffLine("insert", None, line) for line in new_lines[b1:b2]]
    return lines


def _revision(session: Session, item_id: int, number: int) -> ItemRevision | None:
    query = select(ItemRevision).where(ItemRevision.item_id == item_id, ItemRevision.number == number)
    return session.scalars(query).first()


def _live_revision(session: Session, item: Item) -> ItemRevision | None:
    """The newest revision whose content is the live content (an approved item edited at its source)."""
    query = (
        select(ItemRevision)
        .where(ItemRevision.item_id == item.id, ItemRevision.content_hash == item.content_hash)
        .order_by(ItemRevision.number.desc())
    )
    return session.scalars(query).first()


def review_view(session: Session, item: Item, rules: ReviewRules, now: datetime) -> ReviewView:
    """The review screen of ``item``."""
    number = item.pending_revision or item.revision_count
    revision = _revision(session, item.id, number)
    live = _live_revision(session, item) if item.pending_revision is not None else None
    hits = list(
        session.scalars(
            select(ScreeningHit)
            .where(ScreeningHit.item_id == item.id, ScreeningHit.revision_number == number)
            .order_by(ScreeningHit.field, ScreeningHit.start)
        )
    )
    diff = line_diff(live.text, revision.text) if live is not None and revision is not None else []
    level = session.scalar(select(Unit.level).where(Unit.id == item.unit_id))
    two_steps = rules.two_steps(level, item.category)
    step = "single"
    if two_steps:
        step = "final" if item.first_reviewed_by and item.first_reviewed_revision == number else "first"
    held_by = holder(item, now)
    return ReviewView(
        item=item,
        revision=revision,
        live=live,
        hits=hits,
        diff=diff,
        claimed_by=held_by,
        claimed_until=item.claimed_until if held_by else None,
        two_steps=two_steps,
        step=step,
        events=history(session, item.id),
    )
