"""Who may decide what: roles and unit-subtree scope of moderators (docs/architecture.md step 6)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.models import Item, Role, Unit, User
from moderation.errors import Forbidden

DECIDING_ROLES = frozenset({Role.ADMIN.value, Role.MODERATOR.value})


def actor_name(actor: User | str) -> str:
    """The name recorded as responsible for a decision."""
    return actor.username if isinstance(actor, User) else actor


def in_scope(session: Session, actor: User | str, unit_id: int) -> bool:
    """Whether ``unit_id`` lies in the actor's unit subtree (unscoped actors see every unit)."""
    if isinstance(actor, str) or actor.unit_scope_id is None or actor.role == Role.ADMIN.value:
        return True
    unit = session.get(Unit, unit_id)
    return unit is not None and f"/{actor.unit_scope_id}/" in unit.path


def check_permission(session: Session, actor: User | str, item: Item) -> None:
    """Raise Forbidden unless ``actor`` may decide on ``item``; system actors (strings) may."""
    if isinstance(actor, str):
        if not actor.strip():
            raise Forbidden("an anonymous actor may not moderate")
        return
    if not actor.active or actor.role not in DECIDING_ROLES:
        raise Forbidden(f"user {actor.username!r} ({actor.role}) may not moderate")
    if actor.role == Role.MODERATOR.value and not in_scope(session, actor, item.unit_id):
        raise Forbidden(f"item {item.id} is outside the unit scope of {actor.username!r}")
