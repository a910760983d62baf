"""Staff moderation pages under /staff (docs/architecture.md step 8): the queue and the review screen.

Server-rendered views of the staff JSON API (``routes/moderation_api.py``): the pages call the same
route functions, so filters, unit scope and errors are exactly the API's. Decisions, claims and bulk
actions are made by ``static/staff.js`` with fetch() to that API, pinned to the version and content
hash shown on the page (a stale decision is a 409 there). Every page needs staff HTTP Basic auth and
is marked private and not cacheable: pending content never reaches the public or a shared cache.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Staff
from api.deps import SessionDep, SettingsDep, get_translator
from api.moderation_schemas import ReasonOut
from api.params import HoursQuery, RowId, RowIdQuery
from api.rendering import render
from api.routes.moderation_api import moderation_queue, reasons, review_item
from api.staff_script_i18n import script_messages
from api.staff_view import duplicate_of, format_age, highlight, hit_labels, hit_place
from hub.models import Item, ItemState, ScreeningHit, Unit, User
from moderation.permissions import DECIDING_ROLES

router = APIRouter(prefix="/staff", tags=["staff"], default_response_class=HTMLResponse)

PAGE_SIZE = 50
MAX_UNIT_OPTIONS = 1000  # a select beyond this is unusable; deeper units are reached from their parent
API_BASE = "/api/v1/moderation"


def _page(request: Request, template: str, context: dict[str, object]) -> HTMLResponse:
    """Render a staff page that no cache keeps and no robot indexes."""
    translator = get_translator(request)
    response = render(
        request,
        template,
        {
            "api_base": API_BASE,
            "age": lambda seconds: format_age(seconds, translator),
            "state_labels": {state: translator.label("staff_state", state) for state in ItemState},
            "script_messages": script_messages(translator),
            **context,
        },
    )
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _units_in_scope(session: Session, user: User) -> list[Unit]:
    """Units the user may filter on: its scope subtree (every unit if unscoped), tree order."""
    query = select(Unit).order_by(Unit.path).limit(MAX_UNIT_OPTIONS)
    if user.unit_scope_id is not None:
        root = session.get(Unit, user.unit_scope_id)
        if root is not None:
            query = query.where(Unit.path.startswith(root.path))
    return list(session.scalars(query))


def _categories(session: Session) -> list[str]:
    query = select(Item.category).where(Item.category.is_not(None)).distinct().order_by(Item.category)
    return [category for category in session.scalars(query) if category]


def _hit_categories(session: Session) -> list[str]:
    query = select(ScreeningHit.category).distinct().order_by(ScreeningHit.category)
    return list(session.scalars(query))


def _reasons(settings: SettingsDep, user: User) -> list[ReasonOut]:
    return reasons(settings, user, action=None)


@router.get("", name="staff_home", include_in_schema=False)
def staff_home(request: Request) -> RedirectResponse:
    """The queue is the staff start page."""
    return RedirectResponse(request.url_for("staff_queue").path, status_code=303)


@router.get("/queue", name="staff_queue")
def queue_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    state: str = "pending",
    unit: RowIdQuery = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    hit_category: Annotated[str | None, Query(max_length=40)] = None,
    min_risk: Annotated[float | None, Query(ge=0)] = None,
    older_than_h: HoursQuery = None,
    overdue: bool = False,
    claim: Literal["free", "mine", "others"] | None = None,
    order: Literal["risk", "age"] = "risk",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The queue: riskiest first, age and claim holder shown, overdue items flagged; filters in the URL."""
    filters = {
        "state": state,
        "unit": unit,
        "category": category or None,
        "hit_category": hit_category or None,
        "min_risk": min_risk,
        "older_than_h": older_than_h,
        "overdue": overdue,
        "claim": claim,
        "order": order,
    }
    listing = moderation_queue(
        session,
        settings,
        user,
        state=state,
        unit=unit,
        category=category or None,
        hit_category=hit_category or None,
        min_risk=min_risk,
        older_than_h=older_than_h,
        overdue=overdue,
        claim=claim,
        order=order,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    kept = {key: value for key, value in filters.items() if value not in (None, False, "")}
    pages = max(1, -(-listing.total // PAGE_SIZE))
    return _page(
        request,
        "staff/queue.html",
        {
            "user": user,
            "can_decide": user.role in DECIDING_ROLES,
            "queue": listing,
            "filters": filters,
            "states": [value.value for value in ItemState],
            "units": _units_in_scope(session, user),
            "categories": _categories(session),
            "hit_categories": _hit_categories(session),
            "reasons": _reasons(settings, user),
            "page": page,
            "pages": pages,
            "prev_query": urlencode({**kept, "page": page - 1}) if page > 1 else None,
            "next_query": urlencode({**kept, "page": page + 1}) if page < pages else None,
        },
    )


@router.get("/items/{item_id}", name="staff_item")
def item_page(
    request: Request, item_id: RowId, session: SessionDep, settings: SettingsDep, user: Staff
) -> HTMLResponse:
    """One item under review: text with hits marked in place, diff against the live revision, trail."""
    view = review_item(item_id, session, settings, user)
    revision = view.revision
    translator = get_translator(request)
    return _page(
        request,
        "staff/item.html",
        {
            "user": user,
            "can_decide": user.role in DECIDING_ROLES,
            "view": view,
            "title_segments": highlight(revision.title, view.hits, "title") if revision else [],
            "text_segments": highlight(revision.text, view.hits, "text") if revision else [],
            "hit_labels": lambda indexes: hit_labels(view.hits, indexes, translator),
            "hit_place": hit_place,
            "duplicate_of": duplicate_of,
            "reasons": _reasons(settings, user),
        },
    )
