"""Shapes of the staff moderation API (pydantic): queue, review view, decisions, claims, bulk, stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.params import MAX_LIST_IDS, RowIdField, RowIdList
from api.schemas import UnitRef
from moderation.outcome import ItemOutcome
from moderation.reasons import reason_label


class ClaimOut(BaseModel):
    """Who holds an item, until when (None: nobody)."""

    by: str | None
    until: datetime | None


class QueueItemOut(BaseModel):
    """An item in the moderation queue."""

    id: int
    title: str
    url: str
    unit: UnitRef
    state: str
    version: int
    category: str | None = None
    published_at: datetime | None
    first_seen_at: datetime
    queued_at: datetime | None = Field(None, description="When the revision under review was seen.")
    age_s: float | None = Field(None, description="Seconds the item has waited.")
    overdue: bool = Field(False, description="Waiting longer than moderation.queue_age_limit_h.")
    risk_score: float = 0.0
    hit_count: int = 0
    revision_number: int | None = None
    content_hash: str | None = Field(None, description="Hash of the revision under review (pin decisions).")
    claim: ClaimOut | None = None
    first_reviewed_by: str | None = Field(None, description="初审 reviewer when the item waits for 终审.")


class QueueOut(BaseModel):
    state: str
    total: int
    age_limit_h: float | None = None
    items: list[QueueItemOut]


class DecisionIn(BaseModel):
    """A decision on one item: the version and content the reviewer saw (409 if either moved on)."""

    reason: str | None = Field(None, max_length=2000, description="Free text (after the code's template).")
    reason_code: str | None = Field(None, max_length=40, description="A code of the reasons file.")
    version: int | None = None
    content_hash: str | None = Field(None, max_length=64)


class DecisionOut(BaseModel):
    """The item after a decision."""

    id: int
    state: str
    version: int
    reviewed_by: str | None
    reviewed_at: datetime | None
    first_reviewed_by: str | None = None
    step: str = Field("single", description="'first' when a first approval (初审) was recorded.")


class BulkItemIn(BaseModel):
    id: RowIdField
    version: int | None = None
    content_hash: str | None = Field(None, max_length=64)


class BulkIn(BaseModel):
    """Many items at once: plain ``ids``, or ``items`` pinned to the version/content seen."""

    ids: RowIdList = Field(default_factory=list)
    items: list[BulkItemIn] = Field(default_factory=list, max_length=MAX_LIST_IDS)
    reason: str | None = Field(None, max_length=2000)
    reason_code: str | None = Field(None, max_length=40)


class ClaimIn(BaseModel):
    """Claim named items, or (``next``) the next unclaimed items of the queue."""

    ids: RowIdList = Field(default_factory=list)
    next: int | None = Field(None, ge=1, le=100)


class OutcomeOut(BaseModel):
    """One item's result in a bulk operation."""

    id: int
    ok: bool
    state: str | None = None
    version: int | None = None
    error: str | None = Field(None, description="claimed, conflict, forbidden, not_found, has_hits, ...")
    message: str | None = None
    claim: ClaimOut | None = None

    @classmethod
    def of(cls, outcome: ItemOutcome) -> OutcomeOut:
        """From the service's outcome."""
        claim = ClaimOut(by=outcome.claimed_by, until=outcome.claimed_until) if outcome.ok else None
        return cls(
            id=outcome.item_id,
            ok=outcome.ok,
            state=outcome.state,
            version=outcome.version,
            error=outcome.error,
            message=outcome.message,
            claim=claim,
        )


class BulkOut(BaseModel):
    done: int
    refused: int
    results: list[OutcomeOut]

    @classmethod
    def of(cls, outcomes: list[ItemOutcome]) -> BulkOut:
        """Summary and per-item results."""
        done = sum(1 for outcome in outcomes if outcome.ok)
        return cls(done=done, refused=len(outcomes) - done, results=[OutcomeOut.of(o) for o in outcomes])


class HitOut(BaseModel):
    field: str
    start: int
    end: int
    term: str
    category: str
    severity: int
    lexicon_version: str


class RevisionOut(BaseModel):
    number: int
    title: str
    html: str
    text: str
    content_hash: str
    published_at: datetime | None
    created_at: datetime


class EventOut(BaseModel):
    """One audit event."""

    id: int
    revision_number: int
    action: str
    actor: str
    from_state: str | None
    to_state: str
    reason: str | None
    reason_code: str | None
    content_hash: str | None
    hit_count: int | None
    risk_score: float | None
    lexicon_version: str | None
    created_at: datetime


class DiffLineOut(BaseModel):
    op: str
    live: str | None
    new: str | None


class ReviewOut(BaseModel):
    """Everything the review screen needs for one item."""

    item: QueueItemOut
    revision: RevisionOut | None = Field(None, description="The revision under review.")
    live: RevisionOut | None = Field(None, description="The approved revision still live (edited items).")
    diff: list[DiffLineOut]
    hits: list[HitOut]
    two_steps: bool
    step: str
    events: list[EventOut]


class ReasonOut(BaseModel):
    code: str
    label: str
    label_en: str | None = Field(
        None, description="The label on staff pages read in English, if the file gives one."
    )
    template: str
    actions: list[str]

    def label_in(self, language: str) -> str:
        """The label for a staff page in ``language``."""
        return reason_label(self.label, self.label_en, language)


class StatsOut(BaseModel):
    since: datetime | None
    until: datetime | None
    reviewers: list[dict[str, Any]]
    units: list[dict[str, Any]]
