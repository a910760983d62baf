"""What a bulk operation (decisions, claims) reports for each item it was asked about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.models import Item
from moderation.errors import ModerationError, error_kind


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item's result: done (with its new state) or refused (with an error kind and message)."""

    item_id: int
    ok: bool
    state: str | None = None
    version: int | None = None
    error: str | None = None  # claimed, conflict, forbidden, not_found, has_hits, unknown_reason, invalid
    message: str | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None

    @classmethod
    def done(cls, item: Item) -> ItemOutcome:
        """The item after a successful operation."""
        return cls(
            item.id,
            True,
            item.state,
            item.version,
            claimed_by=item.claimed_by,
            claimed_until=item.claimed_until,
        )

    @classmethod
    def refused(cls, item_id: int, error: ModerationError) -> ItemOutcome:
        """An item the operation did not apply to, and why."""
        return cls(item_id, False, error=error_kind(error), message=str(error))
