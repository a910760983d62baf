"""Staff actions on sources under /api/v1/staff/sources (docs/architecture.md steps 3 and 8).

``POST /api/v1/staff/sources/{id}/crawl-now``: the source becomes due at once and its pause is lifted
(``hub/schedule/crawlnow.py``); the worker crawls it at its next tick. Admins and moderators may (a
moderator within its unit subtree); viewers may not (``api/auth.py`` refuses their writes). A session
cookie needs its CSRF token, and a write another site could have sent is refused
(``api/crossorigin.py``). Errors: 404 no source, 403 not allowed, 409 the source is disabled.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from api.auth import StaffAuthDep
from api.clock import ClockDep
from api.crossorigin import refuse_cross_site_writes
from api.deps import SessionDep, SettingsDep
from api.params import RowId
from api.strictquery import refuse_unknown_query
from hub.models import Role, Source
from hub.schedule.crawlnow import crawl_now
from hub.schedule.hooks import status_hooks
from moderation.permissions import in_scope

router = APIRouter(
    prefix="/api/v1/staff/sources",
    tags=["staff"],
    dependencies=[Depends(refuse_cross_site_writes), Depends(refuse_unknown_query)],
)
MAY_CRAWL_NOW = frozenset({Role.ADMIN.value, Role.MODERATOR.value})


class CrawlNowOut(BaseModel):
    """What "crawl now" did."""

    source_id: int
    next_check_at: datetime | None  # now, unless a worker is crawling the source at this moment
    resumed: bool  # the source was paused
    being_crawled: bool  # a worker holds it now; it is crawled again right after


@router.post("/{source_id}/crawl-now", response_model=CrawlNowOut)
def crawl_now_route(
    source_id: RowId, auth: StaffAuthDep, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> CrawlNowOut:
    """Crawl the source at the worker's next tick and lift its pause."""
    user = auth.user
    if user.role not in MAY_CRAWL_NOW:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{user.username!r} ({user.role}) may not crawl sources"
        )
    source = session.get(Source, source_id)
    if source is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no source {source_id}")
    if not in_scope(session, user, source.unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the source is outside your units")
    if not source.enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, "the source is disabled")
    (done,) = crawl_now(session, [source_id], user.username, clock(), status_hooks(settings))
    return CrawlNowOut(
        source_id=source_id,
        next_check_at=source.next_check_at,
        resumed=done.resumed,
        being_crawled=done.leased,
    )


# What "crawl now" from a staff page did: the word its redirect carries (?crawl=...).
CRAWL_OUTCOMES = frozenset({"queued", "being_crawled", "refused", "disabled"})


def crawl_now_outcome(
    source_id: int, auth: StaffAuthDep, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> str:
    """``crawl_now_route`` for a page's form: one of ``CRAWL_OUTCOMES`` (a missing source stays a 404)."""
    try:
        done = crawl_now_route(source_id, auth, session, settings, clock)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        return "disabled" if exc.status_code == status.HTTP_409_CONFLICT else "refused"
    return "being_crawled" if done.being_crawled else "queued"
