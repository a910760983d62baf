"""Public portal pages: home, search, item, unit, directory. Only approved items ever reach these pages.

Every page names its canonical URL and carries OpenGraph tags, absolute under ``settings.web.base_url``
(``PageMeta``); the English version of a page is the same URL with ``lang=en``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from api import content
from api.clock import ClockDep
from api.deps import BackendDep, SessionDep, SettingsDep, get_templates, get_translator
from api.directory_cache import DirectoryCache, RenderedTree
from api.feeds.snippets import widget_snippets
from api.feeds.spec import FORMATS, FeedSpec
from api.i18n import Translator
from api.params import RowId
from api.rendering import http_url, render
from api.search import BadSearchRequest, SearchParams, SearchUnavailable, run_search, search_params
from api.unit_health import unit_health
from hub.models import Item, UnitLevel
from hub.settings import Settings
from index.backend import SearchBackend, SearchBackendError, SearchHit
from moderation.audit import first_reviewer

logger = logging.getLogger(__name__)
router = APIRouter(tags=["portal"], default_response_class=HTMLResponse)

HOME_ITEMS = 8  # per list: city, districts, grassroots
ACTIVE_UNITS = 10
ACTIVITY_DAYS = 30
RELATED_ITEMS = 5
DESCRIPTION_CHARS = 120
GRASSROOTS = (UnitLevel.STREET.value, UnitLevel.COMMUNITY.value, UnitLevel.BRANCH.value)


@dataclass(frozen=True, slots=True)
class Links:
    """Paths of the item and unit pages, for the lists that show dozens of them: Starlette's
    ``url_path_for`` walks the route table for every link (~50 µs each, a fifth of a unit page's time).
    ``tests/test_portal_pages.py`` checks they agree with it."""

    root: str  # the app's root_path ("" unless mounted under a prefix)

    def item(self, item_id: int) -> str:
        """Path of an item's page."""
        return f"{self.root}/items/{int(item_id)}"

    def unit(self, slug: str) -> str:
        """Path of a unit's page."""
        return f"{self.root}/units/{quote(slug, safe='')}"


def page(request: Request, template: str, context: dict[str, object], status_code: int = 200) -> HTMLResponse:
    """``render`` with the portal's ``links``."""
    links = Links(request.scope.get("root_path", ""))
    return render(request, template, {"links": links, **context}, status_code=status_code)


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What a page says about itself to search engines and link previews (all URLs absolute)."""

    canonical: str
    english: str  # the same page in English (hreflang alternate)
    description: str = ""
    og_type: str = "website"
    image: str = ""
    published: datetime | None = None
    noindex: bool = False


def page_meta(settings: Settings, path: str, query: str = "", **extra: object) -> PageMeta:
    """Meta of the page at root-relative ``path`` (and ``query``, already encoded)."""
    url = settings.web.base_url.rstrip("/") + path + (f"?{query}" if query else "")
    english = url + ("&" if query else "?") + "lang=en"
    return PageMeta(url, english, **extra)  # type: ignore[arg-type]


def _description(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DESCRIPTION_CHARS else flat[: DESCRIPTION_CHARS - 1] + "…"


def _most_active(session: Session, backend: SearchBackend, since: datetime) -> list[content.UnitCount]:
    try:
        return content.indexed_most_active_units(session, backend, since, ACTIVE_UNITS)
    except SearchBackendError as exc:  # the store can count them too, only more slowly
        logger.warning("most active units counted in the store: search backend failed: %s", exc)
        return content.most_active_units(session, since, ACTIVE_UNITS)


@router.get("/", name="home")
def home(
    request: Request, session: SessionDep, backend: BackendDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """Latest city notices, latest from districts and from grassroots units, and this month's most
    active units (a repost of a published original is left out: the original stands for it)."""
    month_start = clock().astimezone(ZoneInfo(settings.timezone))
    month_start = month_start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    translate = get_translator(request)
    return page(
        request,
        "home.html",
        {
            "city_items": content.latest_approved(session, HOME_ITEMS, (UnitLevel.CITY.value,)),
            "district_items": content.latest_approved(session, HOME_ITEMS, (UnitLevel.DISTRICT.value,)),
            "grassroots_items": content.latest_approved(session, HOME_ITEMS, GRASSROOTS),
            "active_units": _most_active(session, backend, month_start),
            "meta": page_meta(settings, "/", description=translate("site_tagline")),
        },
    )


@router.get("/search", name="search_page")
def search_page(
    request: Request,
    session: SessionDep,
    backend: BackendDep,
    settings: SettingsDep,
    params: Annotated[SearchParams, Depends(search_params)],
) -> HTMLResponse:
    """Results with highlighted snippets; every filter lives in the URL so results can be shared."""
    meta = page_meta(settings, "/search", params.query_string(cursor=""), noindex=True)
    context: dict[str, object] = {"params": params, "search_query": params.q, "results": None, "meta": meta}
    try:
        results = run_search(session, backend, params, settings.web.page_size, ZoneInfo(settings.timezone))
        context["results"] = results
        context["unit_slugs"] = content.unit_slugs(session, [b.value for b in results.facets.get("unit", [])])
    except BadSearchRequest:  # a stale or edited cursor: start again from the first page
        return page(request, "search.html", {**context, "bad_cursor": True}, status_code=400)
    except SearchUnavailable:
        # The page still renders (header, form, message); only the status tells machines it failed.
        return page(request, "search.html", {**context, "unavailable": True}, status_code=503)
    if params.unit:
        context["filter_unit"] = content.unit_by_slug(session, params.unit)
    return page(request, "search.html", context)


def _related(backend: SearchBackend, item_id: int) -> list[SearchHit]:
    """Notices like this one; none when search is down (the page does not depend on it)."""
    try:
        return backend.related(item_id, RELATED_ITEMS)
    except SearchBackendError as exc:
        logger.warning("related items of %d left out: search backend failed: %s", item_id, exc)
        return []


def _first_image(item: Item) -> str:
    for image in item.images or []:
        url = http_url(
            image if isinstance(image, str) else image.get("url") if isinstance(image, dict) else ""
        )
        if url:
            return url
    return ""


@router.get("/items/{item_id}", name="item_page")
def item_page(
    request: Request, item_id: RowId, session: SessionDep, backend: BackendDep, settings: SettingsDep
) -> HTMLResponse:
    """One approved notice: sanitized content, attachments, dates, unit breadcrumb, reposts, related
    notices, reviewer line."""
    item = content.approved_item(session, item_id)
    if item is None:
        raise HTTPException(status_code=404)
    meta = page_meta(
        settings,
        request.app.url_path_for("item_page", item_id=item.id),
        description=_description(item.summary or item.text),
        og_type="article",
        image=_first_image(item),
        published=item.published_at,
    )
    return page(
        request,
        "item.html",
        {
            "item": item,
            "breadcrumb": content.unit_chain(item.unit),
            "original": content.repost_original(session, item),
            "reposts": content.published_reposts(session, item),
            "first_reviewer": first_reviewer(session, item),  # 初审 of a two-step review
            "related": _related(backend, item.id),
            "meta": meta,
        },
    )


@dataclass(frozen=True, slots=True)
class FeedLinks:
    """One format of a unit's feed, with and without the units below it (absolute URLs)."""

    fmt: str
    label: str
    media_type: str
    subtree: str
    own: str


_FEED_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}


