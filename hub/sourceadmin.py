"""Staff's administration of sources (issue 6): list, create, edit, enable or disable, test, discover.

One service for the staff pages (``api/routes/staff_sources_ui.py``), the JSON API
(``api/routes/sources_api.py``) and the command line (``cli/sources_cmd.py``). What a source may be is
the registry's rule (``hub/registry/rows.py`` ``SourceRow``: kinds, http(s) URLs, accounts given as
platform + id, column sizes), so a source saved here is one an import would accept. Two checks come on
top, because a form names one source where a file names them all: the URL must not be another
source's (by canonical URL), and selectors must compile (``crawlers/htmltree.py``, the crawl's own
compiler), since a bad one would silently match nothing. Test and discover run the crawler's reading
(``crawlers/preview.py``, ``crawlers/discover.py``) and store nothing. The caller commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crawlers.htmltree import compiled_selector
from hub.accounturl import ACCOUNT_URL_PREFIX
from hub.canonical import canonical_url, guid_policy
from hub.fulltextmode import FULL_TEXT_KEY
from hub.models import HealthStatus, Source, SourceHealth, Unit
from hub.registry.rows import SourceRow, check_http_url
from hub.secreturl import unmasked_url
from hub.settings import Settings

if TYPE_CHECKING:  # the fetching code loads only when a test or discovery runs
    from crawlers.discover import Discovery
    from crawlers.preview import Preview

logger = logging.getLogger(__name__)

# Selectors of list pages and articles (crawlers/listpage.py, crawlers/extract.py), CSS or XPath.
SELECTOR_KEYS = ("item", "link", "title", "date", "body", "next")
GUID_KEY = "guid"  # the GUID policy lives with the selectors (hub/canonical.py guid_policy)
# The fields of a source staff edit, as SourceRow names them (account: the store's account_id).
FIELDS = ("name", "kind", "url", "platform", "account", "category", "selectors", "auto_approve")
MIN_INTERVAL_S = 60
MAX_INTERVAL_S = 90 * 24 * 3600
PAUSED = "paused"  # a list filter beside the health statuses: paused after failing too long
STATUSES = (*(status.value for status in HealthStatus), PAUSED)
MAX_TEST_ITEMS = 20


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with a submitted source, and the field it is about."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidSource(ValueError):
    """A source was refused; ``problems`` lists everything wrong with it. Nothing was written."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


class NoSuchSource(LookupError):
    """No source has that id."""


class NoSuchUnit(LookupError):
    """No unit has that slug."""


@dataclass(slots=True)
class SourceFilter:
    """What a source list shows: a unit (with the units below, unless ``below`` is off), a kind,
    enabled or not, a status (health status or ``paused``), and text in the name or URL."""

    unit: str | None = None
    below: bool = True
    kind: str | None = None
    enabled: bool | None = None
    status: str | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class ListedSource:
    """A row of a source list: the source, its unit and its health status (unknown until assessed)."""

    source: Source
    unit: Unit
    status: str


@dataclass(slots=True)
class SourceList:
    """One page of a source list and how many rows match in all."""

    rows: list[ListedSource]
    total: int


@dataclass(slots=True)
class DiscoveredSources:
    """What discovery proposes for a homepage, with the proposals already registered (URL -> id)."""

    discovery: Discovery
    registered: dict[str, int] = field(default_factory=dict)


def find_unit(session: Session, slug: str) -> Unit:
    """The unit with ``slug`` (NoSuchUnit when there is none)."""
    unit = None if "\x00" in slug else session.scalar(select(Unit).where(Unit.slug == slug))
    if unit is None:
        raise NoSuchUnit(f"no unit {slug!r}")
    return unit


def get_source(session: Session, source_id: int) -> Source:
    """The source with ``source_id`` (NoSuchSource when there is none)."""
    source = session.get(Source, source_id)
    if source is None:
        raise NoSuchSource(f"no source {source_id}")
    return source


