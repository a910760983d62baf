"""Shapes of the JSON API (pydantic): what /api/v1 answers and accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hub.models import Item
from moderation.policy import policy_name


class UnitRef(BaseModel):
    """The unit an item belongs to."""

    id: int
    name: str
    slug: str | None = None


class SearchItemOut(BaseModel):
    """One search hit."""

    id: int
    title: str
    snippet: str = Field(description="Plain text, HTML-escaped, matches wrapped in <mark>.")
    title_highlight: str = Field(description="The whole title, HTML-escaped, matches wrapped in <mark>.")
    url: str = Field(description="The original page at the source.")
    portal_url: str = Field(description="The item's page on this portal.")
    unit: UnitRef
    published_at: datetime | None
    category: str | None = None
    has_attachments: bool = False
    repost_count: int = Field(0, description="Reposts of this item folded into it (collapsed results).")
    state: str | None = Field(None, description="Moderation state (staff search only).")


class FacetOut(BaseModel):
    """One facet bucket: pass ``value`` back as the filter of that facet."""

    value: str
    label: str
    count: int


class SearchOut(BaseModel):
    """One page of search results."""

    total: int
    page: int
    page_size: int
    pages: int
    items: list[SearchItemOut]
    facets: dict[str, list[FacetOut]] = Field(
        default_factory=dict, description="unit, level, category and month buckets over all matches."
    )
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null on the last.")


class SuggestionOut(BaseModel):
    """A title offered while typing."""

    id: int
    title: str
    portal_url: str


class AttachmentOut(BaseModel):
    name: str
    url: str


class ItemOut(BaseModel):
    """A full item (approved for the public; any state for staff)."""

    id: int
    title: str
    html: str = Field(description="Sanitized HTML of the body.")
    text: str
    url: str
    portal_url: str
    unit: UnitRef
    category: str | None
    origin: str | None
    published_at: datetime | None
    date_source: str
    attachments: list[AttachmentOut]
    state: str
    version: int
    reviewed_by: str | None
    reviewed_at: datetime | None
    # Set when no person approved it: the auto-approve policy that did (moderation/policy.py).
    auto_approved_by_policy: str | None = None
    removed_at_source_at: datetime | None = Field(
        None,
        description="When the page was found gone at its source (404/410 or unlisted); the item is kept.",
    )
    repost_of: int | None = Field(None, description="The item this one reposts (转载自), if any.")

    @classmethod
    def from_item(cls, item: Item, portal_url: str) -> ItemOut:
        """Build from the model."""
        return cls(
            id=item.id,
            title=item.title,
            html=item.html,
            text=item.text,
            url=item.url,
            portal_url=portal_url,
            unit=UnitRef(id=item.unit.id, name=item.unit.name, slug=item.unit.slug),
            category=item.category,
            origin=item.origin,
            published_at=item.published_at,
            date_source=item.date_source,
            attachments=[_attachment(entry) for entry in item.attachments or [] if isinstance(entry, dict)],
            state=item.state,
            version=item.version,
            reviewed_by=item.reviewed_by,
            reviewed_at=item.reviewed_at,
            auto_approved_by_policy=policy_name(item.reviewed_by),
            removed_at_source_at=item.removed_at_source_at,
            repost_of=item.repost_of_id,
        )


def _attachment(entry: dict[str, Any]) -> AttachmentOut:
    return AttachmentOut(name=str(entry.get("name") or ""), url=str(entry.get("url") or ""))