def unit_feed_links(slug: str, base_url: str) -> list[FeedLinks]:
    """RSS, Atom and JSON Feed of a unit, each with and without its subtree (the feeds' canonical URLs)."""
    links = []
    for fmt in FORMATS:
        spec = FeedSpec("unit", fmt, unit=slug)
        links.append(
            FeedLinks(
                fmt,
                _FEED_LABELS[fmt],
                spec.media_type.split(";")[0],
                spec.url(base_url),
                FeedSpec("unit", fmt, unit=slug, subtree=False).url(base_url),
            )
        )
    return links


def _activity(
    backend: SearchBackend, unit_ids: list[int], since: datetime
) -> dict[int, content.Activity] | None:
    """Activity of the units from the index; None (the page leaves it out) when search is down."""
    try:
        return content.indexed_activity(backend, unit_ids, since)
    except SearchBackendError as exc:
        logger.warning("unit activity left out: search backend failed: %s", exc)
        return None


@router.get("/units/{slug}", name="unit_page")
def unit_page(
    request: Request,
    slug: str,
    session: SessionDep,
    backend: BackendDep,
    settings: SettingsDep,
    clock: ClockDep,
    subtree: Annotated[bool, Query(description="Include the notices of the units below.")] = True,
) -> HTMLResponse:
    """A unit: its place in the tree, parent and children with their activity and crawl health, its
    sources, feeds and widget code, and its newest approved notices (± the units below it)."""
    unit = content.unit_by_slug(session, slug)
    if unit is None:
        raise HTTPException(status_code=404)
    children = content.children_of(session, unit)
    family = [unit, *([unit.parent] if unit.parent is not None else []), *children]
    ids = [member.id for member in family]
    path = request.app.url_path_for("unit_page", slug=unit.slug)
    translate = get_translator(request)
    return page(
        request,
        "unit.html",
        {
            "unit": unit,
            "breadcrumb": content.unit_chain(unit),
            "children": children,
            "subtree": subtree,
            "items": content.subtree_approved(session, unit, settings.web.page_size, subtree),
            "activity": _activity(backend, ids, clock() - timedelta(days=ACTIVITY_DAYS)),
            "health": unit_health(session, ids),
            "sources": content.enabled_sources(session, unit),
            "feeds": unit_feed_links(unit.slug, settings.web.base_url),
            "widget": widget_snippets(unit, settings.web.base_url, language=translate.language),
            "meta": page_meta(
                settings,
                path,
                "" if subtree else "subtree=0",
                description=translate("feed_unit_subtree_title", unit=unit.name),
            ),
        },
    )


