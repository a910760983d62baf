"""Errors of the moderation service; the API maps them to 409 / 403 / 422 / 404."""

from __future__ import annotations


class ModerationError(Exception):
    """Base of every moderation error."""


class Conflict(ModerationError):
    """The item changed since the caller read it (stale version): reload and decide again."""


class Forbidden(ModerationError):
    """The actor may not make this decision."""


class InvalidTransition(ModerationError):
    """The action does not apply to the item's current state (or lacks a required reason)."""


class NotFound(ModerationError):
    """No item with that id."""


class Claimed(Conflict):
    """Another reviewer holds a claim on the item until it lapses or is released."""

    def __init__(self, item_id: int, holder: str, until: str) -> None:
        super().__init__(f"item {item_id} is claimed by {holder!r} until {until}")
        self.item_id = item_id
        self.holder = holder
        self.until = until


class UnknownReason(InvalidTransition):
    """A reason code that the reasons file does not define for this action."""


class HasHits(InvalidTransition):
    """Bulk approval refused: the revision under review has screening hits and needs a look of its own."""


# Most specific first: Claimed is a Conflict, HasHits and UnknownReason are InvalidTransitions.
_KINDS: tuple[tuple[type[ModerationError], str], ...] = (
    (Claimed, "claimed"),
    (Conflict, "conflict"),
    (Forbidden, "forbidden"),
    (NotFound, "not_found"),
    (HasHits, "has_hits"),
    (UnknownReason, "unknown_reason"),
)
# Every word error_kind can return (the staff pages label each one: api/staff_script_i18n.py).
ERROR_KINDS: tuple[str, ...] = (*(kind for _, kind in _KINDS), "invalid")


def error_kind(error: ModerationError) -> str:
    """A stable word for an error, reported per item by bulk operations and the API."""
    for cls, kind in _KINDS:
        if isinstance(error, cls):
            return kind
    return "invalid"
