"""Auto-approve policy: clean items of trusted sources go live unreviewed (docs/architecture.md step 6).

Off by default. A unit turns it on (or off) for its whole subtree (``Unit.auto_approve``; None inherits
the parent's), a source may override its unit (``Source.auto_approve``; None follows the unit). It
applies only to a revision with zero screening hits, and only where no reviewer has spoken yet: a new
item, a new revision of a still pending item, or a new revision of an approved item. The decision is
an ordinary transition (action ``auto_approve``) whose actor names the policy, ``policy:unit/<slug>``
or ``policy:source/<id>``: the audit trail and the published page say which policy let it through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import ItemState, ScreeningHit, Source, Unit

ACTION = "auto_approve"
ACTOR_PREFIX = "policy:"
# States from which a fresh revision may be auto-approved (a rejected or needs-changes item had a reviewer).
POLICY_STATES = frozenset({ItemState.PENDING.value, ItemState.APPROVED.value})


@dataclass(frozen=True, slots=True)
class AutoApprovePolicy:
    """An auto-approve policy in force for a source, named after where it was set."""

    name: str  # "unit/<slug>" or "source/<id>"

    @property
    def actor(self) -> str:
        """The actor recorded for the policy's decisions."""
        return f"{ACTOR_PREFIX}{self.name}"


def is_policy_actor(actor: str | None) -> bool:
    """Whether a recorded actor (``Item.reviewed_by``, an event's actor) is an auto-approve policy."""
    return bool(actor) and str(actor).startswith(ACTOR_PREFIX)


def policy_name(actor: str | None) -> str | None:
    """The policy named by a recorded actor, or None for a person."""
    return str(actor)[len(ACTOR_PREFIX) :] if actor and is_policy_actor(actor) else None


def policies_for_sources(session: Session, source_ids: Iterable[int]) -> dict[int, AutoApprovePolicy | None]:
    """The policy in force for each source (None: off), in two queries whatever the number of sources."""
    ids = set(source_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Source.id, Source.auto_approve, Unit.path)
        .join(Unit, Unit.id == Source.unit_id)
        .where(Source.id.in_(ids))
    ).all()
    ancestors = {int(part) for row in rows for part in row.path.strip("/").split("/") if part}
    units = {
        unit_id: (slug, flag)
        for unit_id, slug, flag in session.execute(
            select(Unit.id, Unit.slug, Unit.auto_approve).where(Unit.id.in_(ancestors))
        )
    }
    policies: dict[int, AutoApprovePolicy | None] = {}
    for source_id, own, path in rows:
        if own is not None:
            policies[source_id] = AutoApprovePolicy(f"source/{source_id}") if own else None
            continue
        policies[source_id] = None
        for part in reversed(path.strip("/").split("/")):  # nearest unit first
            slug, flag = units.get(int(part), ("", None)) if part else ("", None)
            if flag is not None:
                policies[source_id] = AutoApprovePolicy(f"unit/{slug}") if flag else None
                break
    return policies


def policy_for_source(session: Session, source_id: int) -> AutoApprovePolicy | None:
    """The policy in force for one source (None: off)."""
    return policies_for_sources(session, [source_id]).get(source_id)


def hit_counts(session: Session, revisions: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Screening hits per (item id, revision number); revisions without hits are left out."""
    wanted = list(revisions)
    if not wanted:
        return {}
    item_ids = {item_id for item_id, _ in wanted}
    query = (
        select(ScreeningHit.item_id, ScreeningHit.revision_number, func.count())
        .where(ScreeningHit.item_id.in_(item_ids))
        .group_by(ScreeningHit.item_id, ScreeningHit.revision_number)
    )
    keep = set(wanted)
    return {(i, n): c for i, n, c in session.execute(query) if (i, n) in keep}


def is_clean(session: Session, item_id: int, revision_number: int) -> bool:
    """Whether a revision has no screening hit at all (the only kind a policy may approve)."""
    return not hit_counts(session, [(item_id, revision_number)])