DirectoryRow = tuple[str, str, str, bool, Markup]


def tree_rows(roots: list[content.TreeNode], links: Links, translate: Translator) -> list[DirectoryRow]:
    """The directory tree in document order as flat rows for ``units_tree.html``: the unit's link, name
    and count label, whether a nested list opens after it, and the closing tags of the lists that end
    with it (a recursive template loop cost ~13 ms of CPU for ~1,600 units)."""
    rows: list[list[Any]] = []

    def walk(nodes: list[content.TreeNode]) -> None:
        for node in nodes:
            opens = bool(node.children)
            rows.append(
                [
                    links.unit(node.unit.slug),
                    node.unit.name,
                    translate("units_count", count=node.total),
                    opens,
                    0,
                ]
            )
            if opens:
                walk(node.children)
                rows[-1][4] += 1  # the last entry of this subtree closes the list it opened

    walk(roots)  # directory_tree holds no cycle: a unit on a parent loop is no root's descendant
    return [
        (href, name, count, opens, Markup("</ul></li>" * closes)) for href, name, count, opens, closes in rows
    ]


def _directory_tree(
    request: Request, session: Session, backend: SearchBackend, now: datetime
) -> RenderedTree:
    """The rendered tree from the app's directory cache, built again when its marker moved."""
    cache: DirectoryCache = request.app.state.directory_cache
    translate = get_translator(request)
    root_path = request.scope.get("root_path", "")
    key = (translate.language, root_path)
    marker: tuple[int, ...] | None
    try:
        marker = (content.indexed_public_total(backend), *content.unit_marker(session))
    except SearchBackendError as exc:  # without the index's total, no marker: built every time
        logger.warning("unit directory not cached: search backend failed: %s", exc)
        marker = None
    if marker is not None and (kept := cache.get(key, marker, now)) is not None:
        return kept
    rows = tree_rows(content.directory_tree(session), Links(root_path), translate)
    fragment = get_templates(request).get_template("units_tree.html").render(rows=rows)
    tree = RenderedTree(Markup(fragment), len(rows))
    if marker is not None:
        cache.put(key, marker, now, tree)
    return tree


@router.get("/units", name="unit_directory")
def unit_directory(
    request: Request, session: SessionDep, backend: BackendDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """Every unit as a tree of nested lists, with published notices per unit and its subtree."""
    tree = _directory_tree(request, session, backend, clock())
    translate = get_translator(request)
    return page(
        request,
        "units.html",
        {
            "tree": tree.html,
            "unit_total": tree.unit_total,
            "meta": page_meta(settings, "/units", description=translate("units_title")),
        },
    )
