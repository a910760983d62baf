"""Shapes of the units API (/api/v1/units): the directory, one unit with its place in the tree, and the
unit's approved items. What the public unit page shows, as JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.paging import PageOut
from api.schemas import UnitRef


class UnitOut(BaseModel):
    """A unit of the tree."""

    id: int
    slug: str
    name: str
    level: str = Field(description="city, district, street, community or branch.")
    unit_type: str = Field(description="government, party, enterprise, community, school, hospital, other.")
    region_code: str | None = Field(None, description="Administrative division code.")
    parent_id: int | None = None
    website: str | None = None
    portal_url: str = Field(description="The unit's page on this portal.")


class UnitListOut(PageOut):
    """One page of units, in tree order."""

    items: list[UnitOut]


class UnitSourceOut(BaseModel):
    """A source the unit is read from: public fields only (never credentials or bridge keys)."""

    id: int
    name: str
    kind: str = Field(description="feed, html, sitemap or account.")
    category: str | None = None
    url: str | None = Field(None, description="The source's http(s) address; null for social accounts.")
    platform: str | None = Field(None, description="weibo or wechat, for accounts.")
    account_id: str | None = Field(None, description="The public account name, for accounts.")
    enabled: bool | None = Field(
        None, description="Staff only: false for a source not crawled; null for the public."
    )


class FeedLinksOut(BaseModel):
    """One feed format of the unit, with and without the units below it."""

    format: str = Field(description="rss, atom or json.")
    media_type: str
    subtree: str = Field(description="The unit's items and those of every unit below it.")
    own: str = Field(description="The unit's own items only.")


class WidgetOut(BaseModel):
    """Embeddable widgets of the unit's latest items (and below), with the code to paste."""

    iframe_url: str
    script_url: str
    data_url: str = Field(description="The JSON the script widget reads.")
    iframe_html: str
    script_html: str


class UnitBadgeOut(BaseModel):
    """The crawl health the unit page shows (api/unit_health.py): its enabled sources and, once a health
    sweep has run, the unit's status and activity score."""

    status: str = Field(description="ok, failing, never (no successful crawl yet) or no_sources.")
    sources: int
    failing: int = Field(description="Sources whose latest crawl failed.")
    worst_failures: int = Field(description="The longest run of consecutive failures among them.")
    last_success_at: datetime | None
    site_status: str | None = Field(None, description="active, slowing, stale, dormant, broken, unreachable.")
    score: float | None = Field(None, description="Activity score 0-100.")


class UnitCountsOut(BaseModel):
    """How much is in and under the unit."""

    children: int
    units_below: int = Field(description="Every unit of the subtree, the unit itself not counted.")
    sources: int = Field(description="Sources listed (enabled ones for the public).")
    approved_items: int = Field(description="The unit's own approved items.")
    approved_items_subtree: int = Field(description="Approved items of the unit and every unit below it.")


class UnitDetailOut(UnitOut):
    """One unit with its parent chain, children, sources, feeds, widgets and counts."""

    breadcrumb: list[UnitRef] = Field(description="Root first, ending with this unit.")
    children: list[UnitOut]
    sources: list[UnitSourceOut]
    feeds: list[FeedLinksOut]
    widget: WidgetOut
    counts: UnitCountsOut
    health: UnitBadgeOut
    items_url: str = Field(description="This API's list of the unit's approved items.")


class UnitItemOut(BaseModel):
    """An approved item in a unit's list."""

    id: int
    title: str
    url: str = Field(description="The original page at the source.")
    portal_url: str
    unit: UnitRef
    published_at: datetime | None
    first_seen_at: datetime
    category: str | None = None
    has_attachments: bool = False


class UnitItemsOut(PageOut):
    """One page of a unit's approved items, newest first."""

    items: list[UnitItemOut]