def list_sources(
    session: Session, filters: SourceFilter, offset: int = 0, limit: int | None = None
) -> SourceList:
    """Sources matching ``filters`` in tree order (unit path, then id), ``limit`` of them from
    ``offset``; NoSuchUnit when the unit filter names none."""
    status = func.coalesce(SourceHealth.status, HealthStatus.UNKNOWN.value)
    query = (
        select(Source, Unit, status)
        .join(Unit, Source.unit_id == Unit.id)
        .outerjoin(SourceHealth, SourceHealth.source_id == Source.id)
    )
    if filters.unit:
        unit = find_unit(session, filters.unit)
        query = query.where(
            Unit.path.startswith(unit.path, autoescape=True) if filters.below else Unit.id == unit.id
        )
    if filters.kind:
        query = query.where(Source.kind == filters.kind)
    if filters.enabled is not None:
        query = query.where(Source.enabled.is_(filters.enabled))
    if filters.status == PAUSED:
        query = query.where(Source.paused_at.is_not(None))
    elif filters.status:
        query = query.where(status == filters.status)
    if filters.q:
        needle = filters.q.replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
        query = query.where(
            or_(Source.name.contains(needle, autoescape=True), Source.url.contains(needle, autoescape=True))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Unit.path, Source.id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    rows = [ListedSource(source, unit, str(state)) for source, unit, state in session.execute(page)]
    return SourceList(rows, total)


def source_fields(source: Source) -> dict[str, Any]:
    """The editable fields of ``source`` as SourceRow takes them. An account stored as
    ``bridge://platform/id`` is given by platform and account, so editing either moves the URL."""
    fields: dict[str, Any] = {
        "name": source.name,
        "kind": source.kind,
        "url": "" if source.url.startswith(ACCOUNT_URL_PREFIX) else source.url,
        "platform": source.platform,
        "account": source.account_id,
        "category": source.category,
        "selectors": dict(source.selectors or {}),
        "auto_approve": source.auto_approve,
    }
    return fields


def _pydantic_problems(error: ValidationError) -> list[FieldProblem]:
    problems = []
    for detail in error.errors():
        # Model-level rules (an account's URL or platform + id) concern the URL.
        name = str(detail["loc"][0]) if detail["loc"] else "url"
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(FieldProblem(name, message))
    return problems


def _selector_problems(selectors: Mapping[str, str]) -> list[FieldProblem]:
    problems = []
    for key, value in selectors.items():
        if key == GUID_KEY:
            try:
                guid_policy(selectors)
            except ValueError as exc:
                problems.append(FieldProblem("selectors", f"{GUID_KEY}: {exc}"))
        elif key == FULL_TEXT_KEY:
            continue  # an option, checked by SourceRow (hub/fulltextmode.py)
        elif value and compiled_selector(value) is None:
            problems.append(FieldProblem("selectors", f"{key}: not a valid CSS selector or XPath: {value!r}"))
    return problems


def _clean_selectors(value: Any) -> Any:
    """Selectors with the empty ones left out (a form sends every field); other values as given."""
    if not isinstance(value, Mapping):
        return value
    return {str(key): str(text).strip() for key, text in value.items() if str(text or "").strip()}


def source_row(changes: Mapping[str, Any], source: Source | None = None) -> SourceRow:
    """``source``'s fields (none for a new source) with ``changes`` applied, validated as a registry row
    would be, its selectors compiled. InvalidSource lists every problem."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidSource([FieldProblem(name, "not a field of a source") for name in unknown])
    data = source_fields(source) if source is not None else {}
    data.update(changes)
    if source is not None and isinstance(changes.get("url"), str):
        # Pages and the API show a stored URL with its secrets masked (hub/secreturl.py): sent back as
        # shown, it means the stored one.
        data["url"] = unmasked_url(changes["url"], source.url)
    if "selectors" in data:
        data["selectors"] = _clean_selectors(data["selectors"])
    for name in ("platform", "account", "category"):
        if isinstance(data.get(name), str) and not data[name].strip():
            data[name] = None  # a blank form field means none
    try:
        row = SourceRow.model_validate(data)
    except ValidationError as error:
        raise InvalidSource(_pydantic_problems(error)) from error
    problems = _selector_problems(row.selectors) + _nul_problems(row)
    if problems:
        raise InvalidSource(problems)
    return row


def _nul_problems(row: SourceRow) -> list[FieldProblem]:
    # PostgreSQL refuses NUL in text (a 500 mid-request); SQLite would keep it.
    texts = {name: getattr(row, name) for name in ("name", "url", "platform", "account", "category")}
    texts |= {"selectors": " ".join([*row.selectors, *row.selectors.values()])}
    return [
        FieldProblem(name, "contains a NUL character")
        for name, text in texts.items()
        if text and "\x00" in text
    ]


def check_source(session: Session, changes: Mapping[str, Any], source: Source | None = None) -> SourceRow:
    """``source_row``, and the URL is no other source's (by canonical URL)."""
    row = source_row(changes, source)
    problems = _url_problems(session, row.url, source.id if source is not None else None)
    if problems:
        raise InvalidSource(problems)
    return row


def _url_problems(session: Session, url: str, own_id: int | None) -> list[FieldProblem]:
    wanted = canonical_url(url)
    query = select(Source.id, Source.url, Unit.slug).join(Unit, Unit.id == Source.unit_id)
    host = urlsplit(url).hostname
    if host and host.isascii():  # only sources on that host can be the same page (SQL lower() is ASCII)
        query = query.where(func.lower(Source.url).contains(host, autoescape=True))
    for other_id, other_url, unit_slug in session.execute(query):
        if other_id != own_id and canonical_url(other_url) == wanted:
            return [FieldProblem("url", f"already registered as source {other_id} of unit {unit_slug!r}")]
    return []


def check_interval(value: int) -> int:
    """``value`` if it is a sensible check interval in seconds, else InvalidSource."""
    if not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        message = f"must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S} seconds"
        raise InvalidSource([FieldProblem("check_interval_s", message)])
    return value


def _write(source: Source, row: SourceRow) -> list[str]:
    """Set ``row`` on ``source``; the names of the columns that changed."""
    values = {
        "name": row.name,
        "kind": row.kind,
        "url": row.url,
        "platform": row.platform,
        "account_id": row.account,
        "category": row.category,
        "selectors": dict(row.selectors),
        "auto_approve": row.auto_approve,
    }
    changed = [name for name, value in values.items() if getattr(source, name) != value]
    for name in changed:
        setattr(source, name, values[name])
    if "url" in changed:
        # The validators and the redirect count were the old address's.
        source.etag = source.last_modified = source.moved_to_url = None
        source.moved_count = 0
    if changed:
        # Read another way (selectors, options, kind, address): the same answer must be parsed again.
        source.body_hash = None
    return changed


def create_source(
    session: Session,
    settings: Settings,
    unit_slug: str,
    fields: Mapping[str, Any],
    actor: str,
    interval_s: int | None = None,
) -> Source:
    """A new, enabled source of the unit ``unit_slug``, due at the next tick (never checked yet)."""
    problems: list[FieldProblem] = []
    try:
        unit = find_unit(session, unit_slug.strip())
    except NoSuchUnit as exc:
        problems.append(FieldProblem("unit", str(exc)))
    try:
        row = check_source(session, fields)
    except InvalidSource as exc:
        problems += exc.problems
    try:
        interval = check_interval(interval_s if interval_s is not None else settings.crawl.default_interval_s)
    except InvalidSource as exc:
        problems += exc.problems
    if problems:
        raise InvalidSource(problems)
    source = Source(unit_id=unit.id, enabled=True, check_interval_s=interval, selectors={})
    _write(source, row)
    session.add(source)
    session.flush()
    logger.info("source %s (%s %s) added to unit %s by %s", source.id, row.kind, row.url, unit.slug, actor)
    return source


def update_source(
    session: Session,
    source: Source,
    changes: Mapping[str, Any],
    actor: str,
    *,
    enabled: bool | None = None,
    interval_s: int | None = None,
) -> list[str]:
    """Apply ``changes`` (FIELDS), ``enabled`` and ``interval_s`` to ``source``; the changed names."""
    row = check_source(session, changes, source)
    if interval_s is not None:
        check_interval(interval_s)
    changed = _write(source, row)
    if enabled is not None and enabled != source.enabled:
        source.enabled = enabled
        changed.append("enabled")
    if interval_s is not None and interval_s != source.check_interval_s:
        source.check_interval_s = interval_s
        changed.append("check_interval_s")
    session.flush()
    if changed:
        logger.info("source %s changed by %s: %s", source.id, actor, ", ".join(changed))
    return changed


def draft(source: Source, row: SourceRow) -> Source:
    """A detached copy of ``source`` with ``row``'s fields, for a test; never added to a session."""
    copy = Source(id=source.id, unit_id=source.unit_id, enabled=source.enabled)
    _write(copy, row)
    return copy


def source_test(
    settings: Settings,
    source: Source,
    changes: Mapping[str, Any] | None = None,
    limit: int = 10,
) -> Preview:
    """What ``source`` — with ``changes`` (edited selectors, URL...) if given — yields right now, read as
    a crawl would; nothing is stored. InvalidSource when the changes are not a valid source."""
    from crawlers.preview import preview_source  # fetching code loads only when a test runs

    row = source_row(changes or {}, source)
    return preview_source(settings, draft(source, row), limit=max(1, min(limit, MAX_TEST_ITEMS)))


def new_source_test(settings: Settings, fields: Mapping[str, Any], limit: int = 10) -> Preview:
    """What a source not yet added would yield (the add form's test); nothing is stored."""
    from crawlers.preview import preview_source

    row = source_row(fields)
    probe = Source(id=0, unit_id=0, enabled=True)
    _write(probe, row)
    return preview_source(settings, probe, limit=max(1, min(limit, MAX_TEST_ITEMS)))


def discover_sources(session: Session, settings: Settings, homepage: str) -> DiscoveredSources:
    """Feeds, sitemaps and list pages ``homepage`` offers, with previews, and which of them are already
    registered; nothing is stored. InvalidSource when ``homepage`` is not an http(s) URL."""
    from crawlers.discover import discover  # fetching code loads only when a discovery runs

    try:
        url = check_http_url(homepage)
        if "\x00" in url:
            raise ValueError("the URL contains a NUL character")
    except ValueError as exc:
        raise InvalidSource([FieldProblem("url", str(exc))]) from exc
    found = discover(settings, url)
    wanted = {canonical_url(proposal.url): proposal.url for proposal in found.proposals}
    registered = {
        wanted[key]: source_id
        for source_id, source_url in session.execute(select(Source.id, Source.url))
        if (key := canonical_url(source_url)) in wanted
    }
    return DiscoveredSources(found, registered)


def proposal_fields(kind: str, url: str, name: str) -> dict[str, str]:
    """The add form's fields for a discovered proposal (a blank name becomes the URL; cut to the column)."""
    return {"kind": kind, "url": url, "name": (name.strip() or url)[:200]}
