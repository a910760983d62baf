"""sitemap.xml and robots.txt: the public pages for search engines, absolute under ``settings.web.base_url``.

The sitemap lists the home page, the unit directory, every unit page and every approved item's page
(with its publication date as ``lastmod``), in that order. Up to ``MAX_URLS`` it is one ``urlset``;
past that, ``/sitemap.xml`` is a sitemap index of ``/sitemap-1.xml``, ``/sitemap-2.xml``, ... each
holding the next ``MAX_URLS`` of the same list (sitemaps.org allows 50,000 URLs per file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from api import content
from api.deps import SessionDep, SettingsDep

router = APIRouter(tags=["portal"])

MAX_URLS = 50_000
CACHE = "public, max-age=3600"
XML_TYPE = "application/xml; charset=utf-8"
_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
FIXED_PATHS = ("/", "/units")


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One URL of the sitemap and when its content last changed (None: not stated)."""

    loc: str
    lastmod: datetime | None = None


def _w3c(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def urlset(entries: list[SitemapEntry]) -> str:
    """A sitemap ``urlset`` document."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{_NS}">']
    for entry in entries:
        lastmod = f"<lastmod>{_w3c(entry.lastmod)}</lastmod>" if entry.lastmod else ""
        lines.append(f"<url><loc>{escape(entry.loc)}</loc>{lastmod}</url>")
    lines.append("</urlset>\n")
    return "\n".join(lines)


def sitemap_index(base_url: str, files: int) -> str:
    """A sitemap index naming ``files`` numbered sitemaps."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{_NS}">']
    for number in range(1, files + 1):
        lines.append(f"<sitemap><loc>{escape(f'{base_url}/sitemap-{number}.xml')}</loc></sitemap>")
    lines.append("</sitemapindex>\n")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Sitemap:
    """The list of public URLs, read in slices: fixed pages, unit pages, then item pages."""

    session: Session
    base_url: str
    unit_slugs: list[str]
    items: int

    @classmethod
    def load(cls, session: Session, base_url: str) -> Sitemap:
        return cls(
            session,
            base_url.rstrip("/"),
            content.all_unit_slugs(session),
            content.approved_item_total(session),
        )

    @property
    def total(self) -> int:
        return len(FIXED_PATHS) + len(self.unit_slugs) + self.items

    def files(self, per_file: int) -> int:
        """Number of sitemap files needed at ``per_file`` URLs each (at least one)."""
        return max(1, math.ceil(self.total / per_file))

    def entries(self, start: int, count: int) -> list[SitemapEntry]:
        """``count`` URLs of the list from position ``start``."""
        pages = [f"{self.base_url}{path}" for path in FIXED_PATHS]
        pages += [f"{self.base_url}/units/{quote(slug, safe='')}" for slug in self.unit_slugs]
        found = [SitemapEntry(loc) for loc in pages[start : start + count]]
        item_start = max(0, start - len(pages))
        wanted = count - len(found)
        if wanted > 0:
            refs = content.approved_item_refs(self.session, item_start, wanted)
            found += [SitemapEntry(f"{self.base_url}/items/{item_id}", changed) for item_id, changed in refs]
        return found

    def document(self, page: int | None, per_file: int) -> str | None:
        """``/sitemap.xml`` (page None) or ``/sitemap-<page>.xml``; None for a page that does not exist."""
        files = self.files(per_file)
        if page is None:
            return urlset(self.entries(0, per_file)) if files == 1 else sitemap_index(self.base_url, files)
        if files == 1 or not 1 <= page <= files:
            return None  # a single sitemap has no numbered parts
        return urlset(self.entries((page - 1) * per_file, per_file))


@router.get("/sitemap.xml", name="sitemap", response_class=Response)
def sitemap(session: SessionDep, settings: SettingsDep) -> Response:
    """Every public page (or, past 50,000, the index of the numbered sitemaps)."""
    document = Sitemap.load(session, settings.web.base_url).document(None, MAX_URLS)
    return Response(document, media_type=XML_TYPE, headers={"Cache-Control": CACHE})


@router.get("/sitemap-{page:int}.xml", name="sitemap_part", response_class=Response)
def sitemap_part(page: int, session: SessionDep, settings: SettingsDep) -> Response:
    """One numbered part of a sitemap too large for one file."""
    document = Sitemap.load(session, settings.web.base_url).document(page, MAX_URLS)
    if document is None:
        raise HTTPException(status_code=404)
    return Response(document, media_type=XML_TYPE, headers={"Cache-Control": CACHE})


def robots_txt(base_url: str) -> str:
    """Public pages allowed, staff pages and the staff API not, and where the sitemap is."""
    return (
        "User-agent: *\n"
        "Allow: /\n"
        "Disallow: /staff\n"
        "Disallow: /api/v1/staff\n"
        "Disallow: /api/v1/moderation\n"
        f"Sitemap: {base_url.rstrip('/')}/sitemap.xml\n"
    )


@router.get("/robots.txt", name="robots", response_class=PlainTextResponse)
def robots(settings: SettingsDep) -> PlainTextResponse:
    """robots.txt."""
    return PlainTextResponse(robots_txt(settings.web.base_url), headers={"Cache-Control": CACHE})
