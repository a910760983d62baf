"""Shapes of the sources API (/api/v1/sources): a source as staff see it, what they send to add, edit and
test one, and what a test or a discovery yields. The input shapes bound sizes only; what a source may be
is checked once, by ``hub/sourceadmin.py`` (the registry's rules), so both ways in refuse the same."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.paging import PageOut
from api.schemas import UnitRef
from hub.sourceadmin import MAX_TEST_ITEMS

SelectorKey = Annotated[str, Field(min_length=1, max_length=20)]
SelectorValue = Annotated[str, Field(max_length=1000)]
Selectors = Annotated[
    dict[SelectorKey, SelectorValue],
    Field(
        max_length=20,
        description="CSS or XPath (starting with / or '(') per part: item, link, title, date, body, next;"
        " 'guid' is the GUID policy (auto, guid or url); 'full_text' fetches each feed entry's page"
        " (auto: when the feed carries only a summary, always or never).",
    ),
]


class SourceOut(BaseModel):
    """A source in a list."""

    id: int
    name: str
    kind: str = Field(description="feed, html, sitemap or account.")
    url: str = Field(
        description="As stored, secret query values (key=, token=...) shown as ***; sent back unchanged in a"
        " PATCH it keeps the stored URL. An account given as platform + id is bridge://platform/id."
    )
    platform: str | None = None
    account_id: str | None = None
    category: str | None = None
    unit: UnitRef
    enabled: bool
    status: str = Field(description="Health status (unknown until the health sweep assessed it).")
    paused_at: datetime | None = Field(None, description="Paused after failing too long (probed slowly).")
    next_check_at: datetime | None = None
    last_checked_at: datetime | None = None
    consecutive_failures: int = 0
    last_error_kind: str | None = None


class SourceDetailOut(SourceOut):
    """One source with its selectors, policy and schedule."""

    selectors: dict[str, Any]
    auto_approve: bool | None = Field(None, description="null: the unit's policy.")
    check_interval_s: int = Field(description="The current check interval (adapted after each crawl).")
    last_success_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    staff_url: str = Field(description="The source's staff page.")


class SourceListOut(PageOut):
    """One page of sources, in tree order."""

    items: list[SourceOut]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    kind: str | None = Field(None, max_length=16, description="feed, html, sitemap or account.")
    url: str | None = Field(None, max_length=1000, description="Empty for an account given as platform + id.")
    platform: str | None = Field(None, max_length=16, description="weibo or wechat (accounts).")
    account: str | None = Field(None, max_length=100, description="The account id on the platform.")
    category: str | None = Field(None, max_length=50)
    selectors: Selectors | None = None
    auto_approve: bool | None = Field(None, description="null: the unit's policy.")

    def changes(self) -> dict[str, Any]:
        """The fields the client sent (a PATCH leaves the others as they are)."""
        return self.model_dump(exclude_unset=True, exclude={"unit", "enabled", "check_interval_s", "limit"})


class SourceIn(_Fields):
    """A new source: its unit (slug), name, kind and URL (or platform + account), options."""

    unit: str = Field(min_length=1, max_length=64, description="The unit's slug.")
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16, description="feed, html, sitemap or account.")
    check_interval_s: int | None = Field(
        None, ge=0, le=2**31 - 1, description="First check interval (default: crawl.default_interval_s)."
    )


class SourcePatch(_Fields):
    """Changes to a source: only the fields sent are changed."""

    enabled: bool | None = None
    check_interval_s: int | None = Field(
        None, ge=0, le=2**31 - 1, description="The check interval until the next crawl adapts it."
    )


class SourceTestIn(_Fields):
    """A test of a source as it is, or with these fields changed (nothing is stored)."""

    limit: int = Field(10, ge=1, le=MAX_TEST_ITEMS, description="Items to read at most.")


class NewSourceTestIn(SourceTestIn):
    """A test of a source not added yet (nothing is stored)."""

    name: str = Field("test", max_length=200)
    kind: str = Field(max_length=16, description="feed, html, sitemap or account.")


class PreviewItemOut(BaseModel):
    """An item the source yields now, as a crawl would hand it to ingest."""

    title: str
    url: str
    published_at: datetime | None
    date_source: str = Field(description="Where the date came from: selector, label, meta, list, feed, url.")
    author: str | None = None
    origin: str | None = None
    attachments: int
    text: str = Field(description="The start of the body's plain text.")


class PreviewOut(BaseModel):
    """What a test read; nothing was stored."""

    source_id: int | None
    items: list[PreviewItemOut]
    problems: list[str] = Field(description="Pages that could not be read or parsed.")
    stored: Literal[False] = False


class DiscoverIn(BaseModel):
    """A site's homepage to discover sources on."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=1000)


class ProposalOut(BaseModel):
    """A proposed source with a preview of what it yields."""

    kind: str
    url: str
    name: str
    preview: list[str]
    registered_source_id: int | None = Field(None, description="Already registered as this source.")


class DiscoveryOut(BaseModel):
    """What a homepage offers; nothing was stored."""

    homepage: str
    proposals: list[ProposalOut]
    problems: list[str]
